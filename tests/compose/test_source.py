"""Phase 1, compose.source: YAML text to MapNode/SeqNode trees that know file:line:column."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from compose.errors import Location, YamlSyntaxError
from compose.source import (
    MAX_DEPTH,
    MapNode,
    SeqNode,
    key_location_of,
    location_of,
    parse,
    parse_documents,
    resolve_plain,
)


def value_of(text: str) -> Any:
    tree = parse(f"value: {text}\n", "compose.yaml")
    return tree["value"]


def only_issue(error: pytest.ExceptionInfo[YamlSyntaxError]) -> tuple[str, Location | None]:
    (issue,) = error.value.issues
    return issue.message, issue.location


# --- scalar typing follows go-yaml v3 (what docker compose uses), not YAML 1.1 ---------------


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("tRUE", "tRUE"),
        ("~", None),
        ("null", None),
        ("", None),
        ("0755", 0o755),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("08", 8.0),
        ("09.5", 9.5),
        ("1_000", 1000),
        ("-42", -42),
        ("+7", 7),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("1.", 1.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1_000_", "1_000_"),
        ("12:30", "12:30"),
        ("1.2.3", "1.2.3"),
        ("18446744073709551615", 2**64 - 1),
        ("18446744073709551616", 18446744073709551616.0),
    ],
)
def test_plain_scalars_are_typed_as_go_yaml_types_them(plain: str, expected: Any) -> None:
    resolved = resolve_plain(plain)
    assert resolved == expected
    assert type(resolved) is type(expected)


def test_nan_is_a_float() -> None:
    assert math.isnan(value_of(".nan"))


@pytest.mark.parametrize("text", ["'0755'", '"yes"', "'true'", '"1_000"', "'~'"])
def test_quoted_scalars_stay_strings(text: str) -> None:
    assert value_of(text) == text[1:-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!!int '12'", 12),
        ("!!str 12", "12"),
        ("!!bool 'true'", True),
        ("!!float 1", 1.0),
        ("!!null ''", None),
        ("!!binary aGk=", "aGk="),
    ],
)
def test_standard_tags_convert_the_scalar(text: str, expected: Any) -> None:
    assert value_of(text) == expected
    assert type(value_of(text)) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!int x", "cannot read 'x' as an integer (tagged !!int)"),
        ("!!float x", "cannot read 'x' as a number (tagged !!float)"),
        ("!!bool yes", "cannot read 'yes' as a boolean (tagged !!bool)"),
        ("!custom x", "unsupported YAML tag '!custom'"),
    ],
)
def test_a_scalar_that_does_not_fit_its_tag_is_refused_where_it_is(text: str, message: str) -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse(f"a: 1\nvalue: {text}\n", "compose.yaml")
    assert only_issue(error) == (message, Location("compose.yaml", 2, 8))


# --- locations -----------------------------------------------------------------------------


def test_every_key_value_and_item_knows_its_file_line_and_column() -> None:
    tree = parse(
        "services:\n  web:\n    image: nginx\n    ports:\n      - '80:80'\n      - 443\n",
        "stack.yaml",
    )
    web = tree["services"]["web"]
    assert isinstance(web, MapNode)
    assert web.key_locs["image"] == Location("stack.yaml", 3, 5)
    assert web.value_locs["image"] == Location("stack.yaml", 3, 12)
    ports = web["ports"]
    assert isinstance(ports, SeqNode)
    assert ports.item_locs == [Location("stack.yaml", 5, 9), Location("stack.yaml", 6, 9)]
    assert tree["services"].loc == Location("stack.yaml", 2, 3)


def test_location_of_a_path_into_an_expanded_value_finds_the_deepest_written_node() -> None:
    tree = parse("services:\n  web:\n    ports:\n      - '80:80'\n", "compose.yaml")
    written = ("services", "web", "ports", 0)
    assert location_of(tree, written) == Location("compose.yaml", 4, 9)
    assert location_of(tree, (*written, "published")) == Location("compose.yaml", 4, 9)
    # an index past the end falls back to the sequence itself
    assert location_of(tree, ("services", "web", "ports", 7)) == Location("compose.yaml", 4, 7)


def test_key_location_of_points_at_the_key_not_its_value() -> None:
    tree = parse("services:\n  web:\n    enviroment: {}\n", "compose.yaml")
    path = ("services", "web", "enviroment")
    assert key_location_of(tree, path) == Location("compose.yaml", 3, 5)
    assert location_of(tree, path) == Location("compose.yaml", 3, 17)


# --- errors ----------------------------------------------------------------------------------


def test_a_duplicate_key_is_refused_citing_both_lines() -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse("services:\n  web:\n    image: a\n  db: {}\n  web:\n    image: b\n", "c.yaml")
    message, location = only_issue(error)
    assert message == "duplicate key 'web' (first defined at line 2)"
    assert location == Location("c.yaml", 5, 3)
    assert error.value.issues[0].hint == "remove one of the two definitions"


def test_a_duplicate_of_a_reset_key_is_refused_too() -> None:
    with pytest.raises(YamlSyntaxError, match="duplicate key 'a'"):
        parse("a: !reset null\na: 1\n", "c.yaml")


def test_invalid_yaml_is_reported_at_the_parser_s_position() -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse("services:\n  web: [1, 2\n", "c.yaml")
    message, location = only_issue(error)
    assert message.startswith("invalid YAML: ")
    assert location is not None
    assert location.file == "c.yaml"
    assert location.line == 3


@pytest.mark.parametrize(("text", "column"), [("a: 1\nb: \x07x\n", 4), ("a: 1\n\x00", 1)])
def test_a_control_character_is_refused_where_it_is(text: str, column: int) -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse(text, "c.yaml")
    message, location = only_issue(error)
    assert message.startswith("invalid YAML: unacceptable character #x00")
    assert location == Location("c.yaml", 2, column)


def test_bad_indentation_is_a_syntax_error() -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse("services:\n  web:\n    image: a\n   ports: []\n", "c.yaml")
    assert error.value.issues[0].location is not None
    assert error.value.issues[0].location.line == 4


def test_an_unknown_alias_is_refused_where_it_is_used() -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse("a: 1\nb: *nope\n", "c.yaml")
    assert only_issue(error) == ("unknown anchor 'nope'", Location("c.yaml", 2, 4))


def test_a_mapping_cannot_be_a_key() -> None:
    with pytest.raises(YamlSyntaxError, match="cannot be used as a key"):
        parse("? {a: 1}\n: x\n", "c.yaml")


def test_an_alias_bomb_is_refused_in_bounded_time() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        aliases = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    started = time.monotonic()
    with pytest.raises(YamlSyntaxError) as error:
        parse("\n".join(lines) + "\n", "bomb.yaml")
    assert time.monotonic() - started < 30  # expanded, the bomb would take hours
    message, location = only_issue(error)
    assert "through YAML aliases" in message
    assert "alias bomb" in (error.value.issues[0].hint or "")
    assert location is not None
    assert location.file == "bomb.yaml"


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n",
        "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(MAX_DEPTH + 10)),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse(text, "deep.yaml")
    message, _location = only_issue(error)
    assert message == f"the document is nested more than {MAX_DEPTH} levels deep"


def test_nesting_just_below_the_limit_is_accepted() -> None:
    depth = MAX_DEPTH - 2
    tree = parse("a: " + "[" * depth + "]" * depth + "\n", "ok.yaml")
    assert isinstance(tree["a"], SeqNode)


def test_a_huge_file_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("compose.source.MAX_FILE_BYTES", 100)
    with pytest.raises(YamlSyntaxError) as error:
        parse("a: " + "x" * 200 + "\n", "big.yaml")
    message, location = only_issue(error)
    assert "larger than" in message
    assert location == Location("big.yaml", 1, 1)


# --- YAML features ---------------------------------------------------------------------------


def test_a_plain_colon_in_a_flow_sequence_is_accepted_as_go_yaml_does() -> None:
    # libyaml refuses this; the parser retries with the YAML 1.2 pure-Python one
    tree = parse("security_opt: [no-new-privileges:true]\n", "c.yaml")
    assert tree["security_opt"] == ["no-new-privileges:true"]


def test_a_byte_order_mark_is_ignored() -> None:
    assert parse("\ufeffa: 1\n", "c.yaml") == {"a": 1}


def test_an_empty_file_parses_to_none() -> None:
    assert parse("# nothing\n", "c.yaml") is None


def test_multiple_documents_are_merged_in_order() -> None:
    tree = parse("a: 1\nb: [1]\n---\nb: [2]\nc: 3\n", "c.yaml")
    assert tree == {"a": 1, "b": [1, 2], "c": 3}
    assert len(parse_documents("a: 1\n---\nb: 2\n", "c.yaml")) == 2


def test_anchors_do_not_leak_from_one_document_to_the_next() -> None:
    with pytest.raises(YamlSyntaxError, match="unknown anchor 'x'"):
        parse("a: &x 1\n---\nb: *x\n", "c.yaml")


def test_each_use_of_an_alias_is_an_independent_copy() -> None:
    tree = parse("base: &b {list: [1]}\none: *b\ntwo: *b\n", "c.yaml")
    tree["one"]["list"].append(2)
    assert tree["two"]["list"] == [1]
    assert tree["base"]["list"] == [1]


def test_merge_keys_add_missing_keys_and_own_keys_win() -> None:
    tree = parse("base: &b {x: 1, y: 2}\nservice:\n  <<: *b\n  y: 3\n", "c.yaml")
    assert tree["service"] == {"x": 1, "y": 3}
    assert "<<" not in tree["service"]
    # a merged key keeps the location where it was written
    assert tree["service"].key_locs["x"] == Location("c.yaml", 1, 11)


def test_with_a_list_of_merge_sources_the_earlier_source_wins() -> None:
    tree = parse("a: &a {k: a}\nb: &b {k: b, only_b: 1}\nm:\n  <<: [*a, *b]\n", "c.yaml")
    assert tree["m"] == {"k": "a", "only_b": 1}


def test_a_merge_key_needs_a_mapping() -> None:
    with pytest.raises(YamlSyntaxError, match=r"merge key \(<<\) needs a mapping"):
        parse("s: &s [1]\nm:\n  <<: *s\n", "c.yaml")


def test_reset_removes_the_key_and_is_recorded_on_the_mapping() -> None:
    tree = parse("a: !reset null\nb: 1\n", "c.yaml")
    assert tree == {"b": 1}
    assert tree.resets == {"a"}
    assert tree.key_locs["a"] == Location("c.yaml", 1, 1)


def test_override_keeps_the_value_and_is_recorded_on_the_mapping() -> None:
    tree = parse("ports: !override ['80:80']\ncount: !override 3\n", "c.yaml")
    assert tree == {"ports": ["80:80"], "count": 3}
    assert tree.overrides == {"ports", "count"}


FLOW_COLONS = [
    "svc:\n  k: [a:b, ccé:d, ee]\n  m: 1\n",
    "services:\n  s:\n    volumes: [data:/data, /x:/y:ro]\n    ports: [80:80, 1:2]\n",
    "a:\n  - k: [x:1]\n    l: |\n      k: [y:2]\n",
    "k: [http://host:80/path, 'q:r']\n",  # a quoted item: the line is left to the pure parser
    "k: [a: b, c:d]\n",  # a pair in a flow sequence stays a pair
]


@pytest.mark.parametrize("text", FLOW_COLONS)
def test_flow_colons_read_with_libyaml_as_the_pure_parser_reads_them(text: str) -> None:
    from compose.source import _Builder, _PureParser, parse_documents

    fast = parse_documents(text, "c.yaml")
    pure = _Builder("c.yaml", text).build(_PureParser(text))
    assert fast == pure

    def locations(tree: object) -> list[object]:
        found: list[object] = []
        stack = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                found.append(sorted(node.value_locs.items()))  # type: ignore[attr-defined]
                stack.extend(node.values())
            elif isinstance(node, list):
                found.append(list(getattr(node, "item_locs", [])))
                stack.extend(node)
        return found

    assert locations(fast) == locations(pure)


def test_a_stack_with_flow_colons_does_not_need_the_pure_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import compose.source

    def refuse(_text: str) -> None:
        raise AssertionError("the pure parser was used")

    monkeypatch.setattr(compose.source, "_PureParser", refuse)
    text = "services:\n" + "".join(
        f"  s{i}:\n    image: busybox\n    volumes: [data:/data]\n    networks: [net]\n"
        for i in range(50)
    )
    tree = compose.source.parse(text, "compose.yaml")
    assert tree["services"]["s49"]["volumes"] == ["data:/data"]
