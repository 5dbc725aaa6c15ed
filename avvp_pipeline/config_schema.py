"""The workflow's config against its JSON schema (workflow/schemas/config.schema.yaml).

Snakemake reads a nested ``--config key='{...}'`` value with YAML's BaseLoader, so every number and
boolean in it arrives as text (``seeds: [1, 2]`` gives ``['1', '2']``). :func:`prepare_config` converts
such text wherever the schema asks for a number, an integer, a boolean or null, then checks the config and
names the first problem in one line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from .plan import PlanError
from .train_plan import refuse_moved_options

_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_NULLS = ("null", "Null", "NULL", "~")
_INTEGER = re.compile(r"[-+]?[0-9]+")


def load_schema(path: str | Path) -> dict:
    """The schema file as a dict."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _resolve(schema: dict, root: dict) -> dict:
    """``schema`` with a local ``$ref`` (``#/$defs/NAME``) followed."""
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def _types(schema: dict) -> set[str]:
    """The JSON types ``schema`` accepts, counting those of its ``enum`` / ``const`` members."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    members = list(schema.get("enum", [])) + ([schema["const"]] if "const" in schema else [])
    for m in members:
        if isinstance(m, bool):
            types.add("boolean")
        elif isinstance(m, int):
            types.add("integer")
        elif isinstance(m, float):
            types.add("number")
        elif isinstance(m, str):
            types.add("string")
    return types


def _scalar(value, schema: dict):
    """``value`` as the type the schema asks for, where it is text (or a number where text is asked for)."""
    types = _types(schema)
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and types == {"string"}:
            return str(value)  # `--config results_dir=2024`
        return value
    if "null" in types and value in _NULLS:
        return None
    if "string" in types or not types:
        return value
    if "boolean" in types and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    if types & {"integer", "number"} and _INTEGER.fullmatch(value):
        return int(value)
    if "number" in types:
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def coerce(value, schema: dict, root: dict):
    """``value`` with its text converted wherever ``schema`` (within ``root``, for ``$ref``) asks for a
    number, an integer, a boolean or null; anything else is returned unchanged."""
    schema = _resolve(schema, root)
    for alternatives in (schema.get("oneOf"), schema.get("anyOf")):
        for alt in alternatives or []:
            converted = coerce(value, alt, root)
            if converted != value or type(converted) is not type(value):
                return converted
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {k: coerce(v, props.get(k, extra), root) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce(v, schema.get("items", {}), root) for v in value]
    return _scalar(value, schema)


def _where(path) -> str:
    """``train.seeds[0]`` for the path ``['train', 'seeds', 0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the config"


def check(config: dict, schema: dict) -> None:
    """PlanError naming the first key of ``config`` the schema refuses, and why, in one line."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        hint = error.schema.get("description") if error.schema is not schema else None
        raise PlanError(f"config {_where(error.absolute_path)}: {error.message}" + (f" ({hint})" if hint else ""))


# `--config` takes no nested keys: `annotations_dir=DIR` is short for dataset.annotations_dir, and so on
SHORTCUTS = {"annotations_dir": "dataset", "videos_dir": "dataset", "released_dir": "features"}


def prepare_config(config: dict, schema: dict) -> None:
    """Expand the :data:`SHORTCUTS`, convert ``config``'s text values in place where the schema asks for
    other types, then check it."""
    for key, section in SHORTCUTS.items():
        if key in config:
            config.setdefault(section, {})[key] = config.pop(key)
    converted = coerce(config, schema, schema)
    config.clear()
    config.update(converted)
    refuse_moved_options(config.get("train") or {})  # a clearer line than the schema's "unexpected key"
    check(config, schema)
