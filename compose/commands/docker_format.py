"""Cells as docker compose's ``ps`` formats them (its Go libraries, rewritten): durations
(go-units ``HumanDuration``, :mod:`engine.api.units`), truncated and quoted commands
(docker/cli ``Ellipsis`` and Go's ``strconv.Quote``), port lists (docker/cli
``DisplayablePorts``) and the table (``text/tabwriter`` as docker/cli sets it up: cells at
least 10 wide, 3 spaces of padding); and :func:`emit`, the ``--format`` writer of ``ps``,
``ls``, ``images``, ``stats`` and ``volumes``.

Pure: no I/O but writing the table to the stream given.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TextIO

from compose.commands.terminal import print_table

TAB_MIN_WIDTH = 10
TAB_PADDING = 3


def _width(char: str) -> int:
    """Columns a character takes on a terminal (go-runewidth, East Asian ambiguous as 1)."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def ellipsis(text: str, width: int) -> str:
    """docker/cli ``Ellipsis``: ``text`` cut to ``width`` columns, its last one an ``…``."""
    if width <= 0:
        return ""
    if width == 1:
        return text[:1]
    if text.isascii():
        return text if len(text) <= width else text[: width - 1] + "…"
    ends = []
    total = 0
    for char in text:
        total += _width(char)
        ends.append(total)
    if total <= width:
        return text
    for index in range(len(ends) - 1):
        if ends[index] <= width - 1 < ends[index + 1]:
            return text[: index + 1] + "…"
    return text


_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, backslash escapes for what is not printable."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # most commands: nothing to escape
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: object) -> str:
    """``value`` as Go's ``encoding/json`` writes it: compact, UTF-8 as is, ``<``, ``>``,
    ``&`` and the line separators escaped (keys in the order given: Go sorts a map's)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _HTML.items():  # only inside strings: JSON's syntax has none
        text = text.replace(char, escaped)
    return text


def go_time(seconds: int) -> str:
    """Go's ``time.Unix(seconds, 0).String()`` in the local zone (``2026-12-07 12:25:32
    +0000 UTC``)."""
    moment = time.localtime(seconds)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", moment) + (moment.tm_zone or "")


class Published(NamedTuple):
    """One port of a container: ``ip`` empty when it is not published."""

    ip: str
    private: int
    public: int
    protocol: str


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"  # Go's net.JoinHostPort


def _group(key: str, first: int, last: int) -> str:
    ip, _, protocol = key.rpartition("/")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{ports}->{ports}/{protocol}" if ip else f"{ports}/{protocol}"


def displayable_ports(ports: Iterable[Published]) -> str:
    """docker/cli ``DisplayablePorts``: runs of ports published on the same number grouped
    (``0.0.0.0:8000-8001->8000-8001/tcp``), other mappings after them."""
    ordered = sorted(ports, key=lambda p: (p.private, p.ip, p.public, p.protocol))
    groups: dict[str, list[int]] = {}  # key -> [first, last], in the order keys appear
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        key = port.protocol
        if port.ip:
            if port.public != port.private:
                host = _host_port(port.ip, port.public)
                mappings.append(f"{host}->{port.private}/{port.protocol}")
                continue
            key = f"{port.ip}/{port.protocol}"
        group = groups.get(key)
        if group is None:
            groups[key] = [port.private, port.private]
        elif port.private == group[1] + 1:
            group[1] = port.private
        else:
            result.append(_group(key, group[0], group[1]))
            groups[key] = [port.private, port.private]
    result.extend(_group(key, first, last) for key, (first, last) in groups.items())
    return ", ".join(result + mappings)


def tab_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Rows through ``text/tabwriter`` as docker/cli's formatter writes them: every cell but
    a row's last padded to its column's widest plus 3, at least 10 (so a row whose last cell
    is empty ends in spaces, as docker compose's do)."""
    columns = len(rows[0]) - 1
    widths = [
        max(TAB_MIN_WIDTH, max(len(row[i]) for row in rows) + TAB_PADDING) for i in range(columns)
    ]
    lines = ["".join(row[i].ljust(widths[i]) for i in range(columns)) + row[-1] for row in rows]
    print("\n".join(lines), file=out)  # one write, not one per row


def emit(
    format_: str,
    rows: Sequence[Mapping[str, Any]],
    table: Sequence[Sequence[str]],
    out: TextIO,
    *,
    titles: Mapping[str, str] | None = None,
    json_lines: bool = True,
) -> None:
    """``rows`` as ``--format`` asks: ``table`` (the given cells), ``json`` (one object per
    line, or one array), or a Go template."""
    if format_ == "table":
        print_table(table, out)
    elif format_ == "json":
        plain = [{k: v for k, v in row.items() if not callable(v)} for row in rows]
        if json_lines:
            for row in plain:
                print(json.dumps(row), file=out)
        else:
            print(json.dumps(plain), file=out)
    else:
        from compose.gotemplate import render_rows  # a Go template only

        for line in render_rows(format_, rows, titles):
            print(line, file=out)
