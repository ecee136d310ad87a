"""Container logs: the CRI format conmon writes, read back whole; rotation by size and count.

Format, one record a line: ``<RFC 3339 time, ns> <stdout|stderr> <P|F> <bytes>``. conmon
splits a long line into ``P`` (partial) records ended by one ``F`` record; the reader joins
them, so a line is never cut. Files: ``container.log`` (current), ``container.log.1`` ...
``container.log.<N-1>`` (older). Rotation (:func:`rotate`) renames them up one number and asks
conmon to reopen its file; records written meanwhile land in the renamed file, so nothing
is lost.

Parsing is pure (:func:`parse_records`, :func:`join_partials`); reading and following are
async generators over the files.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

FOLLOW_POLL_SECONDS = 0.05
# a follower reads at most this much at a time, so a slow client holds little in memory
FOLLOW_READ_BYTES = 1 << 20
FOLLOW_BATCH_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record of the file (possibly a partial line)."""

    time_ns: int
    stream: str
    partial: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One whole line as the container wrote it (without its newline)."""

    time_ns: int
    stream: str
    message: bytes

    def timestamp(self) -> str:
        """RFC 3339 with nanoseconds, UTC, as ``docker logs -t`` prints it."""
        seconds, nanos = divmod(self.time_ns, 1_000_000_000)
        moment = datetime.fromtimestamp(seconds, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def parse_time_ns(text: str) -> int:
    """``2026-11-27T22:47:57.933096793+00:00`` (or ``Z``) -> nanoseconds since the epoch."""
    main, dot, rest = text.partition(".")
    fraction = ""
    zone = ""
    if dot:
        digits = 0
        while digits < len(rest) and rest[digits].isdigit():
            digits += 1
        fraction, zone = rest[:digits], rest[digits:]
    else:
        for marker in ("Z", "+", "-"):
            index = main.rfind(marker)
            if index > 10:
                main, zone = main[:index], main[index:]
                break
    if zone in ("Z", ""):
        zone = "+00:00"
    moment = datetime.fromisoformat(main + zone)
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


class RecordParser:
    """One CRI line -> :class:`LogRecord` (None if malformed, e.g. a torn last line).

    conmon stamps every line of one read with the same time, so the last time parsed is
    remembered: most lines then cost one split.
    """

    def __init__(self) -> None:
        self._last_time = b""
        self._last_ns = 0

    def parse(self, raw: bytes) -> LogRecord | None:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            return None
        if parts[0] != self._last_time:
            try:
                self._last_ns = parse_time_ns(parts[0].decode())
            except ValueError:
                return None
            self._last_time = parts[0]
        data = parts[3] if len(parts) == 4 else b""
        stream = "stdout" if parts[1] == b"stdout" else parts[1].decode()
        return LogRecord(self._last_ns, stream, parts[2] == b"P", data)


def parse_records(lines: Iterable[bytes]) -> Iterator[LogRecord]:
    """Records of a CRI log; malformed lines (a torn last line) are skipped."""
    parser = RecordParser()
    for raw in lines:
        record = parser.parse(raw)
        if record is not None:
            yield record


class LineJoiner:
    """Feeds records, returns whole lines: ``P`` pieces of a stream are joined up to its ``F``."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, list[bytes]]] = {}

    def feed(self, record: LogRecord) -> LogEntry | None:
        if record.partial:
            _, pieces = self._pending.setdefault(record.stream, (record.time_ns, []))
            pieces.append(record.data)
            return None
        if record.stream in self._pending:
            start, pieces = self._pending.pop(record.stream)
            pieces.append(record.data)
            return LogEntry(start, record.stream, b"".join(pieces))
        return LogEntry(record.time_ns, record.stream, record.data)

    def flush(self) -> list[LogEntry]:
        """Lines whose end never came (the process exited mid-line), oldest first."""
        entries = [
            LogEntry(start, stream, b"".join(pieces))
            for stream, (start, pieces) in self._pending.items()
        ]
        self._pending.clear()
        return sorted(entries, key=lambda entry: entry.time_ns)


class RecordPassthrough(LineJoiner):
    """Feeds records, returns each at once as written: a partial one as it is, a final one
    with its newline (a terminal's prompt is shown before its line ends)."""

    def feed(self, record: LogRecord) -> LogEntry | None:
        return LogEntry(
            record.time_ns, record.stream, record.data + (b"" if record.partial else b"\n")
        )

    def flush(self) -> list[LogEntry]:
        return []


def join_partials(records: Iterable[LogRecord]) -> Iterator[LogEntry]:
    """Whole lines from records (see :class:`LineJoiner`)."""
    joiner = LineJoiner()
    for record in records:
        entry = joiner.feed(record)
        if entry is not None:
            yield entry


def log_files(current: Path) -> list[Path]:
    """The existing files of a log, oldest (highest number) first."""
    numbered = []
    for path in current.parent.glob(current.name + ".*"):
        suffix = path.name[len(current.name) + 1 :]
        if suffix.isdigit():
            numbered.append((int(suffix), path))
    older = [path for _, path in sorted(numbered, reverse=True)]
    return [*older, current] if current.exists() else older


def _selected(entry: LogEntry, since_ns: int, until_ns: int) -> bool:
    if since_ns and entry.time_ns < since_ns:
        return False
    return not (until_ns and entry.time_ns > until_ns)


