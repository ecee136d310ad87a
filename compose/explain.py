"""`pycompose config --explain`: every value of the project with where it came from.

A value's origin is its file:line:column (the base file, an override file, a
file reached through ``extends`` or ``include``), plus the variables that were
substituted into it and where each variable was set (the shell environment or
an env file). Values that no file wrote were added as defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compose.errors import Location, format_path
from compose.load import LoadResult
from compose.source import MapNode, SeqNode


def _origin(result: LoadResult, location: Location | None, cwd: Path) -> str:
    if location is None:
        return "default"
    file = location.file
    prefix = str(cwd).rstrip("/") + "/"
    if file.startswith(prefix):
        file = file[len(prefix) :]
    text = f"{file}:{location.line}:{location.column}"
    names = result.used_variables.get(location)
    if names:
        parts = []
        for name in dict.fromkeys(names):
            source = result.env_sources.get(name)
            if source is None:
                parts.append(f"${{{name}}} unset")
            elif source == "environment":
                parts.append(f"${{{name}}} from the environment")
            else:
                parts.append(f"${{{name}}} from {source.removeprefix(prefix)}")
        text += " (" + ", ".join(parts) + ")"
    return text


def explain(result: LoadResult, cwd: Path) -> str:
    """One line per leaf value: ``path = value    # origin``."""
    lines: list[tuple[str, str, str]] = []

    def visit(node: Any, path: tuple[Any, ...], location: Location | None) -> None:
        if isinstance(node, MapNode) and len(node) > 0:
            for key, child in node.items():
                # a key with no location of its own was added by pycompose, not written
                written = key in node.value_locs or key in node.key_locs
                visit(child, (*path, key), node.location_of(key) if written else None)
            return
        if isinstance(node, SeqNode) and len(node) > 0:
            for index, child in enumerate(node):
                visit(child, (*path, index), node.location_of(index) if node.loc else None)
            return
        if isinstance(node, dict | list) and len(node) > 0:
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                visit(child, (*path, key), None)
            return
        value = json.dumps(node, ensure_ascii=False, default=str)
        lines.append((format_path(path), value, _origin(result, location, cwd)))

    visit(result.tree, (), None)
    width = min(max((len(p) + len(v) for p, v, _ in lines), default=0) + 3, 80)
    out = []
    for path, value, origin in lines:
        left = f"{path} = {value}"
        out.append(f"{left.ljust(width)} # {origin}")
    return "\n".join(out) + "\n"
