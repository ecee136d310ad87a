"""The building blocks of compose.canonical's rules.

Located issues collected over one file (:class:`Problems`), new nodes that carry the
location of the short syntax they replace (:func:`new_map`, :func:`new_seq`), and the
rules many keys share: ``KEY=VALUE`` lists to mappings, a string or a list, shell words.
"""

from __future__ import annotations

import shlex
from typing import Any

from compose.errors import Issue, Location
from compose.source import MapNode, SeqNode

Loc = Location | None
DROP = object()  # a rule's answer for "leave the key out"


class Problems:
    """Issues found while canonicalizing one file; raised together at the end."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, message: str, loc: Loc, path: tuple[Any, ...], hint: str | None = None) -> None:
        self.issues.append(Issue(message, loc, path, hint))


def new_map(loc: Loc, items: dict[str, Any] | None = None) -> MapNode:
    node = MapNode(loc)
    if items:
        for key, value in items.items():
            node.set(key, value, loc, loc)
    return node


def new_seq(loc: Loc, items: list[Any] | None = None) -> SeqNode:
    node = SeqNode(loc)
    for item in items or ():
        node.add(item, loc)
    return node


def scalar_str(value: Any) -> str:
    """A scalar as docker compose prints it in a string field (``true``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


# --- list or mapping helpers -------------------------------------------------------------


def kind_of(value: Any) -> str:
    return (
        "a mapping"
        if isinstance(value, dict)
        else "a list"
        if isinstance(value, list)
        else repr(value)
    )


def key_value_list_to_map(
    value: Any,
    loc: Loc,
    path: tuple[Any, ...],
    problems: Problems,
    *,
    missing: Any,
    sep: str = "=",
) -> Any:
    """``["A=b", "C"]`` -> ``{A: "b", C: missing}``; mappings are returned as they are."""
    if isinstance(value, MapNode) and "" in value:
        problems.add(
            "a key cannot be empty", value.key_locs.get("", loc), path, hint="name the entry"
        )
    if not isinstance(value, SeqNode):
        return value
    out = MapNode(value.loc or loc)
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, MapNode | SeqNode):
            problems.add(
                f'expected a "KEY{sep}VALUE" string, got {kind_of(item)}',
                item_loc,
                (*path, index),
                hint=f"write the entry as KEY{sep}VALUE, or turn the whole list into a mapping",
            )
            continue
        if not isinstance(item, str):
            problems.add(
                f'expected a "KEY{sep}VALUE" string, got {kind_of(item)}',
                item_loc,
                (*path, index),
                hint="quote the entry",
            )
            continue
        key, found, rest = item.partition(sep)
        out.set(key, rest if found else missing, item_loc, item_loc)
    return out


def list_only(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if value is not None and not isinstance(value, SeqNode):
        problems.add(f"expected a list, got {kind_of(value)}", loc, path)
    return value


def string_or_list(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if value == "":
        return DROP  # e.g. `dns: ${UNSET}`: docker compose prints nothing
    if isinstance(value, str):
        return new_seq(loc, [value])
    return value


def shell_command(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """``command: echo hi`` -> ``["echo", "hi"]`` (POSIX shell words, as compose splits them)."""
    if not isinstance(value, str):
        return value
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        problems.add(
            f"cannot split {value!r} into words: {exc}", loc, path, hint="check the quotes"
        )
        return value
    return new_seq(loc, words)
