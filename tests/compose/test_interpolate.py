"""Phase 2, compose.interpolate: ${VAR} substitution in values, casts, all errors at once."""

from __future__ import annotations

from typing import Any

import pytest

from compose.errors import InterpolationError, Location
from compose.interpolate import Interpolator, interpolate_tree, substitute
from compose.source import parse

ENVIRONMENT = {"SET": "value", "EMPTY": "", "OTHER": "other"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain text", "plain text"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("$SET$OTHER", "valueother"),
        ("$SET.txt", "value.txt"),
        ("${UNSET}", ""),
        ("$UNSET", ""),
        # defaults
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${SET:-fallback}", "value"),
        ("${UNSET-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET:-}", ""),
        ("${UNSET:-a b:c}", "a b:c"),
        # nested defaults are interpolated too
        ("${UNSET:-${OTHER}}", "other"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-$SET}", "value"),
        # replacements
        ("${SET:+replaced}", "replaced"),
        ("${EMPTY:+replaced}", ""),
        ("${UNSET:+replaced}", ""),
        ("${SET+replaced}", "replaced"),
        ("${EMPTY+replaced}", "replaced"),
        ("${UNSET+replaced}", ""),
        ("${SET:+${OTHER}}", "other"),
        # required, when satisfied
        ("${SET:?must be set}", "value"),
        ("${SET?must be set}", "value"),
        ("${EMPTY?must be set}", ""),
        # the first operator decides; the rest belongs to the argument
        ("${UNSET-myerror?msg}", "myerror?msg"),
        ("${UNSET:-/non:-alphanumeric}", "/non:-alphanumeric"),
        ("${UNSET-${SET} ${SET}}", "value value"),
        ("${SET+x-y}", "x-y"),
        # names are letters, digits and _, in any case
        ("${lower_case1}", ""),
        ("$SET-bar", "value-bar"),
        # escapes and lone dollars
        ("$$", "$"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("price: 5$", "price: 5$"),
        ("$1 and $ alone", "$1 and $ alone"),
        ("a$-b", "a$-b"),
    ],
)
def test_every_interpolation_form_substitutes_as_specified(template: str, expected: str) -> None:
    assert Interpolator(ENVIRONMENT).substitute(template) == expected


def test_unset_variables_are_recorded_for_the_warning() -> None:
    interpolator = Interpolator(ENVIRONMENT)
    interpolator.substitute("$UNSET ${ALSO_UNSET} ${DEFAULTED:-x} $SET")
    assert interpolator.unset == {"UNSET", "ALSO_UNSET"}


def test_variables_read_are_recorded_in_order() -> None:
    interpolator = Interpolator(ENVIRONMENT)
    interpolator.substitute("${SET}-${UNSET:-${OTHER}}")
    assert interpolator.looked_up == ["SET", "UNSET", "OTHER"]


# --- errors, each with the file:line:column of its value -------------------------------------


def interpolate_text(text: str, environment: dict[str, str] | None = None) -> Any:
    tree = parse(text, "compose.yaml")
    return interpolate_tree(tree, Interpolator(environment or {}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${UNSET:?please set it}", "required variable UNSET is missing a value: please set it"),
        ("${EMPTY:?please set it}", "required variable EMPTY is missing a value: please set it"),
        ("${UNSET?please set it}", "required variable UNSET is missing a value: please set it"),
        ("${UNSET:?}", "required variable UNSET is missing a value"),
        ("${UNSET?bar-baz}", "required variable UNSET is missing a value: bar-baz"),
        ("${UNSET:?need ${SET}}", "required variable UNSET is missing a value: need value"),
        ("abc ${", "invalid interpolation format in 'abc ${': '${' is never closed"),
        (
            "${}",
            "invalid interpolation format in '${}': '${}' does not start with a variable name",
        ),
        (
            "${1ABC}",
            "invalid interpolation format in '${1ABC}': "
            "'${1ABC}' does not start with a variable name",
        ),
        (
            "${SET!x}",
            "invalid interpolation format in '${SET!x}': "
            "unexpected '!' after the variable name SET",
        ),
        (
            "${ SET}",
            "invalid interpolation format in '${ SET}': "
            "'${ SET}' does not start with a variable name",
        ),
        (
            "${SET X}",
            "invalid interpolation format in '${SET X}': "
            "unexpected ' ' after the variable name SET",
        ),
    ],
)
def test_a_bad_expression_is_reported_at_its_value(value: str, message: str) -> None:
    with pytest.raises(InterpolationError) as error:
        interpolate_text(
            f"services:\n  web:\n    image: '{value}'\n", {"SET": "value", "EMPTY": ""}
        )
    (issue,) = error.value.issues
    assert issue.message == message
    assert issue.location == Location("compose.yaml", 3, 12)
    assert issue.path == ("services", "web", "image")
    assert issue.hint


def test_a_required_variable_s_hint_says_where_to_set_it() -> None:
    with pytest.raises(InterpolationError) as error:
        interpolate_text("image: ${TAG:?}\n")
    assert error.value.issues[0].hint == "set TAG in the environment or in the project's .env file"


