"""An interactive exec (``docker exec -i``/``-it``): stream stdin and output, then the exit code.

Without a tty, ``runc exec`` runs with pipes for stdin, stdout and stderr. With a tty, runc
allocates the container's terminal and relays it through its own stdio (``--console-socket``
would need ``--detach`` and lose the exit code), so runc's stdio is the slave side of a pty
pair whose master this module reads and writes; stdout and stderr are then one stream, as
in Docker.

Window size (``resize``): set on the pty pair, then runc is told by SIGWINCH and copies it
to the container's terminal (runc reads its own stdio's size on SIGWINCH).

A command that cannot start (not found, not executable) is runc's failure, not the
command's: runc prints ``time="…" level=error msg="exec failed: …"`` where the command's
stderr (or terminal) would be and exits 255. Output that may be that line is held back
until it is known not to be; when it is, it is not passed on: ``start_error`` has runc's
message and ``wait`` gives 126, as dockerd does.

Resource handling: :class:`ExecSession` is an async context manager; leaving it closes
the streams and, if the process still runs, kills it (SIGKILL through its pid file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import struct
import termios
import tty as terminal_modes
from pathlib import Path
from types import TracebackType

import anyio
from anyio.abc import Process

from engine.runtime.runc import Runc

READ_SIZE = 262144  # per read of the process's output: bounded, few iterations in bulk
RUNC_EXEC_FAILED = 255
START_FAILED = 126  # dockerd's exit code for an exec that could not start
_FAILURE_HEAD = b'time="'
_FAILURE_TAIL = b'" level=error msg="exec failed: '
_FAILURE_LINE = re.compile(rb'time="[^"\r\n]*" level=error msg="((?:[^"\\]|\\.)*)"\r?\n?')


def could_be_start_failure(held: bytes) -> bool:
    """Whether ``held`` (the first output) may still turn out to be runc's exec failure."""
    if len(held) <= len(_FAILURE_HEAD):
        return _FAILURE_HEAD.startswith(held)
    if not held.startswith(_FAILURE_HEAD):
        return False
    end = held.find(b'"', len(_FAILURE_HEAD))
    if end < 0:
        return b"\n" not in held and len(held) < 80  # still in the timestamp
    rest = held[end:]
    if len(rest) < len(_FAILURE_TAIL):
        return _FAILURE_TAIL.startswith(rest)
    return rest.startswith(_FAILURE_TAIL)


def start_failure_message(held: bytes) -> str | None:
    """runc's message when ``held`` is exactly its exec-failure line, else None."""
    match = _FAILURE_LINE.fullmatch(held)
    if match is None:
        return None
    return re.sub(r"\\(.)", r"\1", match.group(1).decode(errors="replace"))


