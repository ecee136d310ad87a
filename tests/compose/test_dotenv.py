"""compose.dotenv: the .env / env_file syntax docker compose accepts."""

from __future__ import annotations

import pytest

from compose.dotenv import parse_dotenv
from compose.errors import Location, ProjectError


def parse_one(line: str, shell: dict[str, str] | None = None) -> dict[str, str]:
    return parse_dotenv(line, "app.env", (shell or {}).get)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("export A=1", {"A": "1"}),
        ("export\tA=1", {"A": "1"}),
        ("A: 1", {"A": "1"}),
        ("A = spaced ", {"A": "spaced"}),
        ("A=", {"A": ""}),
        ("A=value # a comment", {"A": "value"}),
        ("A=value#not-a-comment", {"A": "value#not-a-comment"}),
        ("A='single ${X} # kept'", {"A": "single ${X} # kept"}),
        ("A='quoted' # comment", {"A": "quoted"}),
        ('A="tab\\there"', {"A": "tab\there"}),
        ('A="new\\nline"', {"A": "new\nline"}),
        ('A="say \\"hi\\""', {"A": 'say "hi"'}),
        ('A="back\\\\slash"', {"A": "back\\slash"}),
        ('A="cost \\$5"', {"A": "cost $5"}),
        ("A='no \\n escape'", {"A": "no \\n escape"}),
        ('A="first\nsecond"', {"A": "first\nsecond"}),
        ("M.N-O_1=dotted", {"M.N-O_1": "dotted"}),
        ("A=x\r\nB=y\r\n", {"A": "x", "B": "y"}),
        ("# only a comment\n\n   \n", {}),
        ("A=1\nA=2", {"A": "2"}),
    ],
)
def test_each_statement_form_is_read_as_docker_compose_reads_it(
    text: str, expected: dict[str, str]
) -> None:
    assert parse_one(text) == expected


def test_keys_keep_the_order_of_the_file() -> None:
    assert list(parse_one("B=1\nA=2\nC=3")) == ["B", "A", "C"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=${X}", "from-shell"),
        ("A=$X", "from-shell"),
        ("A=${MISSING:-default}", "default"),
        ('A="${X}"', "from-shell"),
        ("A='${X}'", "${X}"),
        ("A=$$X", "$X"),
    ],
)
def test_unquoted_and_double_quoted_values_are_expanded(text: str, expected: str) -> None:
    assert parse_one(text, {"X": "from-shell"}) == {"A": expected}


def test_expansion_sees_earlier_keys_of_the_same_file() -> None:
    assert parse_one("HOST=db\nURL=postgres://${HOST}:5432") == {
        "HOST": "db",
        "URL": "postgres://db:5432",
    }


def test_expansion_prefers_the_shell_environment_over_earlier_keys() -> None:
    values = parse_one("HOST=db\nURL=${HOST}", {"HOST": "shell-host"})
    assert values["URL"] == "shell-host"


def test_a_bare_name_inherits_its_value_from_the_shell() -> None:
    assert parse_one("INHERITED\nABSENT\nB=1", {"INHERITED": "yes"}) == {
        "INHERITED": "yes",
        "B": "1",
    }


def test_raw_reading_keeps_dollar_expressions() -> None:
    values = parse_dotenv("A=1\nB=${A}\n", "app.env", interpolate=False)
    assert values == {"A": "1", "B": "${A}"}


@pytest.mark.parametrize(
    ("text", "message", "location"),
    [
        ("A B=1", "variable name 'A B' contains a space", (1, 1)),
        ("=1", "a line without a variable name", (1, 1)),
        ("OK=1\nA@=1", "unexpected character '@' in variable name", (2, 2)),
        ("A='never closed\nB=2", "the quoted value of A is never closed", (1, 3)),
        ('OK=1\n\nA="never closed', "the quoted value of A is never closed", (3, 3)),
        (
            "A=${",
            "A: invalid interpolation format in '${': '${' is never closed",
            (1, 3),
        ),
        ("A=${X:?X is needed}", "A: required variable X is missing a value: X is needed", (1, 3)),
    ],
)
def test_a_bad_statement_is_reported_with_its_line_and_column(
    text: str, message: str, location: tuple[int, int]
) -> None:
    with pytest.raises(ProjectError) as error:
        parse_one(text)
    (issue,) = error.value.issues
    assert issue.message == message
    assert issue.location == Location("app.env", *location)


def test_line_numbers_count_lines_inside_multi_line_values() -> None:
    with pytest.raises(ProjectError) as error:
        parse_one('A="one\ntwo\nthree"\nB C=1')
    assert error.value.issues[0].location == Location("app.env", 4, 1)
