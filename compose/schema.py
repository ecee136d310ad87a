"""JSON Schema of the stack file, generated from compose.model (for editors).

``python -m compose.schema`` writes ``schemas/pycompose.schema.json``;
``python -m compose.schema --check`` exits 1 when the committed file is stale
(tests/compose/test_schema.py runs the same check).

The models describe the long syntax. Editors see the files users write, so the
short forms that compose.canonical accepts are added back from one table,
``SHORT_FORMS``, keyed by (model name, field). Every object also accepts
``x-*`` extension keys, as the Compose Specification does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from compose.model import Project

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "pycompose.schema.json"

_STRING: dict[str, Any] = {"type": "string"}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_KEY_VALUES: dict[str, Any] = {"type": "array", "items": {"type": "string"}}

SHORT_FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("Service", "build"): _STRING,
    ("Service", "depends_on"): _STRINGS,
    ("Service", "env_file"): _STRING,
    ("Service", "environment"): _KEY_VALUES,
    ("Service", "labels"): _KEY_VALUES,
    ("Service", "annotations"): _KEY_VALUES,
    ("Service", "sysctls"): _KEY_VALUES,
    ("Service", "networks"): _STRINGS,
    ("Service", "models"): _STRINGS,
    ("Service", "command"): _STRING,
    ("Service", "entrypoint"): _STRING,
    ("Service", "extends"): _STRING,
    ("Service", "extra_hosts"): {"type": "object", "additionalProperties": True},
    ("Service", "gpus"): {"const": "all"},
    ("Build", "args"): _KEY_VALUES,
    ("Build", "labels"): _KEY_VALUES,
    ("Build", "additional_contexts"): _KEY_VALUES,
    ("Build", "extra_hosts"): {"type": "object", "additionalProperties": True},
    ("Deploy", "labels"): _KEY_VALUES,
    ("ServiceHook", "command"): _STRING,
    ("ServiceHook", "environment"): _KEY_VALUES,
    ("Network", "labels"): _KEY_VALUES,
    ("Volume", "labels"): _KEY_VALUES,
    ("Secret", "labels"): _KEY_VALUES,
    ("Config", "labels"): _KEY_VALUES,
    ("Network", "external"): {"type": "object", "properties": {"name": _STRING}},
    ("Volume", "external"): {"type": "object", "properties": {"name": _STRING}},
    ("Secret", "external"): {"type": "object", "properties": {"name": _STRING}},
    ("Config", "external"): {"type": "object", "properties": {"name": _STRING}},
}


SHORT_ITEMS: dict[tuple[str, str], dict[str, Any]] = {
    ("Service", "ports"): {"type": ["string", "integer"]},
    ("Service", "volumes"): _STRING,
    ("Service", "secrets"): _STRING,
    ("Service", "configs"): _STRING,
    ("Service", "devices"): _STRING,
    ("Service", "env_file"): _STRING,
    ("Build", "secrets"): _STRING,
}


def _with_short_items(prop: dict[str, Any], short: dict[str, Any]) -> None:
    """Let the items of a list property also take their short form."""
    branches = prop.get("anyOf", [prop])
    for branch in branches:
        if branch.get("type") == "array" and "items" in branch:
            branch["items"] = {"anyOf": [short, branch["items"]]}


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a stack file as pycompose reads it."""
    schema = Project.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pycompose.dev/schemas/pycompose.schema.json"
    schema["title"] = "pycompose stack file"
    schema["description"] = "A Compose file as pycompose (and docker compose v2) reads it."
    properties = schema.setdefault("properties", {})
    properties.pop("extensions", None)
    properties["version"] = {"type": "string", "description": "Obsolete; ignored."}
    properties["include"] = {
        "type": "array",
        "items": {
            "anyOf": [
                _STRING,
                {
                    "type": "object",
                    "properties": {
                        "path": {"anyOf": [_STRING, _STRINGS]},
                        "project_directory": _STRING,
                        "env_file": {"anyOf": [_STRING, _STRINGS]},
                    },
                    "additionalProperties": False,
                },
            ]
        },
    }
    definitions = schema.get("$defs", {})
    for (model_name, field), short in SHORT_ITEMS.items():
        props = definitions.get(model_name, {}).get("properties", {})
        if field in props:
            _with_short_items(props[field], short)
    for section in ("services", "networks", "volumes", "secrets", "configs", "models"):
        resource = properties.get(section, {})
        if "additionalProperties" in resource:
            resource["additionalProperties"] = {
                "anyOf": [resource["additionalProperties"], {"type": "null"}]
            }
    for (model_name, field), short in SHORT_FORMS.items():
        model_schema = definitions.get(model_name)
        if model_schema is None or field not in model_schema.get("properties", {}):
            continue
        prop = model_schema["properties"][field]
        model_schema["properties"][field] = {
            "anyOf": [short, {key: value for key, value in prop.items() if key != "title"}],
            **({"title": prop["title"]} if "title" in prop else {}),
        }
    for node in [schema, *definitions.values()]:
        if node.get("type") == "object" or "properties" in node:
            node["patternProperties"] = {"^x-": {}}
            node["additionalProperties"] = False
    return schema


def render() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python -m compose.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
