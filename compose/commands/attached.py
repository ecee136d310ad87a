"""Attached ``up``: every attached service's output live, until the project ends or is stopped.

As docker compose does:

- ``Attaching to a-1, b-1`` and then each container's lines as ``a-1  | line``, coloured
  per container (no colour with ``--no-color``, ``--ansi never``, NO_COLOR, or when stdout
  is no terminal), ``a-1 exited with code N`` when one ends;
- containers that start later (``up --scale`` from elsewhere, a restart policy) are
  followed too, found by the engine's ``start`` events;
- the first Ctrl-C (or SIGTERM) stops the project ("Gracefully Stopping... press Ctrl+C
  again to force"), the second kills it; either way the exit status is 130;
- ``--abort-on-container-exit`` (implied by ``--exit-code-from``) stops the project when
  an attached container exits, ``--abort-on-container-failure`` when one fails; the exit
  status is that container's code, or with ``--exit-code-from`` that service's;
- when every attached container has exited (and none is restarting), ``up`` ends, 0.

Each container is followed by a task of its own reading its log from the moment ``up``
began (nothing printed in between is lost); lines go through one bounded channel to the one
task that writes them, so a slow terminal holds the readers back and nothing piles up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Iterable

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from compose import labels
from compose.commands.session import Session
from compose.commands.terminal import COLORS
from compose.observed import ObservedContainer
from engine.api.errors import EngineError, NotFound

# lines waiting for the terminal; a container's partial line is cut at this many bytes
CHANNEL_SIZE = 256
MAX_LINE = 64 * 1024
SETTLE = 3  # seconds an ended log may wait for the engine to record the container's end
EXIT_SIGINT = 130


@dataclasses.dataclass
class AttachOptions:
    """What ``up``'s flags ask of the attached part."""

    services: frozenset[str]  # the services whose output is shown
    color: bool
    prefix: bool = True
    timestamps: bool = False
    abort_on_exit: bool = False
    abort_on_failure: bool = False
    exit_code_from: str | None = None
    stop_timeout: int | None = None


@dataclasses.dataclass
class _Line:
    name: str
    text: str
    exit_line: bool = False
    error: bool = False  # a message of pycompose's own, on stderr


