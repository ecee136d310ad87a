"""``docker exec``: exec instances of running containers and their sessions.

An instance is created (``POST /containers/{id}/exec``), started once on a hijacked
connection (``POST /exec/{id}/start``) through ``ContainerRuntime.exec_session`` (live
stdin, stdout, stderr, tty), resized while it runs (``POST /exec/{id}/resize``; a size
given before the process started is applied when it starts), and inspected for its exit
code afterwards. Instances live
in memory, as dockerd's do.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from engine.api import models as api
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.backend.shapes import STREAM_NUMBERS
from engine.daemon.backend_api import OutputSink
from engine.errors import Conflict, NotFound
from engine.runtime.exec_session import ExecSession as RuntimeExecSession

_log = logging.getLogger(__name__)


async def _discard(stream: int, data: bytes) -> None:
    return None


async def _run_detached(session: ExecSession) -> None:
    """A detached exec in the engine's task group: its failure ends it, not the engine."""
    try:
        await session.run(None, _discard)
    except Exception:  # the exit code (126) is in its record already
        _log.exception("detached exec failed")


@dataclass
class ExecRecord:
    id: str
    container_id: str
    body: api.ExecCreate
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    size: tuple[int, int] | None = None  # the terminal's rows and columns, once given
    session: RuntimeExecSession | None = None  # while the process runs


class Execs:
    """The exec instances of the engine's containers."""

    def __init__(self, index: ContainerIndex, events: EventSink, task_group: TaskGroup) -> None:
        self.index = index
        self.events = events
        self.task_group = task_group  # the engine's: detached processes run in it
        self.records: dict[str, ExecRecord] = {}

    def ids_of(self, container_id: str) -> list[str]:
        """The exec instances made in a container (``ExecIDs`` of its inspect)."""
        return [e.id for e in self.records.values() if e.container_id == container_id]

    async def create(self, ref: str, body: api.ExecCreate) -> api.IdResponse:
        container = self.index.find(ref)
        if not self.index.running(container.id):
            raise Conflict(f"Container {container.id} is not running")
        exec_id = secrets.token_hex(32)
        self.records[exec_id] = ExecRecord(exec_id, container.id, body)
        self.events.container(container, f"exec_create: {' '.join(body.Cmd)}", execID=exec_id)
        return api.IdResponse(Id=exec_id)

    def _find(self, exec_id: str) -> ExecRecord:
        record = self.records.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    async def start(self, exec_id: str, body: api.ExecStart) -> ExecSession:
        record = self._find(exec_id)
        if record.running or record.exit_code is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        session = ExecSession(self, record, body.Tty or record.body.Tty)
        if body.Detach:
            # as dockerd: the process runs on, its output dropped; the caller returns once
            # it has started (or failed to)
            record.running = True
            self.task_group.start_soon(_run_detached, session)
            await session.started.wait()
        return session

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        record = self._find(exec_id)
        if height <= 0 or width <= 0:
            return
        record.size = (height, width)
        if record.session is not None:
            record.session.resize(height, width)

    async def inspect(self, exec_id: str) -> api.ExecInspect:
        record = self._find(exec_id)
        body = record.body
        return api.ExecInspect(
            ID=record.id,
            Running=record.running,
            ExitCode=record.exit_code,
            ProcessConfig=api.ProcessConfig(
                tty=body.Tty,
                entrypoint=body.Cmd[0] if body.Cmd else "",
                arguments=body.Cmd[1:],
                privileged=body.Privileged,
                user=body.User,
            ),
            OpenStdin=body.AttachStdin,
            OpenStdout=body.AttachStdout,
            OpenStderr=body.AttachStderr,
            ContainerID=record.container_id,
            Pid=record.pid,
        )


class ExecSession:
    """A ``docker exec`` on the hijacked connection, through ContainerRuntime.exec_session."""

    def __init__(self, execs: Execs, record: ExecRecord, tty: bool) -> None:
        self._execs = execs
        self._record = record
        self._tty = tty
        self.started = anyio.Event()  # set once the process runs, or could not start

    @property
    def tty(self) -> bool:
        return self._tty

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        index, record, body = self._execs.index, self._record, self._record.body
        record.running = True
        code = 126
        try:
            session = index.runtime.exec_session(
                record.container_id,
                body.Cmd,
                env=body.Env or (),
                user=body.User,
                working_dir=body.WorkingDir,
                tty=self._tty,
                privileged=body.Privileged,
            )
            async with session, anyio.create_task_group() as task_group:
                record.session = session
                self.started.set()
                if record.size is not None:
                    session.resize(*record.size)

                async def feed() -> None:
                    if stdin is not None and body.AttachStdin:
                        async for data in stdin:
                            try:
                                await session.send(data)
                            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                                break  # the process closed its stdin (`head -1`)
                    with contextlib.suppress(anyio.BrokenResourceError, OSError):
                        await session.close_stdin()
                    if stdin is not None:
                        # what the client still sends is read and dropped: it never blocks
                        # on a full socket, and the connection ends without a reset
                        async for _ in stdin:
                            pass

                task_group.start_soon(feed)
                while True:
                    stream, data = await session.receive()
                    if not data:
                        break
                    if (stream == "stdout" and body.AttachStdout) or (
                        stream == "stderr" and body.AttachStderr
                    ):
                        await output(STREAM_NUMBERS.get(stream, 1), data)
                code = await session.wait()
                if session.start_error is not None and body.AttachStdout:
                    # dockerd's words for it, on the output stream
                    message = f"OCI runtime exec failed: {session.start_error}: unknown\r\n"
                    await output(1, message.encode())
                task_group.cancel_scope.cancel()
        finally:
            self.started.set()
            record.session = None
            record.running = False
            record.exit_code = code
            container = index.records.get(record.container_id)
            if container is not None:
                self._execs.events.container(
                    container, "exec_die", execID=record.id, exitCode=str(code)
                )
