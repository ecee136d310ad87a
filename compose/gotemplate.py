"""The part of Go's text/template that ``--format`` users write, evaluated safely.

Supported: text, ``{{.Field}}`` and ``{{.Field.Sub}}``, ``{{.}}``, calls of a row's methods
(``{{.Label "com.example"}}``), the functions ``json``, ``upper``, ``lower``, ``title``,
``join``, ``truncate``, ``pad``, pipes (``{{.Name | upper}}``), ``{{-``/``-}}`` trimming, and
docker's ``table`` prefix (a header row, columns split on tabs). Anything else (``if``,
``range``, variables, ``printf``...) is refused with a :class:`TemplateError` naming it:
nothing from the user's template is ever executed as code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from compose.errors import PlanError

_ACTION = re.compile(r"{{(-\s)?(.*?)(\s-)?}}", re.S)
_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\|)|(-?\d+)|([^\s|"`]+))')
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break"}
MAX_OUTPUT = 16 * 1024 * 1024


class TemplateError(PlanError):
    """A --format template that this evaluator does not run."""


def _go_text(value: Any) -> str:
    """A value as Go's fmt prints it with %v."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _truncate(value: Any, length: Any) -> str:
    return _go_text(value)[: int(length)]


def _pad(value: Any, left: Any, right: Any) -> str:
    return " " * int(left) + _go_text(value) + " " * int(right)


def _join(value: Any, separator: Any) -> str:
    if not isinstance(value, list | tuple):
        raise TemplateError(f"join: {_go_text(value)!r} is not a list")
    return str(separator).join(_go_text(v) for v in value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "upper": lambda v: _go_text(v).upper(),
    "lower": lambda v: _go_text(v).lower(),
    "title": lambda v: _go_text(v).title(),
    "join": _join,
    "truncate": _truncate,
    "pad": _pad,
}


class _Header:
    """The context a ``table`` header row is rendered with: every field is its title."""

    def __init__(self, titles: Mapping[str, str]) -> None:
        self.titles = titles

    def title(self, field: str) -> str:
        if field in self.titles:
            return self.titles[field]
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()