def test_every_error_of_a_file_is_reported_at_once_in_file_order() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    image: ${IMAGE:?}\n"
        "    command: [echo, '${']\n"
        "    environment:\n"
        "      A: ${B:?b is needed}\n"
    )
    with pytest.raises(InterpolationError) as error:
        interpolate_text(text)
    assert [str(issue.location) for issue in error.value.issues] == [
        "compose.yaml:3:12",
        "compose.yaml:4:21",
        "compose.yaml:6:10",
    ]
    rendered = str(error.value).splitlines()
    assert rendered[0] == (
        "compose.yaml:3:12: services.web.image: required variable IMAGE is missing a value"
    )
    assert (
        "compose.yaml:4:21: services.web.command[1]: invalid interpolation format" in (rendered[2])
    )


def test_mapping_keys_are_never_interpolated() -> None:
    tree = interpolate_text("labels:\n  ${KEY}: ${VALUE}\n", {"KEY": "k", "VALUE": "v"})
    assert tree == {"labels": {"${KEY}": "v"}}


def test_values_that_are_not_strings_are_left_alone() -> None:
    tree = interpolate_text("a: 1\nb: true\nc: null\nd: [1.5]\n")
    assert tree == {"a": 1, "b": True, "c": None, "d": [1.5]}


def test_substituted_values_stay_strings_outside_cast_paths() -> None:
    tree = interpolate_text("services:\n  web:\n    image: ${N}\n", {"N": "12"})
    assert tree["services"]["web"]["image"] == "12"


def test_the_variables_each_value_used_are_recorded_by_location() -> None:
    tree = parse("image: ${IMAGE}:${TAG:-latest}\nplain: x\n", "compose.yaml")
    used: dict[Location, list[str]] = {}
    interpolate_tree(tree, Interpolator({"IMAGE": "nginx"}), used)
    assert used == {Location("compose.yaml", 1, 8): ["IMAGE", "TAG"]}


# --- casts after substitution ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path_yaml", "raw", "expected"),
    [
        ("services:\n  s:\n    read_only: {v}\n", "yes", True),
        ("services:\n  s:\n    read_only: {v}\n", "FALSE", False),
        ("services:\n  s:\n    privileged: {v}\n", "on", True),
        ("services:\n  s:\n    init: {v}\n", "n", False),
        ("services:\n  s:\n    scale: {v}\n", "3", 3),
        ("services:\n  s:\n    cpus: {v}\n", "0.5", 0.5),
        ("services:\n  s:\n    deploy:\n      replicas: {v}\n", "2", 2),
        ("services:\n  s:\n    healthcheck:\n      retries: {v}\n", "5", 5),
        ("services:\n  s:\n    ports:\n      - target: {v}\n", "80", 80),
        ("services:\n  s:\n    ulimits:\n      nofile: {v}\n", "1024", 1024),
        ("services:\n  s:\n    ulimits:\n      nofile:\n        soft: {v}\n", "1", 1),
        ("services:\n  s:\n    volumes:\n      - read_only: {v}\n", "true", True),
        ("networks:\n  n:\n    external: {v}\n", "true", True),
        ("volumes:\n  v:\n    external: {v}\n", "false", False),
    ],
)
def test_substituted_strings_are_cast_to_the_type_their_path_wants(
    path_yaml: str, raw: str, expected: Any
) -> None:
    tree = interpolate_text(path_yaml.format(v="${V}"), {"V": raw})
    node: Any = tree
    while isinstance(node, dict | list):
        node = next(iter(node.values())) if isinstance(node, dict) else node[0]
    assert node == expected
    assert type(node) is type(expected)


def test_a_literal_string_at_a_cast_path_is_cast_too() -> None:
    tree = interpolate_text("services:\n  s:\n    tty: 'true'\n")
    assert tree["services"]["s"]["tty"] is True


def test_a_cast_does_not_apply_to_a_service_named_like_a_pattern_word() -> None:
    tree = interpolate_text("services:\n  s:\n    labels:\n      read_only: ${V}\n", {"V": "yes"})
    assert tree["services"]["s"]["labels"]["read_only"] == "yes"


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("read_only", "maybe", "cannot use 'maybe' here: expected a boolean (true or false)"),
        ("scale", "two", "cannot use 'two' here: expected an integer"),
        ("cpus", "lots", "cannot use 'lots' here: expected a number"),
    ],
)
def test_a_value_that_cannot_be_cast_is_reported_at_its_value(
    key: str, raw: str, message: str
) -> None:
    with pytest.raises(InterpolationError) as error:
        interpolate_text(f"services:\n  s:\n    {key}: ${{V}}\n", {"V": raw})
    (issue,) = error.value.issues
    assert issue.message == message
    assert issue.location == Location("compose.yaml", 3, len(f"    {key}: ") + 1)
    assert issue.path == ("services", "s", key)


def test_substitute_one_string_names_its_key_in_errors() -> None:
    assert substitute("${A:-b}", {}) == "b"
    with pytest.raises(InterpolationError) as error:
        substitute("${A:?no}", {}, ("x", "y"))
    assert error.value.issues[0].message == "x.y: required variable A is missing a value: no"