class AttachedUp:
    """One attached ``up`` after its plan ran: see the module's docstring."""

    def __init__(self, session: Session, options: AttachOptions, since: float) -> None:
        self.session = session
        self.options = options
        self.since = since
        self.project = session.desired.project
        self.colors: dict[str, str] = {}
        self.width = 0
        self.following: set[str] = set()  # container ids whose log is being read
        self.restarting: set[str] = set()  # ended, but their restart policy brings them back
        self.finished_at: dict[str, float] = {}  # container id -> when its follower ended
        self.exit_codes: dict[str, int] = {}  # service -> last exit code seen
        self.status = 0
        self.stopping = False
        self.done = anyio.Event()
        self._lines: MemoryObjectSendStream[_Line] | None = None
        self._tasks: TaskGroup | None = None

    def label(self, container: ObservedContainer) -> str:
        return container.name.removeprefix(self.project + "-")

    async def run(self, containers: Iterable[ObservedContainer]) -> int:
        attached = [c for c in containers if c.service in self.options.services]
        self.width = max((len(self.label(c)) for c in attached), default=0)
        terminal = self.session.terminal
        if attached:
            names = ", ".join(self.label(c) for c in attached)
            print(f"Attaching to {names}", file=terminal.out, flush=True)
        send, receive = anyio.create_memory_object_stream[_Line](CHANNEL_SIZE)
        self._lines = send
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._write_lines, receive)
            async with send, anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self._signals)
                started = anyio.Event()
                tasks.start_soon(self._watch_starts, started)
                await started.wait()
                for container in attached:
                    self._follow(container, self.since)
                self._check_all_exited()
                await self.done.wait()
                tasks.cancel_scope.cancel()
        return self.status

    # --- output -------------------------------------------------------------------

    async def _write_lines(self, receive: anyio.abc.ObjectReceiveStream[_Line]) -> None:
        out, err = self.session.terminal.out, self.session.terminal.err
        async with receive:
            async for line in receive:
                if line.error:
                    print(line.text, file=err, flush=True)
                    continue
                if line.exit_line:
                    text = line.text
                    if self.options.color:
                        text = f"\x1b[{self._color(line.name)}m{text}\x1b[0m"
                elif not self.options.prefix:
                    text = line.text
                else:
                    label = f"{line.name:<{self.width}} | "
                    if self.options.color:
                        label = f"\x1b[{self._color(line.name)}m{label}\x1b[0m"
                    text = label + line.text
                print(text, file=out, flush=True)

    def _color(self, name: str) -> str:
        return self.colors.setdefault(name, COLORS[len(self.colors) % len(COLORS)])

    # --- following containers -------------------------------------------------------

    def _follow(self, container: ObservedContainer, since: float) -> None:
        assert self._tasks is not None
        if container.id in self.following:
            return
        self.following.add(container.id)
        self.restarting.discard(container.id)
        self.width = max(self.width, len(self.label(container)))
        self._tasks.start_soon(self._follow_one, container, since)

    async def _follow_one(self, container: ObservedContainer, since: float) -> None:
        assert self._lines is not None
        name = self.label(container)
        client = self.session.client
        pending = {1: b"", 2: b""}
        try:
            async for stream, chunk in client.container_logs(
                container.id, follow=True, timestamps=self.options.timestamps, since=since
            ):
                data = pending.get(stream, b"") + chunk
                *lines, rest = data.split(b"\n")
                while len(rest) > MAX_LINE:
                    lines.append(rest[:MAX_LINE])
                    rest = rest[MAX_LINE:]
                pending[stream] = rest
                for raw in lines:
                    await self._lines.send(_Line(name, raw.decode(errors="replace")))
            for rest in pending.values():
                if rest:
                    await self._lines.send(_Line(name, rest.decode(errors="replace")))
            state = (await client.container_inspect(container.id)).State
            # the log ends as the process does; the engine records the end a moment later
            with anyio.move_on_after(SETTLE):
                while state.Running and not state.Restarting:
                    await anyio.sleep(0.05)
                    state = (await client.container_inspect(container.id)).State
        except NotFound:  # removed meanwhile (``down`` from elsewhere)
            self.following.discard(container.id)
            self._check_all_exited()
            return
        self.following.discard(container.id)
        self.finished_at[container.id] = time.time()
        if state.Running and not state.Restarting:
            # the log ended but the container runs: a restart came quicker than this reader
            self._follow(container, self.finished_at[container.id])
            return
        code = state.ExitCode
        self.exit_codes[container.service] = code
        again = state.Restarting and not self.stopping
        text = f"{name} exited with code {code}" + (" (restarting)" if again else "")
        await self._lines.send(_Line(name, text, exit_line=True))
        if again:
            self.restarting.add(container.id)
        await self._on_exit(code)
        self._check_all_exited()

    async def _watch_starts(self, started: anyio.Event) -> None:
        """Containers of attached services that start from now on (scale, restarts)."""
        client = self.session.client
        filters = {
            "type": ["container"],
            "event": ["start"],
            "label": [f"{labels.PROJECT}={self.project}"],
        }
        since = time.time()
        events = client.events(filters=filters, since=since)
        started.set()
        async for event in events:
            container_id = event.Actor.ID
            attributes = event.Actor.Attributes
            service = attributes.get(labels.SERVICE, "")
            if self.stopping or service not in self.options.services:
                continue
            if labels.is_true(attributes.get(labels.ONEOFF)):
                continue
            when = event.timeNano / 1e9 if event.timeNano else float(event.time)
            if container_id in self.following:
                continue
            ended = self.finished_at.get(container_id)
            if ended is not None and when < ended - 1 and container_id not in self.restarting:
                continue  # the start of a run already followed to its end
            try:
                found = [
                    c
                    for c in await self.session.containers(services=[service])
                    if c.id == container_id
                ]
            except EngineError:
                continue
            for container in found:
                self._follow(container, when - 1 if ended is None else max(when - 1, ended))

    def _check_all_exited(self) -> None:
        if not self.following and not self.restarting and not self.stopping:
            self.done.set()

    # --- ending ---------------------------------------------------------------------

    async def _on_exit(self, code: int) -> None:
        options = self.options
        if self.stopping:
            return
        if options.abort_on_exit or (options.abort_on_failure and code != 0):
            self.status = code
            await self._start_stop("Aborting on container exit...", red=True)

    async def _start_stop(self, message: str, *, red: bool = False) -> None:
        """Stop the project, after ``message`` (in the channel: after the lines before it)."""
        assert self._tasks is not None and self._lines is not None
        self.stopping = True
        if red and self.options.color:
            message = f"\x1b[31m\x1b[1m{message}\x1b[0m"
        await self._lines.send(_Line("", message, error=True))
        self._tasks.start_soon(self._stop_all)

    async def _stop_all(self) -> None:
        session = self.session
        await session.stop_in_order(await session.containers(all=False), self.options.stop_timeout)
        # the followers see their containers end and print it; then the exit status
        with anyio.move_on_after(5):
            while self.following:
                await anyio.sleep(0.05)
        if self.options.exit_code_from:
            self.status = self.exit_codes.get(self.options.exit_code_from, self.status)
        self.done.set()

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                if not self.stopping:
                    self.status = EXIT_SIGINT  # as docker compose (without its menu)
                    await self._start_stop("Gracefully Stopping... press Ctrl+C again to force")
                    continue
                await self._kill_all()
                self.status = EXIT_SIGINT
                self.done.set()
                return

    async def _kill_all(self) -> None:
        session = self.session

        async def kill(container: ObservedContainer) -> None:
            with contextlib.suppress(EngineError):  # it may have stopped meanwhile
                await session.client.container_kill(container.id)

        with anyio.CancelScope(shield=True):
            await session.each(await session.containers(all=False), kill, "Killing", "Killed")
