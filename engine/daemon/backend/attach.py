"""``docker attach``: a container's output from the attach moment on, and its stdin.

Output is read from the container's log, followed from the attach moment (so ``docker
run`` attached and ``compose up`` see everything the run writes) and sent as written:
partial lines at once, so a terminal's prompt shows before its line ends. Stdin goes to
the container through conmon's attach socket; with a TTY, the detach keys (``detachKeys``,
default ctrl-p ctrl-q) end the attach and leave the container running.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import anyio

from engine.api.models.detach_keys import EscapeScanner
from engine.daemon.backend.shapes import STREAM_NUMBERS
from engine.daemon.backend_api import AttachOptions, OutputSink
from engine.errors import EngineError, NotFound
from engine.runtime import ContainerRuntime, ContainerState
from engine.runtime.monitor import AttachConnection
from engine.state import ContainerRecord


class AttachCounts:
    """How many attach sessions each container has: AutoRemove waits for them to end."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def is_attached(self, container_id: str) -> bool:
        return container_id in self._counts

    @contextlib.contextmanager
    def holding(self, container_id: str) -> Iterator[None]:
        self._counts[container_id] = self._counts.get(container_id, 0) + 1
        try:
            yield
        finally:
            self._counts[container_id] -= 1
            if not self._counts[container_id]:
                del self._counts[container_id]


class AttachSession:
    """One ``attach``; ends when the container stops."""

    def __init__(
        self,
        runtime: ContainerRuntime,
        record: ContainerRecord,
        options: AttachOptions,
        attached: AttachCounts,
    ) -> None:
        self._runtime = runtime
        self._record = record
        self._options = options
        self._attached = attached
        self._since = time.time()

    @property
    def tty(self) -> bool:
        return bool(self._record.body.get("Tty"))

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        with self._attached.holding(self._record.id):
            try:
                await self._stream(stdin, output)
            except NotFound:
                return

    async def _stream(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        container_id = self._record.id
        if not self._options.stream:
            return
        # attach comes before start: wait for the run that follows
        while True:
            info = self._runtime.inspect(container_id)
            if info.state is not ContainerState.CREATED and (
                info.started_at >= self._since - 1 or info.state is ContainerState.RUNNING
            ):
                break
            await anyio.sleep(0.02)
        async with anyio.create_task_group() as task_group:
            if stdin is not None and self._options.stdin and self._record.body.get("OpenStdin"):
                task_group.start_soon(self._forward_stdin, stdin, task_group.cancel_scope)
            await self._output(output)
            task_group.cancel_scope.cancel()

    async def _forward_stdin(self, stdin: AsyncIterator[bytes], session: anyio.CancelScope) -> None:
        """The client's stdin to the container's, through conmon's attach socket; the
        client's EOF closes it (the container's stdin ends with StdinOnce). With a TTY, the
        detach keys end the session (``session``) as docker's do: the container runs on."""
        scanner = EscapeScanner(self._options.detach_keys if self.tty else b"")
        with contextlib.suppress(EngineError):
            connection = self._runtime.attach(self._record.id)
            async with connection, anyio.create_task_group() as task_group:
                # conmon also copies the output to this socket: read, so it never blocks
                task_group.start_soon(_discard_output, connection)
                async for data in stdin:
                    data = scanner.feed(data)
                    if data:
                        await connection.send(data)
                    if scanner.detached:
                        task_group.cancel_scope.cancel()
                        session.cancel()
                        return
                held = scanner.flush()
                if held:
                    await connection.send(held)
                task_group.cancel_scope.cancel()

    async def _output(self, output: OutputSink) -> None:
        container_id = self._record.id
        async for entry in self._runtime.logs(
            container_id, follow=True, since=self._since - 1, as_written=True
        ):
            stream = STREAM_NUMBERS.get(entry.stream, 1)
            if (stream == 1 and not self._options.stdout) or (
                stream == 2 and not self._options.stderr
            ):
                continue
            await output(stream, entry.message)


async def _discard_output(connection: AttachConnection) -> None:
    while True:
        _, data = await connection.receive()
        if not data:
            return
