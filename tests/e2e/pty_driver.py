"""A command run on a pseudo-terminal, driven as a user at a keyboard would (tests only).

:class:`PtyProcess` starts a command whose stdin, stdout and stderr are the slave side of a
new pty (its controlling terminal, in a session of its own), reads what it writes through
the master side, types into it, and resizes the window (the kernel then sends SIGWINCH).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# In its new session, the child opens its terminal, which makes it the controlling one (so
# that the kernel sends SIGWINCH on a resize), then becomes the command.
_ACQUIRE_TERMINAL = (
    "import os, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


class PtyProcess:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        rows: int = 24,
        columns: int = 80,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _ACQUIRE_TERMINAL, *argv],
                cwd=cwd,
                env=dict(env),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self.master = master
        self.output = b""  # everything read so far
        self._seen = 0  # where the next expect() starts looking

    def read_available(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process on the slave side is gone
            return b""
        self.output += data
        # a terminal answers a cursor-position query (busybox's line editor asks at each
        # prompt and takes what is typed meanwhile as the answer): answer as xterm does
        for _ in range(data.count(b"\x1b[6n")):
            os.write(self.master, b"\x1b[1;1R")
        return data

    def expect(self, pattern: str | bytes, timeout: float = 30) -> re.Match[bytes]:
        """Wait until ``pattern`` (a regex) shows in the output after the last match."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output, self._seen)
            if match is not None:
                self._seen = match.end()
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{pattern!r} not seen within {timeout}s; output:\n"
                    + self.output.decode(errors="replace")
                )
            if not self.read_available(min(left, 0.5)) and self.process.poll() is not None:
                self.read_available(0.1)
                if regex.search(self.output, self._seen) is None:
                    raise AssertionError(
                        f"{pattern!r} not seen; the process exited "
                        f"{self.process.returncode}; output:\n"
                        + self.output.decode(errors="replace")
                    )

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, columns: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def wait(self, timeout: float = 60) -> int:
        """The exit status, reading the output meanwhile (a full pty would block the writer)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "the process did not end; output:\n" + self.output.decode(errors="replace")
                )
            self.read_available(0.2)
        while self.read_available(0.05):
            pass
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
