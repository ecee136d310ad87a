"""The variables a compose file uses, with their defaults, as ``config --variables`` lists
them: read from the file's text, before interpolation (pure, no I/O)."""

from __future__ import annotations

import dataclasses
import re

# $$ (an escaped dollar), ${NAME...} or $NAME
_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


@dataclasses.dataclass
class Variable:
    name: str
    required: bool = False
    default: str = ""
    alternate: str = ""


def file_variables(text: str) -> list[Variable]:
    """The variables of one file's text, in order of first use (later uses add details)."""
    found: dict[str, Variable] = {}
    for match in _REFERENCE.finditer(text):
        name = match["braced"] or match["plain"]
        if not name:
            continue
        variable = found.setdefault(name, Variable(name))
        op, arg = match["op"], match["arg"] or ""
        if op in ("?", ":?"):
            variable.required = True
        elif op in ("-", ":-"):
            variable.default = arg
        elif op in ("+", ":+"):
            variable.alternate = arg
    return list(found.values())


def render_table(variables: list[Variable]) -> str:
    """docker compose's table: columns at least 20 wide."""
    rows = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE")]
    rows += [(v.name, "true" if v.required else "false", v.default, v.alternate) for v in variables]
    widths = [max(20, *(len(row[i]) + 1 for row in rows)) for i in range(4)]
    return "".join(
        "".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + "\n" for row in rows
    )


def as_json(variables: list[Variable]) -> dict[str, dict[str, object]]:
    return {
        v.name: {
            "Name": v.name,
            "DefaultValue": v.default,
            "PresenceValue": v.alternate,
            "Required": v.required,
        }
        for v in sorted(variables, key=lambda v: v.name)
    }
