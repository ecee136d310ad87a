"""``docker cp``: stat, read and write paths inside a container's root file system.

The engine never chroots into a container, never runs any of its code and never resolves
a path in it by name from the host. The container's root is opened once per request as a
directory fd (``/proc/<pid>/root`` of a running container, where its volumes and bind
mounts are visible; its merged overlay otherwise) and every path is resolved beneath that
fd by :mod:`engine.fs` (``openat2`` with ``RESOLVE_IN_ROOT``): the container's symlinks
(``/etc -> /``, ``../../..``) resolve inside it. Owner names in the tars we write come
from the container's ``/etc/passwd`` and ``/etc/group`` read as data, never from NSS
(which would load the container's ``libnss_*.so`` into the engine, CVE-2019-14271).

Reading streams: the tar is produced a batch at a time in a worker thread only when the
client asks for more, so a client that stops reading holds the engine back, not its
memory. Writing goes through the engine's one extractor
(:func:`engine.fs.extract_tar`): no device nodes, owners as the archive says (as
``docker cp`` without ``--archive``, whose client writes the ids it wants).

Stat answers use Docker's shape (``X-Docker-Container-Path-Stat``): ``mode`` holds Go's
``os.FileMode`` bits (directory = 1 << 31, symlink = 1 << 27).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from engine.errors import EngineInternal, InvalidParameter, NotFound
from engine.fs import ExtractOptions, extract_tar, iter_tar, open_beneath, stat_beneath
from engine.fs.errors import ArchiveError

_BATCH = 256 << 10
"""Bytes of tar produced per worker-thread call when reading."""


@contextlib.contextmanager
def open_root(root: str) -> Iterator[int]:
    """An ``O_PATH`` fd of the container's root directory (``root`` is a path the engine
    made: ``/proc/<pid>/root`` or the container's overlay mount point)."""
    try:
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EngineInternal(f"cannot open the container's root file system: {exc}") from exc
    try:
        yield fd
    finally:
        os.close(fd)


def _translate(exc: OSError, path: str, container: str) -> Exception:
    if exc.errno == errno.ENOENT:
        return NotFound(f"Could not find the file {path} in container {container}")
    if exc.errno == errno.ELOOP:
        return InvalidParameter(f"{path} has too many levels of symbolic links in {container}")
    if exc.errno == errno.ENOTDIR:
        return InvalidParameter(f"{path} is not a directory in container {container}")
    return EngineInternal(f"copying {path} in container {container} failed: {exc.strerror}")


def _stat(root_fd: int, path: str, container: str) -> dict[str, Any]:
    try:
        return dict(stat_beneath(root_fd, path))
    except OSError as exc:
        raise _translate(exc, path, container) from exc


async def stat_path(root: str, path: str, container: str) -> dict[str, Any]:
    """``HEAD /containers/{id}/archive``: ``path`` in the root, its last component not
    followed."""

    def run() -> dict[str, Any]:
        with open_root(root) as root_fd:
            return _stat(root_fd, path, container)

    return await anyio.to_thread.run_sync(run)


def _next_batch(chunks: Iterator[bytes]) -> bytes:
    """The next ``_BATCH`` bytes or so of ``chunks``; ``b""`` at their end."""
    batch: list[bytes] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= _BATCH:
            break
    return b"".join(batch)


async def _stream(
    first: bytes, chunks: Iterator[bytes], path: str, container: str
) -> AsyncIterator[bytes]:
    try:
        batch = first
        while batch:
            yield batch
            try:
                batch = await anyio.to_thread.run_sync(_next_batch, chunks)
            except OSError as exc:
                raise _translate(exc, path, container) from exc
    finally:
        chunks.close()  # type: ignore[attr-defined]


async def read_path(
    root: str, path: str, container: str
) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
    """The stat of ``path`` and the tar of it (a file or a whole tree), produced as the
    caller reads it.

    Errors for a missing path come before any byte. Resource handling: the root fd is
    closed before this returns (the walk holds fds of what it reads, closed when the
    stream ends, is closed, or is dropped).
    """

    def start() -> tuple[dict[str, Any], Iterator[bytes], bytes]:
        with open_root(root) as root_fd:
            described = _stat(root_fd, path, container)
            chunks = iter_tar(root_fd, path)
            try:
                first = _next_batch(chunks)  # resolves the path and reads the owner names
            except OSError as exc:
                chunks.close()  # type: ignore[attr-defined]
                raise _translate(exc, path, container) from exc
        return described, chunks, first

    described, chunks, first = await anyio.to_thread.run_sync(start)
    return described, _stream(first, chunks, path, container)


class _ChunkSource:
    """A blocking ``read()`` over an async iterator of chunks, for the extractor running in
    a worker thread: each read that needs bytes asks the event loop for the next chunk."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""
        self.done = False

    async def _next(self) -> bytes | None:
        try:
            return await self.chunks.__anext__()
        except StopAsyncIteration:
            return None

    def read(self, size: int = -1, /) -> bytes:
        while not self.pending and not self.done:
            chunk = anyio.from_thread.run(self._next)
            if chunk is None:
                self.done = True
            else:
                self.pending = chunk
        if size < 0 or size >= len(self.pending):
            data, self.pending = self.pending, b""
        else:
            data, self.pending = self.pending[:size], self.pending[size:]
        return data


async def write_path(
    root: str,
    path: str,
    container: str,
    tar: AsyncIterator[bytes],
    *,
    no_overwrite_dir_non_dir: bool = False,
) -> None:
    """Extract the tar stream into the directory ``path`` of the container's root.

    Error handling: ``NotFound`` for a missing ``path``, ``InvalidParameter`` when it is
    not a directory or the archive is refused (naming the entry).
    """
    source = _ChunkSource(tar)
    options = ExtractOptions(
        owner="preserve", no_devices=True, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir
    )

    def run() -> None:
        with open_root(root) as root_fd:
            try:
                dest_fd = open_beneath(root_fd, path, os.O_PATH | os.O_DIRECTORY)
            except OSError as exc:
                raise _translate(exc, path, container) from exc
            try:
                extract_tar(source, dest_fd, options)
            except ArchiveError:
                raise
            except OSError as exc:
                raise EngineInternal(
                    f"copying to {path} in container {container} failed: {exc.strerror}"
                ) from exc
            finally:
                os.close(dest_fd)

    await anyio.to_thread.run_sync(run)
