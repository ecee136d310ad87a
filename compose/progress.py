"""Progress display for operations on a project (`up`, `down`, `stop`, ...).

Consumes :class:`compose.apply.ProgressEvent` and never touches the plan. Modes,
as docker compose's ``--progress``:

- ``tty``: a live block, one line per resource with its latest status;
- ``plain``: one line per event (for CI logs and pipes);
- ``json``: one JSON object per event;
- ``quiet``: nothing.

``auto`` is ``tty`` on a terminal and ``plain`` otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from compose.apply import ProgressEvent

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

# rich is imported by the tty mode only: plain, json and quiet (pipes, CI) start without it


class Progress:
    def __init__(
        self, mode: str = "auto", stream: TextIO | None = None, ansi: str = "auto"
    ) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "tty" if self.stream.isatty() and ansi != "never" else "plain"
        self.mode = mode
        self.rows: dict[tuple[str, str], ProgressEvent] = {}
        self.started: dict[tuple[str, str], float] = {}
        self.finished: dict[tuple[str, str], float] = {}
        self.title = "Running"
        self._live: Live | None = None

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.kind, event.name)
        now = time.monotonic()
        self.started.setdefault(key, now)
        if event.done or event.error:
            self.finished[key] = now
        else:
            self.finished.pop(key, None)
        self.rows[key] = event
        if self.mode == "plain":
            detail = f" {event.detail}" if event.detail else ""
            print(
                f" {event.kind} {event.name}  {event.status}{detail}", file=self.stream, flush=True
            )
        elif self.mode == "json":
            print(
                json.dumps(
                    {
                        "id": f"{event.kind} {event.name}",
                        "status": event.status,
                        "text": event.detail,
                        "error": event.error,
                    }
                ),
                file=self.stream,
                flush=True,
            )
        elif self._live is not None:
            self._live.update(self.render())

    def render(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        done = sum(1 for key in self.rows if key in self.finished)
        table = Table.grid(padding=(0, 1))
        table.add_row(Text(f"[+] {self.title} {done}/{len(self.rows)}", style="bold"))
        for key, event in self.rows.items():
            elapsed = self.finished.get(key, time.monotonic()) - self.started[key]
            if event.error:
                mark = Text("✘", style="red")
            elif key in self.finished:
                mark = Text("✔", style="green")
            else:
                mark = Text("⠿", style="blue")
            line = Text(" ")
            line.append_text(mark)
            line.append(f" {event.kind} {event.name:<30} {event.status:<10}")
            if event.detail:
                line.append(f" {event.detail}", style="dim")
            line.append(f" {elapsed:5.1f}s", style="dim")
            table.add_row(line)
        return table

    @contextmanager
    def running(self, title: str = "Running") -> Iterator[Progress]:
        """Show the live block while the body runs (tty mode); a no-op otherwise."""
        self.title = title
        if self.mode != "tty":
            yield self
            return
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.stream, force_terminal=True)
        with Live(self.render(), console=console, refresh_per_second=8, transient=False) as live:
            self._live = live
            try:
                yield self
            finally:
                live.update(self.render())
                self._live = None
