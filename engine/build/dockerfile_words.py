"""Dockerfile words: variable substitution and word splitting, as Docker's shell lexer does,
and DockerfileError, which every Dockerfile problem raises.

``expand``: ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}``,
``${VAR+word}``, ``${VAR:?message}``; single quotes are literal, the escape character
escapes the next character (inside double quotes only ``"``, ``$`` and itself).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InvalidParameter

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class DockerfileError(InvalidParameter):
    """A Dockerfile that cannot be built; the message starts with ``Dockerfile:LINE:``."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        file: str = "Dockerfile",
        hint: str | None = None,
    ) -> None:
        where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message, hint=hint)
        self.line = line
        self.file = file


class _Lexer:
    def __init__(self, text: str, escape: str, env: Mapping[str, str], line: int | None, file: str):
        self.text = text
        self.pos = 0
        self.escape = escape
        self.env = env
        self.line = line
        self.file = file

    def fail(self, message: str, hint: str | None = None) -> DockerfileError:
        return DockerfileError(message, line=self.line, file=self.file, hint=hint)

    def word(self, stop: str | None = None) -> str:
        text = self.text
        out: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if stop is not None and char == stop:
                self.pos += 1
                return "".join(out)
            if char == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise self.fail(
                        f"unexpected end of statement while looking for matching ' in {text!r}"
                    )
                out.append(text[self.pos + 1 : end])
                self.pos = end + 1
            elif char == '"':
                out.append(self.double_quoted())
            elif char == "$":
                out.append(self.dollar())
            elif char == self.escape:
                self.pos += 1
                if self.pos < len(text):
                    out.append(text[self.pos])
                    self.pos += 1
            else:
                out.append(char)
                self.pos += 1
        if stop is not None:
            raise self.fail(f"missing '{stop}' in {text!r}", hint="close the ${...} substitution")
        return "".join(out)

    def double_quoted(self) -> str:
        text = self.text
        out: list[str] = []
        self.pos += 1
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "$":
                out.append(self.dollar())
                continue
            if (
                char == self.escape
                and self.pos + 1 < len(text)
                and text[self.pos + 1] in ('"', "$", self.escape)
            ):
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        raise self.fail(
            f'unexpected end of statement while looking for matching " in {self.text!r}'
        )

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def dollar(self) -> str:
        self.pos += 1
        if self.pos >= len(self.text):
            return "$"
        char = self.text[self.pos]
        if char != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.pos += 1
        name = self.name()
        if not name:
            raise self.fail(f"bad substitution in {self.text!r}", hint="write ${NAME} or $NAME")
        if self.pos >= len(self.text):
            raise self.fail(f"missing '}}' in {self.text!r}", hint="close the ${...} substitution")
        char = self.text[self.pos]
        self.pos += 1
        if char == "}":
            return self.env.get(name, "")
        colon = char == ":"
        if colon:
            if self.pos >= len(self.text):
                raise self.fail(f"bad substitution in {self.text!r}")
            char = self.text[self.pos]
            self.pos += 1
        if char not in "-+?":
            raise self.fail(
                f"unsupported modifier ({char}) in substitution {self.text!r}",
                hint="use ${VAR}, ${VAR:-default}, ${VAR:+alternative} or ${VAR:?message}",
            )
        word = self.word("}")
        value = self.env.get(name)
        present = value is not None and (value != "" or not colon)
        if char == "-":
            return value if present and value is not None else word
        if char == "+":
            return word if present else ""
        if not present:
            default = "parameter null or not set" if colon else "parameter not set"
            raise self.fail(f"{name}: {word or default}", hint=f"pass --build-arg {name}=VALUE")
        return value or ""


def expand(
    word: str,
    env: Mapping[str, str],
    escape: str = "\\",
    *,
    line: int | None = None,
    file: str = "Dockerfile",
) -> str:
    """``word`` with quotes removed and ``$VAR``/``${VAR...}`` substituted from ``env``.

    Example: ``expand('"$A"-${B:-x}', {"A": "1"}) == "1-x"``.
    """
    return _Lexer(word, escape, env, line, file).word()


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes (expansion removes them)."""
    words: list[str] = []
    current: list[str] = []
    quote: str | None = None
    in_word = False
    index = 0
    while index < len(text):
        char = text[index]
        if quote is None and char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            index += 1
            continue
        in_word = True
        if char == escape and quote != "'" and index + 1 < len(text):
            current.append(char + text[index + 1])
            index += 2
            continue
        if quote is None and char in ("'", '"'):
            quote = char
        elif char == quote:
            quote = None
        current.append(char)
        index += 1
    if in_word:
        words.append("".join(current))
    return words
