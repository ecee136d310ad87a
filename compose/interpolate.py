"""Interpolation: ``${VAR}`` substitution in the values of one file's tree.

Syntax, as the Compose Specification and docker compose define it::

    $$              a literal $
    $VAR  ${VAR}    the value of VAR, or "" (with a warning) when unset
    ${VAR:-d}       d when VAR is unset or empty     ${VAR-d}  d when VAR is unset
    ${VAR:?msg}     error when VAR is unset or empty ${VAR?msg} error when unset
    ${VAR:+x}       x when VAR is set and not empty  ${VAR+x}  x when VAR is set

Defaults and replacements are themselves interpolated, so ``${A:-${B:-x}}``
works. A ``$`` followed by anything else is kept as it is; ``${`` followed by
something that is not a variable name is an error. Mapping keys are never
interpolated. After substitution, strings at the paths of :data:`CASTS` are
converted to the type the specification wants there (``read_only: ${RO}``
becomes a boolean), as docker compose does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from compose.errors import InterpolationError, Issue, KeyPath, Location, format_path
from compose.source import MapNode, SeqNode

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
MAX_NESTING = 100  # ${A:-${B:-...}} levels; deeper is refused, never a RecursionError


class _TemplateError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclasses.dataclass
class Interpolator:
    """Substitutes variables from ``environment``; records the names it found unset.

    ``looked_up`` lists the variables read, for ``config --explain``.
    """

    environment: Mapping[str, str]
    unset: set[str] = dataclasses.field(default_factory=set)
    looked_up: list[str] = dataclasses.field(default_factory=list)
    depth: int = 0

    def lookup(self, name: str) -> str | None:
        self.looked_up.append(name)
        return self.environment.get(name)

    def substitute(self, template: str) -> str:
        """Interpolate one string; raises ``_TemplateError`` on bad syntax or a missing value."""
        if "$" not in template:
            return template
        if self.depth >= MAX_NESTING:
            raise _TemplateError(
                f"invalid interpolation: more than {MAX_NESTING} nested '${{' levels",
                "nest defaults and replacements less deeply",
            )
        self.depth += 1
        try:
            return self._substitute(template)
        finally:
            self.depth -= 1

    def _substitute(self, template: str) -> str:
        out: list[str] = []
        i, n = 0, len(template)
        while i < n:
            dollar = template.find("$", i)
            if dollar < 0:
                out.append(template[i:])
                break
            out.append(template[i:dollar])
            nxt = template[dollar + 1 : dollar + 2]
            if nxt == "$":
                out.append("$")
                i = dollar + 2
            elif nxt == "{":
                close = _closing_brace(template, dollar)
                if close < 0:
                    raise _TemplateError(
                        f"invalid interpolation format in {template!r}: '${{' is never closed",
                        "close it with '}', or escape a literal $ as $$",
                    )
                out.append(self._braced(template[dollar + 2 : close], template))
                i = close + 1
            else:
                match = _NAME.match(template, dollar + 1)
                if match is None:
                    out.append("$")  # a lone $ (e.g. "$1", "a $ b") stays as it is
                    i = dollar + 1
                else:
                    out.append(self._plain(match.group()))
                    i = match.end()
        return "".join(out)

    def _plain(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            self.unset.add(name)
            return ""
        return value

    def _braced(self, body: str, template: str) -> str:
        match = _NAME.match(body)
        if match is None:
            raise _TemplateError(
                f"invalid interpolation format in {template!r}: "
                f"'${{{body}}}' does not start with a variable name",
                "a name is letters, digits and _, not starting with a digit; "
                "escape a literal $ as $$",
            )
        name, rest = match.group(), body[match.end() :]
        if not rest:
            return self._plain(name)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise _TemplateError(
                f"invalid interpolation format in {template!r}: "
                f"unexpected {rest[0]!r} after the variable name {name}",
                "use ${VAR}, ${VAR:-default}, ${VAR:?error} or ${VAR:+replacement}; "
                "escape a literal $ as $$",
            )
        argument = rest[len(operator) :]
        value = self.lookup(name)
        is_set = value is not None
        not_empty = bool(value)
        if operator in (":-", "-"):
            use_default = not not_empty if operator == ":-" else not is_set
            return self.substitute(argument) if use_default else value or ""
        if operator in (":?", "?"):
            missing = not not_empty if operator == ":?" else not is_set
            if missing:
                reason = self.substitute(argument)
                message = f"required variable {name} is missing a value"
                raise _TemplateError(
                    message + (f": {reason}" if reason else ""),
                    f"set {name} in the environment or in the project's .env file",
                )
            return value or ""
        # ":+" and "+": a replacement when set
        use_replacement = not_empty if operator == ":+" else is_set
        return self.substitute(argument) if use_replacement else ""


def _closing_brace(template: str, start: int) -> int:
    """Index of the ``}`` that closes the ``${`` at ``start``; nested ``${`` count."""
    depth = 0
    i, n = start, len(template)
    while i < n:
        if template.startswith("${", i):
            depth += 1
            i += 2
            continue
        if template[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


# --- type casts after substitution -------------------------------------------------------


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("y", "yes", "true", "on"):
        return True
    if lowered in ("n", "no", "false", "off"):
        return False
    raise ValueError(f"invalid boolean: {text}")


_GO_INT = re.compile(r"[+-]?[0-9]+")


def _to_int(text: str) -> int:
    # Go's strconv.Atoi: no spaces, no underscores (Python's int() takes both)
    if not _GO_INT.fullmatch(text):
        raise ValueError(f"invalid integer: {text!r}")
    return int(text, 10)


def _to_float(text: str) -> float:
    # Go's strconv.ParseFloat takes no surrounding spaces (Python's float() does)
    if text != text.strip():
        raise ValueError(f"could not convert string to float: {text!r}")
    return float(text)


# Paths whose string values are converted after substitution ("*" any key, "[]" any item),
# written as dotted patterns, whitespace-separated.
_INT_PATHS = """
services.*.cpu_count services.*.cpu_period services.*.cpu_quota services.*.cpu_rt_period
services.*.cpu_rt_runtime services.*.cpu_shares services.*.deploy.replicas
services.*.deploy.update_config.parallelism services.*.deploy.rollback_config.parallelism
services.*.deploy.restart_policy.max_attempts
services.*.deploy.placement.max_replicas_per_node services.*.healthcheck.retries
services.*.oom_score_adj services.*.pids_limit services.*.ports.[].target services.*.scale
services.*.ulimits.* services.*.ulimits.*.hard services.*.ulimits.*.soft
"""
_FLOAT_PATHS = """
services.*.cpu_percent services.*.cpus services.*.deploy.update_config.max_failure_ratio
services.*.deploy.rollback_config.max_failure_ratio
"""
_BOOL_PATHS = """
services.*.init services.*.healthcheck.disable services.*.oom_kill_disable
services.*.privileged services.*.read_only services.*.stdin_open services.*.tty
services.*.volumes.[].read_only services.*.volumes.[].volume.nocopy networks.*.external
networks.*.internal networks.*.attachable networks.*.enable_ipv4 networks.*.enable_ipv6
volumes.*.external secrets.*.external configs.*.external
"""
CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    tuple(pattern.split(".")): cast
    for patterns, cast in (
        (_INT_PATHS, _to_int),
        (_FLOAT_PATHS, _to_float),
        (_BOOL_PATHS, _to_bool),
    )
    for pattern in patterns.split()
}

# Index the patterns by (first key, third key): most paths match none, cheaply.
_CASTS_BY_KEYS: dict[tuple[str, str], list[tuple[tuple[str, ...], Callable[[str], Any]]]] = {}
for _pattern, _cast in CASTS.items():
    _CASTS_BY_KEYS.setdefault((_pattern[0], _pattern[2]), []).append((_pattern, _cast))


def _cast_for(path: KeyPath) -> Callable[[str], Any] | None:
    if len(path) < 3:
        return None
    candidates = _CASTS_BY_KEYS.get((path[0], path[2]))  # type: ignore[arg-type]
    if not candidates:
        return None
    for pattern, cast in candidates:
        if len(pattern) != len(path):
            continue
        for want, got in zip(pattern, path, strict=True):
            if want == "*":
                if isinstance(got, int):
                    break
            elif want == "[]":
                if not isinstance(got, int):
                    break
            elif want != got:
                break
        else:
            return cast
    return None


# --- the tree walk ---------------------------------------------------------------------


def interpolate_tree(
    tree: Any,
    interpolator: Interpolator,
    used: dict[Location, list[str]] | None = None,
) -> Any:
    """Interpolate every string value of ``tree`` in place; collect all errors at once.

    ``used``, when given, receives the variables each value read, by its location.

    Raises :class:`InterpolationError` listing every bad expression and every
    missing required variable, each with the file:line:column of its value.
    """
    issues: list[Issue] = []
    # (container, key-or-index, path); iterative so deep trees cost no recursion
    stack: list[tuple[MapNode | SeqNode | dict[Any, Any] | list[Any], KeyPath]] = []
    if isinstance(tree, dict | list):
        stack.append((tree, ()))
    while stack:
        node, path = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in items:
            child_path = (*path, key)
            if isinstance(value, dict | list):
                stack.append((value, child_path))
                continue
            if not isinstance(value, str):
                continue
            interpolator.looked_up = []
            try:
                new_value: Any = interpolator.substitute(value)
            except _TemplateError as exc:
                issues.append(Issue(exc.message, _location(node, key), child_path, exc.hint))
                continue
            cast = _cast_for(child_path)
            if cast is not None:
                try:
                    new_value = cast(new_value)
                except ValueError as exc:
                    issues.append(
                        Issue(
                            f"cannot use {new_value!r} here: {_cast_message(exc)}",
                            _location(node, key),
                            child_path,
                        )
                    )
                    continue
            if used is not None and interpolator.looked_up:
                location = _location(node, key)
                if location is not None:
                    used[location] = list(interpolator.looked_up)
            if new_value is not value:
                node[key] = new_value
    if issues:
        raise InterpolationError(issues)
    return tree


def _cast_message(exc: ValueError) -> str:
    text = str(exc)
    if text.startswith("invalid boolean"):
        return "expected a boolean (true or false)"
    if "float" in text:
        return "expected a number"
    return "expected an integer"


def _location(node: Any, key: Any) -> Location | None:
    if isinstance(node, MapNode | SeqNode):
        return node.location_of(key)
    return None


def substitute(text: str, environment: Mapping[str, str], where: KeyPath = ()) -> str:
    """Interpolate a single string (used for values outside stack files, e.g. .env)."""
    try:
        return Interpolator(environment).substitute(text)
    except _TemplateError as exc:
        prefix = f"{format_path(where)}: " if where else ""
        raise InterpolationError([Issue(prefix + exc.message, None, (), exc.hint)]) from None
