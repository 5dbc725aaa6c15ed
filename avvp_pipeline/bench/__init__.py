"""``avvp bench NAME``: one module per benchmark, each with its own flags (``add_arguments``) and entry
(``main``). Speed ratios are always against a baseline measured in the same run."""

from __future__ import annotations

from . import decode, extract, import_features, lfav_train, metrics, pages, planted, stages, teachers, train, transport

BENCHMARKS = {
    "metrics": metrics,
    "extract": extract,
    "train": train,
    "lfav-train": lfav_train,
    "stages": stages,
    "import": import_features,
    "pages": pages,
    "transport": transport,
    "decode": decode,
    "teachers": teachers,
    "planted": planted,
}


def add_parsers(sub) -> None:
    """One ``avvp bench NAME`` parser per benchmark (its module docstring as help) that runs its ``main``."""
    for name, module in BENCHMARKS.items():
        doc = " ".join(module.__doc__.split("\n\n")[0].split())
        summary = doc.split(": ", 1)[1].split(". ")[0]
        p = sub.add_parser(name, help=summary, description=doc)
        module.add_arguments(p)
        p.set_defaults(bench=module.main)
