"""Refusing the keys and values a project uses that pycompose does not honour (no I/O).

:func:`check_keys` walks the loaded tree against :data:`compose.keys.table.KEYS`: a refused
key is an error naming it at file:line:column, an ignored key (one docker compose ignores
too: swarm-only settings) a warning; :data:`VALUE_RULES` refuse the values of honoured keys
that pycompose cannot do (``logging.driver: syslog``, ``runtime: kata``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from compose import pull_policy
from compose.errors import Issue, UnsupportedKeyError
from compose.keys.table import KEYS, Status
from compose.source import MapNode, SeqNode, key_location_of, location_of

ValueRule = Callable[[Any], str | None]
"""A check of an honoured key's value: the reason it is refused, or None."""

LOG_DRIVERS = ("json-file", "local", "none")


def _log_driver(value: Any) -> str | None:
    if isinstance(value, str) and value and value not in LOG_DRIVERS:
        return f"logging driver {value!r} is not supported: use json-file, local or none"
    return None


def _runtime(value: Any) -> str | None:
    if isinstance(value, str) and value not in ("", "runc"):
        return f"runtime {value!r} is not available: the engine runs containers with runc only"
    return None


def _userns(value: Any) -> str | None:
    if isinstance(value, str) and value not in ("", "host"):
        return f"userns_mode {value!r} is not supported: the engine does not remap users"
    return None


def _pull_policy(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            pull_policy.refresh_interval(value)
        except pull_policy.PullPolicyError as error:
            return f"pull_policy {value!r}: {error} (every_ takes e.g. every_12h or every_2d)"
    return None


VALUE_RULES: dict[str, ValueRule] = {
    "services.*.logging.driver": _log_driver,
    "services.*.runtime": _runtime,
    "services.*.userns_mode": _userns,
    "services.*.pull_policy": _pull_policy,
}

_PREFIXES = frozenset(
    pattern[: match.start()] for pattern in KEYS for match in re.finditer(r"[.\[]", pattern)
)


def _walk(
    node: Any, pattern: str, path: tuple[Any, ...]
) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """(table pattern, path in the tree, value) of every key under ``node`` the table knows."""
    if isinstance(node, SeqNode | list):
        item = f"{pattern}[]"
        if item in _PREFIXES:
            for index, value in enumerate(node):
                yield from _walk(value, item, (*path, index))
        return
    if not isinstance(node, MapNode | dict):
        return
    for key, value in node.items():
        if not isinstance(key, str) or key.startswith("x-"):
            continue
        exact = f"{pattern}.{key}" if pattern else key
        if exact in KEYS:
            child = exact
        elif f"{pattern}.*" in KEYS or f"{pattern}.*" in _PREFIXES:
            child = f"{pattern}.*"
        else:
            continue
        if child in KEYS:
            yield child, (*path, key), value
            if KEYS[child].status is not Status.HONOURED:
                continue  # its parts say nothing more
        if child in _PREFIXES:
            yield from _walk(value, child, (*path, key))


def uses(tree: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """Every key the project uses: (table pattern, path, value)."""
    yield from _walk(tree, "", ())


def check_keys(tree: Mapping[str, Any]) -> list[str]:
    """Refuse the refused keys and values the project uses; the warnings of ignored ones.

    ``tree`` is the loaded project (``LoadResult.tree``, with locations). Raises
    UnsupportedKeyError listing every refused key with file:line:column.
    """
    issues: list[Issue] = []
    warnings: list[str] = []
    for pattern, path, value in uses(tree):
        entry = KEYS[pattern]
        if entry.status is Status.REFUSED:
            issues.append(
                Issue(
                    f"not supported by pycompose: {entry.why}",
                    key_location_of(tree, path),
                    path,
                    hint="remove the key (docs/compose-keys.md lists what pycompose honours)",
                )
            )
        elif entry.status is Status.IGNORED:
            where = key_location_of(tree, path)
            place = f"{where}: " if where else ""
            warnings.append(f"{place}{'.'.join(map(str, path))} is ignored: {entry.why}")
        rule = VALUE_RULES.get(pattern)
        reason = rule(value) if rule else None
        if reason:
            issues.append(Issue(reason, location_of(tree, path), path))
    if issues:
        raise UnsupportedKeyError(issues)
    return warnings
