"""Phase 7, compose.merge: the Compose merge rules, table by table.

The unit tests merge trees parsed from YAML in the long (canonical) syntax, as
the loader hands them over; the last tests go through the whole loader with
override files written in short syntax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from compose.errors import Location
from compose.load import LoadResult
from compose.merge import MERGE_RULES, UNIQUE_BY, enforce_unicity, merge_trees
from compose.output import config_dict
from compose.source import MapNode, parse


def merge(base: str, override: str) -> Any:
    return merge_trees(parse(base, "base.yaml"), parse(override, "override.yaml"))


def service(base: str, override: str) -> Any:
    """Merge two definitions of service ``s`` (given as the body of the service)."""
    indent = lambda text: "".join(f"    {line}\n" for line in text.splitlines())  # noqa: E731
    merged = merge(f"services:\n  s:\n{indent(base)}", f"services:\n  s:\n{indent(override)}")
    return merged["services"]["s"]


# --- default rules ---------------------------------------------------------------------------


def test_mappings_are_merged_key_by_key() -> None:
    merged = merge("a: {x: 1, y: 2}\nb: 1\n", "a: {y: 3, z: 4}\nc: 2\n")
    assert merged == {"a": {"x": 1, "y": 3, "z": 4}, "b": 1, "c": 2}


def test_a_scalar_is_replaced_by_the_override() -> None:
    assert service("image: nginx", "image: httpd") == {"image": "httpd"}


def test_a_value_of_another_type_replaces_the_base() -> None:
    assert merge("a: [1]\n", "a: {k: v}\n") == {"a": {"k": "v"}}


def test_sequences_without_a_rule_are_concatenated_keeping_duplicates() -> None:
    assert service("extra_hosts: [a, b]", "extra_hosts: [b, c]") == {
        "extra_hosts": ["a", "b", "b", "c"]
    }


def test_an_empty_override_file_leaves_the_base_untouched() -> None:
    base = parse("a: 1\n", "base.yaml")
    assert merge_trees(base, None) == {"a": 1}


def test_merged_values_remember_which_file_they_came_from() -> None:
    merged = merge(
        "services:\n  s:\n    image: a\n    user: u\n", "services:\n  s:\n    image: b\n"
    )
    node = merged["services"]["s"]
    assert isinstance(node, MapNode)
    assert node.location_of("image") == Location("override.yaml", 3, 12)
    assert node.location_of("user") == Location("base.yaml", 4, 11)


def test_the_base_tree_is_not_modified() -> None:
    base = parse("a: {x: 1}\nl: [1]\n", "base.yaml")
    merge_trees(base, parse("a: {x: 2}\nl: [2]\n", "override.yaml"))
    assert base == {"a": {"x": 1}, "l": [1]}


# --- MERGE_RULES: replaced, not merged -------------------------------------------------------


@pytest.mark.parametrize("field", ["command", "entrypoint"])
def test_command_and_entrypoint_are_replaced_whole(field: str) -> None:
    assert service(f"{field}: [a, b]", f"{field}: [c]") == {field: ["c"]}


def test_healthcheck_test_is_replaced_but_the_rest_of_healthcheck_merges() -> None:
    merged = service(
        "healthcheck: {test: [CMD, a], interval: 10s}", "healthcheck: {test: [CMD, b]}"
    )
    assert merged == {"healthcheck": {"test": ["CMD", "b"], "interval": "10s"}}


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        (
            "{driver: json-file, options: {max-size: 1m}}",
            "{options: {max-file: '3'}}",
            {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}},
        ),
        (
            "{driver: json-file, options: {max-size: 1m}}",
            "{driver: json-file, options: {max-file: '3'}}",
            {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}},
        ),
        (
            "{driver: json-file, options: {max-size: 1m}}",
            "{driver: syslog, options: {tag: x}}",
            {"driver": "syslog", "options": {"tag": "x"}},
        ),
    ],
    ids=["no-driver", "same-driver", "other-driver"],
)
def test_logging_options_merge_only_for_the_same_driver(
    base: str, override: str, expected: dict[str, Any]
) -> None:
    assert service(f"logging: {base}", f"logging: {override}") == {"logging": expected}


def test_ulimits_merge_soft_and_hard_separately() -> None:
    merged = service("ulimits: {nofile: {soft: 1, hard: 2}}", "ulimits: {nofile: {soft: 5}}")
    assert merged == {"ulimits": {"nofile": {"soft": 5, "hard": 2}}}


def test_build_mappings_are_merged_with_their_args() -> None:
    merged = service("build: {context: ., args: {X: '1'}}", "build: {args: {Y: '2'}}")
    assert merged == {"build": {"context": ".", "args": {"X": "1", "Y": "2"}}}


def test_the_rules_table_names_each_special_path_once() -> None:
    assert ("services", "*", "command") in MERGE_RULES
    assert ("services", "*", "ports") in UNIQUE_BY
    assert ("services", "*", "volumes") in UNIQUE_BY


# --- UNIQUE_BY: sequences de-duplicated by an identity ---------------------------------------


def port(published: str, target: int, protocol: str = "tcp") -> str:
    return f"{{published: '{published}', target: {target}, protocol: {protocol}}}"


def test_ports_are_deduplicated_and_a_new_mapping_of_the_same_target_is_kept() -> None:
    merged = service(
        f"ports: [{port('80', 80)}, {port('443', 443)}]",
        f"ports: [{port('80', 80)}, {port('8080', 80)}, {port('80', 80, 'udp')}]",
    )
    assert [(p["published"], p["target"], p["protocol"]) for p in merged["ports"]] == [
        ("80", 80, "tcp"),
        ("443", 443, "tcp"),
        ("8080", 80, "tcp"),
        ("80", 80, "udp"),
    ]


def test_volumes_with_the_same_target_keep_the_override_in_the_first_place() -> None:
    merged = service(
        "volumes: [{type: bind, source: ./a, target: /data},"
        " {type: volume, source: v, target: /v}]",
        "volumes: [{type: bind, source: ./b, target: /data}]",
    )
    assert merged["volumes"] == [
        {"type": "bind", "source": "./b", "target": "/data"},
        {"type": "volume", "source": "v", "target": "/v"},
    ]
    assert merged["volumes"].item_locs[0] == Location("override.yaml", 3, 15)


@pytest.mark.parametrize(
    ("field", "base", "override", "expected"),
    [
        ("dns", "[1.1.1.1]", "[1.1.1.1, 8.8.8.8]", ["1.1.1.1", "8.8.8.8"]),
        ("cap_add", "[NET_ADMIN]", "[NET_ADMIN, SYS_ADMIN]", ["NET_ADMIN", "SYS_ADMIN"]),
        ("cap_drop", "[ALL]", "[ALL]", ["ALL"]),
        ("expose", "['80', 81]", "[80]", [80, 81]),  # '80' and 80 are the same port
        ("profiles", "[a, b]", "[b, c]", ["a", "b", "c"]),
        ("volumes_from", "[a]", "[a, b]", ["a", "b"]),
        ("links", "[db]", "[db, cache]", ["db", "cache"]),
        (
            "secrets",
            "[{source: s, target: /run/secrets/s}]",
            "[{source: s2, target: /run/secrets/s}]",
            [{"source": "s2", "target": "/run/secrets/s"}],
        ),
        (
            "env_file",
            "[{path: a.env}]",
            "[{path: a.env, required: false}, {path: b.env}]",
            [{"path": "a.env", "required": False}, {"path": "b.env"}],
        ),
        (
            "devices",
            "[{source: /dev/a, target: /dev/x}]",
            "[{source: /dev/b, target: /dev/x}]",
            [{"source": "/dev/b", "target": "/dev/x"}],
        ),
    ],
)
def test_unique_sequences_keep_one_item_per_identity(
    field: str, base: str, override: str, expected: list[Any]
) -> None:
    assert service(f"{field}: {base}", f"{field}: {override}") == {field: expected}


def test_network_aliases_are_deduplicated() -> None:
    merged = service("networks: {n: {aliases: [a, b]}}", "networks: {n: {aliases: [b, c]}}")
    assert merged == {"networks": {"n": {"aliases": ["a", "b", "c"]}}}


def test_ipam_configs_are_unique_by_subnet() -> None:
    merged = merge(
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}]\n",
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.254}]\n",
    )
    assert merged["networks"]["n"]["ipam"]["config"] == [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.254"}
    ]


def test_unicity_is_enforced_inside_a_single_file_too() -> None:
    tree = parse("services:\n  s:\n    dns: [a, b, a]\n    extra_hosts: [x, x]\n", "c.yaml")
    assert enforce_unicity(tree)["services"]["s"] == {"dns": ["a", "b"], "extra_hosts": ["x", "x"]}


# --- !reset and !override --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "base"),
    [
        ("environment", "{A: '1'}"),
        ("dns", "[1.1.1.1]"),
        ("image", "nginx"),
        ("command", "[a]"),
    ],
)
def test_reset_removes_the_base_value(field: str, base: str) -> None:
    merged = service(f"{field}: {base}\nuser: u", f"{field}: !reset null")
    assert merged == {"user": "u"}


def test_reset_of_a_key_the_base_does_not_have_is_harmless() -> None:
    assert service("user: u", "dns: !reset []") == {"user": "u"}


@pytest.mark.parametrize(
    ("field", "base", "override", "expected"),
    [
        ("ports", f"[{port('80', 80)}]", f"[{port('9000', 9000)}]", None),
        ("environment", "{A: '1', B: '2'}", "{C: '3'}", {"C": "3"}),
        ("dns", "[a, b]", "[c]", ["c"]),
    ],
)
def test_override_replaces_the_base_value_whatever_its_type(
    field: str, base: str, override: str, expected: Any
) -> None:
    merged = service(f"{field}: {base}", f"{field}: !override {override}")
    if expected is None:
        expected = parse(f"x: {override}\n", "x.yaml")["x"]
    assert merged == {field: expected}


def test_override_applies_only_to_the_file_that_says_it() -> None:
    first = merge("a: {x: 1}\n", "a: !override {y: 2}\n")
    assert merge_trees(first, parse("a: {z: 3}\n", "third.yaml")) == {"a": {"y": 2, "z": 3}}


# --- through the loader, with short syntax ---------------------------------------------------

BASE = """\
services:
  web:
    image: nginx
    command: [a, b]
    environment: {A: "1", B: "2"}
    labels: [l1=a, l2=b]
    ports: ["80:80", "443:443"]
    volumes: ["./data:/data", "logs:/logs"]
volumes:
  logs: {}
"""

OVERRIDE = """\
services:
  web:
    image: httpd
    command: c
    environment: [B=3, C=4]
    labels: {l2: c}
    ports: ["80:80", "8080:80"]
    volumes: ["./other:/data"]
"""


def test_an_override_file_merges_short_syntax_after_expanding_it(
    load: Callable[..., LoadResult],
) -> None:
    result = load({"/p/compose.yaml": BASE, "/p/compose.override.yaml": OVERRIDE}, cwd="/p")
    web = config_dict(result.project)["services"]["web"]
    assert web["image"] == "httpd"
    assert web["command"] == ["c"]
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["labels"] == {"l1": "a", "l2": "c"}
    assert [(p["published"], p["target"]) for p in web["ports"]] == [
        ("80", 80),
        ("443", 443),
        ("8080", 80),
    ]
    assert [(v["source"], v["target"]) for v in web["volumes"]] == [
        ("/p/other", "/data"),
        ("logs", "/logs"),
    ]