class ExecSession:
    def __init__(
        self, runc: Runc, container_id: str, process_file: Path, pid_file: Path, *, tty: bool
    ) -> None:
        self._runc = runc
        self._container_id = container_id
        self._process_file = process_file
        self._pid_file = pid_file
        self.tty = tty
        self._process: Process | None = None
        self._master = -1
        self._group: anyio.abc.TaskGroup | None = None
        send, receive = anyio.create_memory_object_stream[tuple[str, bytes]](16)
        self._output_send = send
        self._output = receive
        self._open_streams = 0
        # the first output of the stream runc reports on, while it may be runc's failure
        self._held: bytes | None = b""
        self.start_error: str | None = None

    async def __aenter__(self) -> ExecSession:
        args = [*self._runc.base_args(), "exec", "--process", str(self._process_file)]
        args += ["--pid-file", str(self._pid_file)]
        if not self.tty:
            self._process = await anyio.open_process([*args, self._container_id])
            assert self._process.stdout is not None and self._process.stderr is not None
            self._group = anyio.create_task_group()
            await self._group.__aenter__()
            self._open_streams = 2
            self._group.start_soon(self._pump, "stdout", self._process.stdout)
            self._group.start_soon(self._pump, "stderr", self._process.stderr)
            return self
        # runc allocates the container-side terminal and relays it through its own stdio,
        # which must be a terminal: it gets the slave of a pty pair, the engine the master.
        master, slave = os.openpty()
        try:
            terminal_modes.setraw(slave)  # pure transport: no echo or line editing on this side
            self._process = await anyio.open_process(
                [*args, "--tty", self._container_id],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._master = master
        os.set_blocking(self._master, False)
        return self

    async def send(self, data: bytes) -> None:
        """Write to the process's stdin (the terminal with a tty)."""
        if self._master >= 0:
            view = memoryview(data)
            while view:
                await anyio.wait_writable(self._master)
                try:
                    view = view[os.write(self._master, view) :]
                except BlockingIOError:
                    continue
            return
        assert self._process is not None and self._process.stdin is not None
        await self._process.stdin.send(data)

    def resize(self, height: int, width: int) -> None:
        """The terminal's size (rows, columns); nothing without a tty or before it started."""
        if self._master < 0 or self._process is None or self._process.returncode is not None:
            return
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
            os.kill(self._process.pid, signal.SIGWINCH)

    async def close_stdin(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            await self._process.stdin.aclose()
        elif self._master >= 0:
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x04")  # end of input on a terminal

    async def receive(self) -> tuple[str, bytes]:
        """Next output chunk: (``"stdout"``/``"stderr"``, bytes); ``("", b"")`` at the end.

        runc's own failure to start the command is never passed on (see the module doc)."""
        failure_stream = "stdout" if self._master >= 0 else "stderr"
        while True:
            stream, data = await self._receive()
            if self._held is None or (data and stream != failure_stream):
                return stream, data
            if not data:  # the end: runc's failure, or the command's own output after all
                held, self._held = self._held, None
                if held and await self._wait_code() == RUNC_EXEC_FAILED:
                    self.start_error = start_failure_message(held)
                if held and self.start_error is None:
                    return failure_stream, held
                return stream, data
            self._held += data
            if not could_be_start_failure(self._held):
                held, self._held = self._held, None
                return stream, held

    async def _receive(self) -> tuple[str, bytes]:
        if self._master >= 0:
            while True:
                await anyio.wait_readable(self._master)
                try:
                    data = os.read(self._master, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the terminal's other side is gone
                    return "", b""
                return ("stdout", data) if data else ("", b"")
        while self._open_streams:
            name, data = await self._output.receive()
            if data:
                return name, data
            self._open_streams -= 1
        return "", b""

    async def _pump(self, name: str, stream: anyio.abc.ByteReceiveStream) -> None:
        while True:
            try:
                data = await stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                data = b""
            await self._output_send.send((name, data))
            if not data:
                return

    async def _wait_code(self) -> int:
        assert self._process is not None
        code = await self._process.wait()
        return code if code >= 0 else 128 - code

    async def wait(self) -> int:
        """The exit code of the exec'd process (Docker's: 128 + signal); 126 when it could
        not start (``start_error`` says why)."""
        code = await self._wait_code()
        return START_FAILED if self.start_error is not None else code

    async def aclose(self) -> None:
        if self._group is not None:
            # Exited here, outside any scope of ours: it was entered in __aenter__.
            self._group.cancel_scope.cancel()
            await self._group.__aexit__(None, None, None)
            self._group = None
        with anyio.CancelScope(shield=True):
            if self._process is not None and self._process.returncode is None:
                with contextlib.suppress(ValueError, OSError):
                    pid = int(self._pid_file.read_text().strip())
                    os.kill(pid, signal.SIGKILL)
                with anyio.move_on_after(5):
                    await self._process.wait()
                if self._process.returncode is None:
                    self._process.kill()
                    await self._process.wait()
            self._output_send.close()
            self._output.close()
            if self._process is not None:
                await self._process.aclose()
            if self._master >= 0:
                os.close(self._master)
                self._master = -1
            self._process_file.unlink(missing_ok=True)
            self._pid_file.unlink(missing_ok=True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