class Template:
    """A parsed template: text pieces and actions (lists of pipelines' commands)."""

    def __init__(self, source: str) -> None:
        self.source = source.replace("\\t", "\t").replace("\\n", "\n")
        self.pieces: list[str | list[list[tuple[str, str]]]] = []
        position = 0
        for match in _ACTION.finditer(self.source):
            text = self.source[position : match.start()]
            if match.group(1):
                text = text.rstrip()
            if self.pieces and isinstance(self.pieces[-1], str) and self.pieces[-1] == "\x00trim":
                self.pieces.pop()
                text = text.lstrip()
            self.pieces.append(text)
            self.pieces.append(self._parse(match.group(2).strip(), match.start()))
            if match.group(3):
                self.pieces.append("\x00trim")
            position = match.end()
        rest = self.source[position:]
        if self.pieces and self.pieces[-1] == "\x00trim":
            self.pieces.pop()
            rest = rest.lstrip()
        if "{{" in rest:
            raise TemplateError(
                f"unclosed action in --format template at offset {position + rest.index('{{')}"
            )
        self.pieces.append(rest)

    def _parse(self, action: str, offset: int) -> list[list[tuple[str, str]]]:
        if action.startswith("/*"):
            return []
        tokens: list[tuple[str, str]] = []
        index = 0
        while index < len(action):
            match = _TOKEN.match(action, index)
            if not match or match.end() == index:
                break
            index = match.end()
            string, raw, pipe, number, word = match.groups()
            if string is not None:
                tokens.append(("str", json.loads(string)))
            elif raw is not None:
                tokens.append(("str", raw[1:-1]))
            elif pipe:
                tokens.append(("|", "|"))
            elif number is not None:
                tokens.append(("num", number))
            elif word:
                tokens.append(self._word(word, offset))
        commands: list[list[tuple[str, str]]] = [[]]
        for token in tokens:
            if token[0] == "|":
                commands.append([])
            else:
                commands[-1].append(token)
        if any(not command for command in commands):
            raise TemplateError(f"empty command in --format template action {{{{{action}}}}}")
        return commands

    def _word(self, word: str, offset: int) -> tuple[str, str]:
        if word == "." or re.fullmatch(r"(\.[A-Za-z_]\w*)+", word):
            return ("field", word)
        if word in FUNCTIONS:
            return ("func", word)
        what = (
            f"the action {word!r}"
            if word in _KEYWORDS
            else "variables"
            if word.startswith("$")
            else f"the function {word!r}"
        )
        raise TemplateError(
            f"--format template at offset {offset}: {what} is not supported",
            hint="use fields ({{.Name}}), json, upper, lower, title, join, truncate, pad, "
            "or --format json",
        )

    def render(self, row: Any) -> str:
        out = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value: Any = _NOTHING
            for command in piece:
                value = self._command(command, row, value)
            if piece:
                out.append(_go_text(value))
        return "".join(out)

    def _command(self, command: list[tuple[str, str]], row: Any, piped: Any) -> Any:
        (kind, name), arguments = command[0], [self._argument(t, row) for t in command[1:]]
        if piped is not _NOTHING:
            arguments.append(piped)
        if kind == "func":
            if isinstance(row, _Header):
                return next((a for a in arguments if isinstance(a, str)), "")
            function = FUNCTIONS[name]
            try:
                return function(*arguments)
            except TypeError:
                raise TemplateError(
                    f"--format template: wrong number of arguments for {name}"
                ) from None
        if kind == "field":
            value = _field(row, name)
            if isinstance(row, _Header):
                return value
            if callable(value):
                return value(*arguments)
            if arguments:
                raise TemplateError(f"--format template: {name} is not a method")
            return value
        if arguments:
            raise TemplateError(f"--format template: {name!r} cannot take arguments")
        return name if kind == "str" else int(name)

    def _argument(self, token: tuple[str, str], row: Any) -> Any:
        kind, text = token
        if kind == "field":
            return _field(row, text)
        if kind == "str":
            return text
        if kind == "num":
            return int(text)
        raise TemplateError(f"--format template: {text} is used as an argument")


_NOTHING = object()


def _field(row: Any, path: str) -> Any:
    if isinstance(row, _Header):
        return row.title(path.rsplit(".", 1)[-1]) if path != "." else ""
    value = row
    if path == ".":
        return value
    for name in path.strip(".").split("."):
        if isinstance(value, Mapping) and name in value:
            value = value[name]
        else:
            raise TemplateError(
                f"--format template: can't evaluate field {name}",
                hint="fields: " + ", ".join(sorted(value)) if isinstance(value, Mapping) else None,
            )
    return value


def render_rows(
    format_: str, rows: Sequence[Any], titles: Mapping[str, str] | None = None
) -> list[str]:
    """The output lines of ``rows`` under a template; ``table ...`` adds an aligned header."""
    table = format_.startswith("table")
    template = Template(format_[len("table") :].lstrip() if table else format_)
    lines = [template.render(row) for row in rows]
    if sum(len(line) for line in lines) > MAX_OUTPUT:
        raise TemplateError("--format template output is too large")
    if not table:
        return lines
    header = template.render(_Header(titles or {}))
    grid = [line.split("\t") for line in [header, *lines]]
    # docker/cli's tabwriter: a cell is padded by 3 to at least 10, a line's last one not at
    # all (an empty last cell leaves the line ending in spaces, as docker's do)
    widths: dict[int, int] = {}
    for cells in grid:
        for index, cell in enumerate(cells[:-1]):
            widths[index] = max(widths.get(index, 10), len(cell) + 3)
    return [
        "".join(
            cell.ljust(widths[i]) if i < len(cells) - 1 else cell for i, cell in enumerate(cells)
        )
        for cells in grid
    ]
