"""Where a command's output goes: the terminal's streams, and the shapes printed on them.

:class:`Terminal` holds stdout, stderr and the ``--progress``/``--ansi`` choices, so that
commands can be run against string buffers in tests. The helpers here print tables
(``ps``, ``top``, ``images``) and log lines (``logs``, attached ``up``) as docker compose does.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from compose.progress import Progress

COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


@dataclasses.dataclass
class Terminal:
    """stdout, stderr and stdin of a command, and how progress and colour are shown."""

    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)
    progress: str = "auto"
    ansi: str = "auto"
    inp: TextIO = dataclasses.field(default_factory=lambda: sys.stdin)

    def piped_input(self) -> bytes | None:
        """All of stdin when it is piped (not a terminal), else None."""
        if self.inp.isatty():
            return None
        return self.inp.buffer.read()

    def color(self) -> bool:
        if self.ansi == "never" or os.environ.get("NO_COLOR"):
            return False
        return self.ansi == "always" or self.out.isatty()

    def progress_display(self) -> Progress:
        """The ``--progress`` display of operations, on stderr."""
        from compose.progress import Progress  # rich: only for commands that show progress

        return Progress(self.progress, self.err, self.ansi)


def print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns padded to their widest cell, three spaces apart (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    print("\n".join(lines), file=out)  # one write, not one per row


class LogPrinter:
    """``service-1  | line`` with a colour per service, as docker compose prints."""

    def __init__(
        self,
        terminal: Terminal,
        names: Iterable[str],
        *,
        prefix: bool = True,
        timestamps: bool = False,
        color: bool | None = None,
    ) -> None:
        self.terminal = terminal
        self.prefix = prefix
        self.timestamps = timestamps
        self.color = terminal.color() if color is None else color
        self.width = max((len(n) for n in names), default=0)
        self.colors: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        if not self.prefix:
            print(text, file=self.terminal.out, flush=True)
            return
        label = f"{name:<{self.width}} | "
        if self.color:
            code = self.colors.setdefault(name, COLORS[len(self.colors) % len(COLORS)])
            label = f"\x1b[{code}m{label}\x1b[0m"
        print(label + text, file=self.terminal.out, flush=True)