def iter_entries(
    current: Path,
    *,
    since_ns: int = 0,
    until_ns: int = 0,
    joiner: LineJoiner | None = None,
    position: list[int] | None = None,
    flush: bool = True,
) -> Iterator[LogEntry]:
    """Whole lines in all files of the log, oldest first, read lazily (constant memory).

    A torn last line of ``current`` (no newline yet) is left for a follower; ``position``
    (if given) receives ``[offset, inode]`` of the first unread byte of ``current``, and
    ``joiner`` keeps any partial line whose end is still to come.
    """
    joiner = joiner if joiner is not None else LineJoiner()
    for path in log_files(current):
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed below, also when abandoned
        except FileNotFoundError:
            continue
        with file:
            is_current = path == current
            offset = 0
            if is_current and position is not None:
                position[:] = [0, os.fstat(file.fileno()).st_ino]
            parser = RecordParser()
            for raw in file:
                if not raw.endswith(b"\n") and is_current:
                    break
                offset += len(raw)
                if is_current and position is not None:
                    position[0] = offset
                record = parser.parse(raw)
                if record is None:
                    continue
                entry = joiner.feed(record)
                if entry is not None and _selected(entry, since_ns, until_ns):
                    yield entry
    if flush:
        for entry in joiner.flush():
            if _selected(entry, since_ns, until_ns):
                yield entry


def read_entries(
    current: Path,
    *,
    since_ns: int = 0,
    until_ns: int = 0,
    tail: int | None = None,
    joiner: LineJoiner | None = None,
) -> tuple[list[LogEntry], int, int]:
    """The (last ``tail``) whole lines of the log, and ``[offset, inode]`` as in
    :func:`iter_entries`."""
    position = [0, 0]
    entries = iter_entries(
        current,
        since_ns=since_ns,
        until_ns=until_ns,
        joiner=joiner,
        position=position,
        flush=joiner is None,
    )
    limited = tail is not None and tail >= 0
    kept = list(deque(entries, maxlen=tail) if limited else entries)
    return kept, position[0], position[1]


async def follow(
    current: Path,
    *,
    is_running: Callable[[], bool],
    since_ns: int = 0,
    until_ns: int = 0,
    tail: int | None = None,
    joiner: LineJoiner | None = None,
) -> AsyncIterator[LogEntry]:
    """The log's lines, then new ones as they come, until the container stops.

    Rotation is followed: when ``current`` is replaced, the old file is read to its end first.
    ``joiner`` makes entries of the records (default: whole lines, see :class:`LineJoiner`).
    """
    joiner = joiner or LineJoiner()
    if tail is not None and tail >= 0:
        entries, offset, first_inode = await anyio.to_thread.run_sync(
            lambda: read_entries(
                current, since_ns=since_ns, until_ns=until_ns, tail=tail, joiner=joiner
            )
        )
        for entry in entries:
            yield entry
    else:
        # the whole log, a batch at a time: a client that stops reading stops the reading
        position = [0, 0]
        lazy = iter_entries(
            current,
            since_ns=since_ns,
            until_ns=until_ns,
            joiner=joiner,
            position=position,
            flush=False,
        )
        while True:
            batch = await anyio.to_thread.run_sync(
                lambda: list(itertools.islice(lazy, FOLLOW_BATCH_ENTRIES))
            )
            for entry in batch:
                yield entry
            if len(batch) < FOLLOW_BATCH_ENTRIES:
                break
        offset, first_inode = position
    file = None
    buffer = b""
    inode: int | None = None
    try:
        if current.exists():
            file = open(current, "rb")  # noqa: SIM115 - kept open across iterations
            inode = os.fstat(file.fileno()).st_ino
            if inode == first_inode:
                file.seek(offset)
        while True:
            running = is_running()
            chunk = file.read(FOLLOW_READ_BYTES) if file is not None else b""
            if chunk:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for record in parse_records(complete):
                    line = joiner.feed(record)
                    if line is not None and _selected(line, since_ns, until_ns):
                        yield line
                continue
            try:
                replaced = inode is None or os.stat(current).st_ino != inode
            except FileNotFoundError:
                replaced = False
            if replaced:
                if file is not None:
                    file.close()
                file = open(current, "rb")  # noqa: SIM115
                inode = os.fstat(file.fileno()).st_ino
                continue
            if not running:
                for line in joiner.flush():
                    if _selected(line, since_ns, until_ns):
                        yield line
                return
            await anyio.sleep(FOLLOW_POLL_SECONDS)
    finally:
        if file is not None:
            file.close()


def rotate(current: Path, max_files: int) -> None:
    """Shift ``current`` -> ``.1`` -> ``.2`` ...; the oldest beyond ``max_files`` is removed.

    With ``max_files == 1`` the file is emptied instead (Docker's json-file with max-file 1).
    The caller then asks the monitor to reopen its log file.
    """
    if max_files <= 1:
        Path(f"{current}.1").unlink(missing_ok=True)
        os.rename(current, f"{current}.1")
        return
    Path(f"{current}.{max_files - 1}").unlink(missing_ok=True)
    for index in range(max_files - 2, 0, -1):
        older = Path(f"{current}.{index}")
        if older.exists():
            os.rename(older, f"{current}.{index + 1}")
    os.rename(current, f"{current}.1")


def prune_after_reopen(current: Path, max_files: int) -> None:
    """With ``max_files == 1``, the renamed file goes once conmon writes to the new one."""
    if max_files <= 1:
        Path(f"{current}.1").unlink(missing_ok=True)
