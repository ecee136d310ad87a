"""compose.keys: every key of the Compose Specification is honoured, refused or ignored.

The schema is the specification's own (tests/data/conformance/compose-spec.json); the table
must name each of its keys and no other, docs/compose-keys.md must be what the table gives,
and a refused key or value in a stack file is an error at its file:line:column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compose.errors import UnsupportedKeyError
from compose.keys.checks import check_keys
from compose.keys.document import DOC_PATH, render
from compose.keys.table import KEYS, Status
from compose.load_text import load_from_text

SPEC = Path(__file__).resolve().parents[1] / "data" / "conformance" / "compose-spec.json"


def schema_keys() -> set[str]:
    """Every property path of the specification's schema (``*`` a name, ``[]`` an item)."""
    schema = json.loads(SPEC.read_text())
    definitions = schema["definitions"]
    found: set[str] = set()
    stack: list[tuple[Any, str, int]] = [(schema, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        hops = 0
        while isinstance(node, dict) and "$ref" in node and hops < 10:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
            hops += 1
        if not isinstance(node, dict) or depth > 12:
            continue
        for branch_key in ("oneOf", "anyOf", "allOf"):
            stack.extend((branch, path, depth + 1) for branch in node.get(branch_key, []))
        for name, sub in node.get("properties", {}).items():
            child = f"{path}.{name}" if path else name
            found.add(child)
            stack.append((sub, child, depth + 1))
        for pattern, sub in node.get("patternProperties", {}).items():
            if not pattern.startswith("^x-"):
                stack.append((sub, f"{path}.*", depth + 1))
        if isinstance(node.get("additionalProperties"), dict):
            stack.append((node["additionalProperties"], f"{path}.*", depth + 1))
        if "items" in node:
            stack.append((node["items"], f"{path}[]", depth + 1))
    return found


def test_every_key_of_the_specification_is_in_the_table_and_no_other() -> None:
    keys = schema_keys()
    assert len(keys) > 300
    assert sorted(keys - KEYS.keys()) == [], (
        "keys of the schema missing from compose.keys.table.KEYS"
    )
    assert sorted(KEYS.keys() - keys) == [], "keys in compose.keys.table.KEYS that the schema lacks"


def test_every_refused_or_ignored_key_says_why() -> None:
    for key, entry in KEYS.items():
        assert entry.why.strip(), key
    assert {entry.status for entry in KEYS.values()} == set(Status)


def test_the_document_is_generated_from_the_table() -> None:
    assert DOC_PATH.read_text() == render(), "run: python -m compose.keys"
    text = render()
    for key in KEYS:
        assert f"| `{key}` |" in text


def _load(text: str) -> Any:
    return load_from_text(text).tree


def test_a_refused_key_is_an_error_at_its_place() -> None:
    tree = _load(
        "services:\n"
        "  app:\n"
        "    image: busybox\n"
        "    isolation: hyperv\n"
        "    gpus: [{driver: nvidia, count: 1}]\n"
        "    storage_opt: {size: 1G}\n"
    )
    with pytest.raises(UnsupportedKeyError) as caught:
        check_keys(tree)
    text = caught.value.render()
    assert "compose.yaml:4:5: services.app.isolation: not supported by pycompose" in text
    assert "compose.yaml:6:5: services.app.storage_opt: not supported" in text
    assert "compose.yaml:5:5: services.app.gpus: not supported" in text
    assert text.count("not supported") == 3  # not the parts of gpus again


@pytest.mark.parametrize(
    ("snippet", "where", "words"),
    [
        ("logging: {driver: syslog}", "compose.yaml:4:23", "logging driver 'syslog'"),
        ("runtime: kata", "compose.yaml:4:14", "runtime 'kata'"),
        ("userns_mode: 'ns:x'", "compose.yaml:4:18", "userns_mode 'ns:x'"),
        ("pull_policy: every_5m3", "compose.yaml:4:18", "pull_policy 'every_5m3'"),
    ],
)
def test_a_refused_value_of_an_honoured_key_is_an_error_at_its_place(
    snippet: str, where: str, words: str
) -> None:
    tree = _load(f"services:\n  app:\n    image: busybox\n    {snippet}\n")
    with pytest.raises(UnsupportedKeyError) as caught:
        check_keys(tree)
    assert where in caught.value.render()
    assert words in caught.value.render()


def test_ignored_keys_warn_and_honoured_keys_pass() -> None:
    tree = _load(
        "services:\n"
        "  app:\n"
        "    image: busybox\n"
        "    logging: {driver: local, options: {max-size: 1m}}\n"
        "    runtime: runc\n"
        "    deploy:\n"
        "      placement: {constraints: [node.role==manager]}\n"
        "      resources: {limits: {pids: 10}, reservations: {memory: 8m}}\n"
        "    x-anything: {gpus: all}\n"
        "x-top: {storage_opt: 1}\n"
    )
    warnings = check_keys(tree)
    assert len(warnings) == 1, warnings  # placement, not its constraints again
    assert warnings[0].startswith("/project/compose.yaml:7:7: services.app.deploy.placement")
    assert "swarm" in warnings[0]
