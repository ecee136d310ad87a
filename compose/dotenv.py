"""``.env`` and ``env_file`` parsing, with docker compose's syntax.

One ``KEY=VALUE`` a statement::

    # comments and blank lines are skipped
    export KEY=value          an "export " prefix is allowed
    KEY: value                YAML-like separator
    KEY=value # comment       an unquoted value ends at " #"
    KEY='literal ${X}'        single quotes: taken as is
    KEY="a\\nb ${X}"          double quotes: escapes (\\n \\r \\t \\" \\\\) and ${X};
                              may span lines
    KEY=${X:-default}         unquoted values are expanded too
    KEY                       no "=": the value is taken from ``lookup`` if it has one

Expansion sees ``lookup`` first (the shell environment), then the keys defined
earlier in the same file, as docker compose does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from compose.errors import Issue, Location, ProjectError
from compose.interpolate import Interpolator, _TemplateError

Lookup = Callable[[str], str | None]

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


class _Environment(Mapping[str, str]):
    """Shell environment first, then what the file defined so far."""

    def __init__(self, lookup: Lookup, defined: dict[str, str]) -> None:
        self.lookup = lookup
        self.defined = defined

    def __getitem__(self, key: str) -> str:
        value = self.lookup(key)
        if value is not None:
            return value
        return self.defined[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.defined)

    def __len__(self) -> int:
        return len(self.defined)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self.lookup(key)
        if value is not None:
            return value
        return self.defined.get(key, default)


def parse_dotenv(
    text: str, file: str, lookup: Lookup | None = None, *, interpolate: bool = True
) -> dict[str, str]:
    """Parse an env file into an ordered ``{key: value}``.

    ``interpolate=False`` reads values raw (``env_file`` with ``format: raw``).
    Raises :class:`ProjectError` with the file:line:column of a bad statement.
    """
    lookup = lookup or (lambda _key: None)
    out: dict[str, str] = {}
    environment = _Environment(lookup, out)
    pos, n = 0, len(text)
    line = 1
    line_start = 0

    def where(index: int) -> Location:
        return Location(file, line, index - line_start + 1)

    def advance_to(index: int) -> None:
        nonlocal pos, line, line_start
        chunk = text[pos:index]
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            line_start = pos + chunk.rfind("\n") + 1
        pos = index

    while pos < n:
        # skip blank space and comment lines
        while pos < n and text[pos] in " \t\r\n\f\v":
            advance_to(pos + 1)
        if pos >= n:
            break
        if text[pos] == "#":
            end = text.find("\n", pos)
            advance_to(n if end < 0 else end)
            continue
        start = pos
        if text.startswith("export", pos) and pos + 6 < n and text[pos + 6] in " \t":
            advance_to(pos + 6)
            while pos < n and text[pos] in " \t":
                advance_to(pos + 1)
        key_start = pos
        while pos < n and text[pos] not in "=:\n":
            char = text[pos]
            if not (char.isalnum() or char in "_.-" or char in " \t\r"):
                raise ProjectError(
                    [
                        Issue(
                            f"unexpected character {char!r} in variable name",
                            where(pos),
                            hint="a name is letters, digits, '_', '.' and '-', followed by '='",
                        )
                    ]
                )
            pos += 1
        key = text[key_start:pos].strip()
        if not key:
            raise ProjectError([Issue("a line without a variable name", where(start))])
        if " " in key or "\t" in key:
            raise ProjectError([Issue(f"variable name {key!r} contains a space", where(key_start))])
        if pos >= n or text[pos] == "\n":
            # "KEY" alone: inherit from the environment when it is set there
            value = lookup(key)
            if value is not None:
                out[key] = value
            advance_to(pos)
            continue
        pos += 1  # past "=" or ":"
        while pos < n and text[pos] in " \t":
            pos += 1
        value_start = pos
        quote = text[pos] if pos < n and text[pos] in "'\"" else ""
        if quote:
            end = pos + 1
            while end < n:
                if text[end] == quote and text[end - 1] != "\\":
                    break
                if text[end] == "\\" and quote == '"' and end + 1 < n:
                    end += 2
                    continue
                end += 1
            if end >= n:
                raise ProjectError(
                    [
                        Issue(
                            f"the quoted value of {key} is never closed",
                            where(value_start),
                            hint=f"add the closing {quote}",
                        )
                    ]
                )
            raw = text[pos + 1 : end]
            if quote == '"':
                raw = _unescape(raw)
                value = _expand(raw, environment, key, file, where(value_start), interpolate)
            else:
                value = raw
            line_end = text.find("\n", end)
            advance_to(n if line_end < 0 else line_end)
        else:
            line_end = text.find("\n", pos)
            raw = text[pos : n if line_end < 0 else line_end]
            comment = _inline_comment(raw)
            if comment >= 0:
                raw = raw[:comment]
            raw = raw.rstrip()
            value = _expand(raw, environment, key, file, where(value_start), interpolate)
            advance_to(n if line_end < 0 else line_end)
        out[key] = value
    return out


def _inline_comment(raw: str) -> int:
    """Index of a " #" comment in an unquoted value, or -1."""
    for index, char in enumerate(raw):
        if char == "#" and index > 0 and raw[index - 1] in " \t":
            return index
    return -1


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]] if raw[i + 1] != "$" else "$$")
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _expand(
    raw: str,
    environment: Mapping[str, str],
    key: str,
    file: str,
    location: Location,
    interpolate: bool,
) -> str:
    if not interpolate or "$" not in raw:
        return raw
    try:
        return Interpolator(environment).substitute(raw)
    except _TemplateError as exc:
        raise ProjectError([Issue(f"{key}: {exc.message}", location, hint=exc.hint)]) from None
