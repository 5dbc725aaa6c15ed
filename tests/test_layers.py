"""The package's layers point one way: a module imports only its own layer and those below it.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy import is still a
dependency. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "avvp_pipeline"

# lowest first; a module belongs to the layer of the longest prefix that names it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "core",
        (
            "avvp_pipeline",
            "avvp_pipeline.fileio",
            "avvp_pipeline.torch_files",
            "avvp_pipeline.device",
            "avvp_pipeline.fetch",
            "avvp_pipeline.data.llp",
            "avvp_pipeline.data.datasets",
        ),
    ),
    ("media", ("avvp_pipeline.media",)),
    ("features", ("avvp_pipeline.features",)),
    ("data", ("avvp_pipeline.data",)),
    ("teachers", ("avvp_pipeline.teachers",)),
    ("models", ("avvp_pipeline.models",)),
    ("inference", ("avvp_pipeline.inference",)),
    ("evaluation", ("avvp_pipeline.evaluation",)),
    ("training", ("avvp_pipeline.training",)),
    ("reporting", ("avvp_pipeline.reporting",)),
    ("parse", ("avvp_pipeline.parse",)),
    (
        "applications",
        (
            "avvp_pipeline.bench",
            "avvp_pipeline.plan",
            "avvp_pipeline.plan_manifests",
            "avvp_pipeline.plan_results_dir",
            "avvp_pipeline.train_plan",
            "avvp_pipeline.stage_plan",
            "avvp_pipeline.dataset_plan",
            "avvp_pipeline.config_schema",
            "avvp_pipeline.results_lock",
            "avvp_pipeline.provenance",
            "avvp_pipeline.releases",
            "avvp_pipeline.named_models",
        ),
    ),
    ("cli", ("avvp_pipeline.cli", "avvp_pipeline.__main__")),  # the top: avvp_pipeline/cli/, one module per audience
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """The package's modules that ``path`` imports (relative imports resolved; ``from X import name``
    counts as X.name when that is a module, else X)."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    modules = {module_name(p, root) for p in root.rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == root.name}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == root.name:
                target = node.module
            else:
                continue
            for a in node.names:
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)
    return found - {me}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"module {module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return rank


def upward_imports(root: Path) -> list[str]:
    """``A (layer) imports B (higher layer)`` for every import that points up."""
    out = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        for dep in sorted(imports_of(path, root)):
            if layer_of(dep) > layer_of(me):
                out.append(f"{me} ({LAYERS[layer_of(me)][0]}) imports {dep} ({LAYERS[layer_of(dep)][0]})")
    return out


def import_cycles(root: Path) -> list[list[str]]:
    """Cycles in the module import graph (each found once, from its smallest module)."""
    graph = {module_name(p, root): imports_of(p, root) for p in root.rglob("*.py")}
    cycles = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                cycles.append(path + [start])
            elif nxt > start and nxt not in path and nxt in graph:
                walk(start, nxt, path + [nxt])

    for m in sorted(graph):
        walk(m, m, [m])
    return cycles


def test_no_module_imports_a_higher_layer():
    assert upward_imports(PACKAGE) == []


def test_the_cli_package_is_the_top_layer():
    cli = sorted(module_name(p, PACKAGE) for p in (PACKAGE / "cli").glob("*.py"))
    assert "avvp_pipeline.cli.stages" in cli and {layer_of(m) for m in cli} == {len(LAYERS) - 1}


def test_no_import_cycles_between_modules():
    assert import_cycles(PACKAGE) == []


def test_the_check_catches_an_upward_and_a_lazy_import(tmp_path):
    copy = tmp_path / "avvp_pipeline"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert upward_imports(copy) == []
    store = copy / "features" / "store.py"
    store.write_text(store.read_text() + "\n\ndef _late():\n    from ..training import trainer\n")
    metrics = copy / "evaluation" / "metrics.py"
    metrics.write_text("from avvp_pipeline.cli.stages import train\n" + metrics.read_text())
    found = upward_imports(copy)
    assert found == [
        "avvp_pipeline.evaluation.metrics (evaluation) imports avvp_pipeline.cli.stages (cli)",
        "avvp_pipeline.features.store (features) imports avvp_pipeline.training.trainer (training)",
    ]


def test_the_check_catches_a_cycle(tmp_path):
    copy = tmp_path / "avvp_pipeline"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    mmil = copy / "models" / "mmil.py"
    mmil.write_text(mmil.read_text() + "\n\ndef _late():\n    from . import han\n")
    assert import_cycles(copy) == [
        [
            "avvp_pipeline.models.han",
            "avvp_pipeline.models.skeleton",
            "avvp_pipeline.models.mmil",
            "avvp_pipeline.models.han",
        ]
    ]


def defined_names(path: Path) -> set[str]:
    """The names a module itself defines at its top level (functions, classes, assignments)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def second_doors(root: Path, users: list[Path]) -> list[str]:
    """Names taken from a module that only imports them (``__all__`` entries or ``from X import name``
    in ``users``): each name has one door, the module that defines it."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    found = []
    for name, path in modules.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                found += [
                    f"{name}.__all__ lists {e.value}" for e in node.value.elts if e.value not in defined_names(path)
                ]
    for user in users:
        me = module_name(user, root) if user.is_relative_to(root) else ""
        package = me if user.name == "__init__.py" else me.rpartition(".")[0]
        for node in ast.walk(ast.parse(user.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith(root.name)):
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target not in modules:
                continue
            defined = defined_names(modules[target])
            found += [
                f"{user.name}:{node.lineno} imports {a.name} from {target}"
                for a in node.names
                if a.name not in defined and f"{target}.{a.name}" not in modules
            ]
    return found


def test_each_name_is_imported_from_the_module_that_defines_it():
    tests = Path(__file__).resolve().parent
    assert second_doors(PACKAGE, sorted(PACKAGE.rglob("*.py")) + sorted(tests.glob("*.py"))) == []
