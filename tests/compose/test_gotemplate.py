"""The --format template evaluator: the text/template subset docker users write."""

from __future__ import annotations

import pytest

from compose.gotemplate import TemplateError, render_rows

ROWS = [
    {"Name": "p-web-1", "State": "running", "Labels": {"a": "1"}, "Ports": [80, 443]},
    {"Name": "p-db-1", "State": "exited", "Labels": {}, "Ports": []},
]


def test_fields_and_text() -> None:
    assert render_rows("{{.Name}} is {{.State}}", ROWS) == [
        "p-web-1 is running",
        "p-db-1 is exited",
    ]


def test_nested_fields_json_and_go_printing() -> None:
    assert render_rows("{{.Labels.a}}", ROWS[:1]) == ["1"]
    assert render_rows("{{json .Labels}}", ROWS[:1]) == ['{"a":"1"}']
    assert render_rows("{{json .}}", ROWS[1:]) == [
        '{"Name":"p-db-1","State":"exited","Labels":{},"Ports":[]}'
    ]
    assert render_rows("{{.Ports}} {{.Labels}}", ROWS[:1]) == ["[80 443] map[a:1]"]


def test_methods_functions_and_pipes() -> None:
    rows = [{"Label": lambda key: {"x": "y"}.get(key, ""), "Name": "web"}]
    assert render_rows('{{.Label "x"}}|{{.Name | upper}}|{{truncate .Name 2}}', rows) == [
        "y|WEB|we"
    ]
    assert render_rows('{{join .Ports ", "}}', ROWS[:1]) == ["80, 443"]


def test_table_has_an_aligned_header() -> None:
    assert render_rows("table {{.Name}}\\t{{.State}}", ROWS, {"Name": "NAME"}) == [
        "NAME      STATE",
        "p-web-1   running",
        "p-db-1    exited",
    ]
    # docker's tabwriter: at least 10 wide, an empty last cell leaves the padding before it
    rows = [{"State": "running", "Name": "p-web-1", "Ports": ""}]
    assert render_rows("table {{.State}}\\t{{.Name}}\\t{{.Ports}}", rows) == [
        "STATE     NAME      PORTS",
        "running   p-web-1   ",
    ]


def test_trim_markers() -> None:
    assert render_rows("a  {{- .Name -}}  b", ROWS[:1]) == ["ap-web-1b"]


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{if .Name}}x{{end}}", "the action 'if'"),
        ("{{range .Ports}}{{.}}{{end}}", "the action 'range'"),
        ("{{$x := .Name}}", "variables"),
        ('{{printf "%s" .Name}}', "the function 'printf'"),
        ("{{.Missing}}", "can't evaluate field Missing"),
        ("{{.Name", "unclosed action"),
    ],
)
def test_unsupported_syntax_is_refused_by_name(template: str, named: str) -> None:
    with pytest.raises(TemplateError) as error:
        render_rows(template, ROWS)
    assert named in error.value.render()
