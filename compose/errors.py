"""Errors of the stack-file layer, with user-facing messages.

Every problem found in a stack file is an :class:`Issue`: where it is (a
:class:`Location`, file:line:column), which key path it concerns, what is wrong
and, where there is an obvious fix, a hint. A load reports all the issues it
found at once, inside one :class:`ComposeError`.

    PycomposeError                 base of everything pycompose raises on purpose
    ├── ComposeError               a problem in the stack files; .issues
    │   ├── YamlSyntaxError        not YAML, duplicate keys, alias bombs, too deep
    │   ├── InterpolationError     ${VAR:?msg} unset, bad ${...} syntax
    │   ├── ModelError             a value of the wrong shape or type, unknown keys
    │   ├── UndefinedReferenceError  unknown service / network / volume / secret / config
    │   ├── DependencyCycleError   "web -> api -> web"
    │   └── ProjectError           no compose file, bad project name, missing env file
    └── PlanError                  the desired state cannot be reached

The engine's errors are a tree of their own (``engine.api.errors.EngineError``, with
the same ``message``/``hint``/``render()``); the CLI prints both.

Only ``compose.cli`` prints these and chooses exit codes; library code raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

PathPart = str | int
KeyPath = tuple[PathPart, ...]


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Location:
    """A place in a stack file: 1-based line and column, as editors count."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: Sequence[PathPart]) -> str:
    """Render a key path the way users write it: ``services.web.ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where, which key, what is wrong, and (optionally) what to do."""

    message: str
    location: Location | None = None
    path: KeyPath = ()
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{format_path(self.path)}: " if self.path else ""
        text = f"{where}{what}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.message) if loc else ("", 0, 0, self.message)


class PycomposeError(Exception):
    """Base of all errors pycompose raises on purpose; ``str()`` is the user message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message + (f"\n    hint: {self.hint}" if self.hint else "")


class ComposeError(PycomposeError):
    """A problem in the stack files. Holds every issue found, sorted by place."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: list[Issue] = sorted(issues, key=Issue.sort_key)
        if not self.issues:
            raise ValueError("ComposeError needs at least one issue")
        super().__init__("\n".join(issue.render() for issue in self.issues))

    @classmethod
    def single(
        cls,
        message: str,
        location: Location | None = None,
        path: KeyPath = (),
        hint: str | None = None,
    ) -> ComposeError:
        return cls([Issue(message, location, path, hint)])

    def render(self) -> str:
        return self.message


class YamlSyntaxError(ComposeError):
    """The file is not valid YAML, or is too large, too deep or an alias bomb."""


class InterpolationError(ComposeError):
    """A ``${...}`` expression is malformed or a required variable is missing."""


class ModelError(ComposeError):
    """A value has the wrong shape or type, or a key is unknown."""


class UndefinedReferenceError(ComposeError):
    """A service refers to a service, network, volume, config or secret that is not defined."""


class DependencyCycleError(ComposeError):
    """Services depend on each other in a cycle."""


class ProjectError(ComposeError):
    """The project cannot be assembled: no compose file, bad name, missing file."""


class UnsupportedKeyError(ComposeError):
    """The project uses a key (or a value) that pycompose refuses: see compose.keys."""


class PlanError(PycomposeError):
    """The desired state cannot be reached from the observed state."""


def merge_errors(errors: Iterable[ComposeError]) -> ComposeError | None:
    """Combine the issues of several errors into one error of the first one's class."""
    errors = list(errors)
    if not errors:
        return None
    if len(errors) == 1:
        return errors[0]
    issues = [issue for error in errors for issue in error.issues]
    return type(errors[0])(issues)


def did_you_mean(name: str, known: Sequence[str]) -> str | None:
    """A hint naming the closest known name, if one is close."""
    import difflib

    matches = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {matches[0]!r}?" if matches else None


def display_path(path: Path | str, base: Path | None = None) -> str:
    """A file name for messages: relative to ``base`` when inside it."""
    p = Path(path)
    if base is not None:
        try:
            return str(p.relative_to(base))
        except ValueError:
            pass
    return str(p)
