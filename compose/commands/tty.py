"""The user's terminal joined to a process in a container (``exec``, ``run``, ``attach``).

:func:`interact` runs one session on a live hijacked connection
(:class:`engine.api.hijack.HijackedConnection`): stdin is copied to the process as it is
typed or piped (the end of input half-closes the connection), the output is written to
stdout/stderr as it comes (a slow reader slows the process down, nothing piles up), and
with a TTY the user's terminal is in raw mode, so keys (Ctrl-C included) go to the process
as bytes, and the window's size follows SIGWINCH. Without a TTY, signals the user sends
pycompose are proxied to the container when the caller gives a way to (``run``'s
sig-proxy); otherwise Ctrl-C ends pycompose (exit 130) as it ends ``docker exec``. With a
TTY, ``attach``'s detach keys end the session and leave the process running.

:func:`choose_tty` decides on a TTY as docker compose does. The terminal's modes are
restored on every way out (:func:`raw_mode`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import signal
import stat
import termios
import tty
from collections.abc import Awaitable, Callable, Iterator
from typing import TextIO

import anyio

from compose.errors import PlanError
from engine.api.hijack import HijackedConnection
from engine.api.models.detach_keys import EscapeScanner

READ_SIZE = 262144  # a bulk input costs few reads (and thread hops for files)

# what docker's sig-proxy forwards of the signals a user sends (not the terminal's own)
PROXIED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)

Resize = Callable[[int, int], Awaitable[None]]
Kill = Callable[[str], Awaitable[None]]


def _is_terminal(stream: TextIO) -> bool:
    fd = _fd(stream)
    return fd >= 0 and os.isatty(fd)


def stream_terminal_size(stream: TextIO) -> tuple[int, int] | None:
    """(rows, columns) of the terminal ``stream`` writes to, None if it is none."""
    return terminal_size(_fd(stream)) if _is_terminal(stream) else None


def require_terminal_input(stdin: TextIO) -> None:
    """A TTY fed from input that is no terminal is refused, as docker does."""
    if not _is_terminal(stdin):
        raise PlanError(
            "the input device is not a TTY",
            hint="the container has a TTY: attach from a terminal, or pass --no-stdin",
        )


def choose_tty(*, no_tty: bool, interactive: bool, stdin: TextIO, stdout: TextIO) -> bool:
    """A TTY when stdout is a terminal, unless ``-T``; one asked for with input that is not
    a terminal is refused, as docker does ("the input device is not a TTY")."""
    wanted = not no_tty and _is_terminal(stdout)
    if wanted and interactive and not _is_terminal(stdin):
        raise PlanError(
            "the input device is not a TTY",
            hint="with piped input, pass -T (no TTY)",
        )
    return wanted


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw mode (no echo, no line editing, no signals from keys),
    its previous modes restored however the block ends; nothing if ``fd`` is no terminal."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, None if it is none."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def _fd(stream: TextIO) -> int:
    """The stream's file descriptor; -1 for one in memory (a test's terminal)."""
    try:
        return stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return -1


def _write(stream: TextIO, data: bytes) -> None:
    """``data`` to the stream's file as it is (a terminal's escapes and all), at once."""
    fd = _fd(stream)
    if fd < 0:
        stream.write(data.decode(errors="replace"))
        stream.flush()
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@dataclasses.dataclass
class Interaction:
    """One session's ends: the connection, the user's streams, and the process's controls."""

    connection: HijackedConnection
    stdin: TextIO | None  # None: no input is sent (the process's stdin is not attached)
    stdout: TextIO
    stderr: TextIO
    resize: Resize | None = None  # with a TTY: the process's terminal size
    kill: Kill | None = None  # sig-proxy: a signal's name to the process
    # with a TTY: typing this sequence ends the session (``attach``), the process running on
    detach_keys: bytes = b""
    detached: bool = False


async def _copy_input(interaction: Interaction, session: anyio.CancelScope) -> None:
    """stdin to the process until its end, then half-close (the process reads EOF); the
    detach keys end the ``session`` at once (nothing after them is sent)."""
    stream, connection = interaction.stdin, interaction.connection
    assert stream is not None
    scanner = EscapeScanner(interaction.detach_keys if connection.tty else b"")
    fd = _fd(stream)
    if fd < 0:
        try:
            await connection.send(scanner.feed(stream.buffer.read()) + scanner.flush())
        finally:
            await connection.close_stdin()
        if scanner.detached:
            interaction.detached = True
            session.cancel()
        return
    mode = os.fstat(fd).st_mode
    # regular files and devices such as /dev/null cannot be polled: read them directly
    pollable = os.isatty(fd) or not (stat.S_ISREG(mode) or stat.S_ISCHR(mode))
    try:
        while True:
            if pollable:
                await anyio.wait_readable(fd)
                data = os.read(fd, READ_SIZE)
            else:
                data = await anyio.to_thread.run_sync(os.read, fd, READ_SIZE)
            if not data:
                await connection.send(scanner.flush())
                return
            await connection.send(scanner.feed(data))
            if scanner.detached:
                interaction.detached = True
                session.cancel()
                return
    finally:
        with anyio.CancelScope(shield=True):
            await connection.close_stdin()


async def _copy_output(interaction: Interaction) -> None:
    async for stream, data in interaction.connection:
        _write(interaction.stderr if stream == 2 else interaction.stdout, data)


async def _follow_window(fd: int, resize: Resize) -> None:
    """The terminal's size now and after each SIGWINCH."""
    with anyio.open_signal_receiver(signal.SIGWINCH) as signals:
        size = terminal_size(fd)
        if size is not None:
            await resize(*size)
        async for _ in signals:
            size = terminal_size(fd)
            if size is not None:
                await resize(*size)


async def _proxy_signals(kill: Kill) -> None:
    with anyio.open_signal_receiver(*PROXIED_SIGNALS) as signals:
        async for number in signals:
            await kill(signal.Signals(number).name)


async def interact(interaction: Interaction) -> bool:
    """Run the session until the process's output ends (see the module's docstring), or
    until the user types the detach keys: whether that ended it."""
    connection = interaction.connection
    for stream in (interaction.stdout, interaction.stderr):
        stream.flush()  # what was printed before goes first
    input_fd = _fd(interaction.stdin) if interaction.stdin is not None else -1
    terminal_fd = input_fd if input_fd >= 0 and os.isatty(input_fd) else -1
    if terminal_fd < 0 and _is_terminal(interaction.stdout):
        terminal_fd = interaction.stdout.fileno()
    # raw only when keys go to the process: without input, Ctrl-C stays pycompose's (docker's)
    raw = connection.tty and terminal_fd >= 0 and terminal_fd == input_fd
    with raw_mode(terminal_fd) if raw else contextlib.nullcontext():
        async with anyio.create_task_group() as task_group:
            if interaction.stdin is not None:
                task_group.start_soon(_copy_input, interaction, task_group.cancel_scope)
            else:
                await connection.close_stdin()
            if connection.tty and interaction.resize is not None and terminal_fd >= 0:
                task_group.start_soon(_follow_window, terminal_fd, interaction.resize)
            if not connection.tty and interaction.kill is not None:
                task_group.start_soon(_proxy_signals, interaction.kill)
            await _copy_output(interaction)
            task_group.cancel_scope.cancel()
    return interaction.detached
