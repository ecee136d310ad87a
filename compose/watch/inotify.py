"""The kernel's inotify, through libc with ctypes, read on the event loop.

Why not a library: the watcher is small (recursive watches, a few event kinds, one
descriptor read when the loop says it is readable) and this keeps it a plain file
descriptor in the anyio loop: no helper thread (watchfiles runs a Rust thread per
watcher, which the detached watcher would carry for its whole life) and no new dependency.

:class:`Watcher` watches directory trees recursively (new directories join as they are
made), a single file through its directory, and a path that does not exist yet through
its nearest existing ancestor until it appears. :meth:`Watcher.next_batch` returns the
changed paths once no new change came for a quiet period: docker compose's debounce
(500 ms), so that an editor saving ten files makes one batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import struct
from collections.abc import Callable, Iterable

import anyio

from compose.errors import PlanError
from compose.watch.rules import is_within

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_DONT_FOLLOW = 0x2000000
IN_EXCL_UNLINK = 0x4000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len
READ_SIZE = 64 * 1024
MAX_WATCHES = 65536  # directories per watcher; beyond it, a clear error
MAX_BATCH = 100_000  # changed paths in one batch; beyond it the batch is flushed at once
QUIET_PERIOD = 0.5  # seconds without a change that end a batch (docker compose's)


@functools.cache
def _lib() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def parse_events(data: bytes) -> list[tuple[int, int, str]]:
    """``struct inotify_event`` records as (wd, mask, name); a torn record ends the list."""
    events = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        if offset + length > len(data):
            break
        raw = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        events.append((wd, mask, os.fsdecode(raw)))
    return events


class Watcher:
    """Recursive inotify watches on ``roots``; ``skip(directory)`` prunes whole subtrees."""

    def __init__(self, roots: Iterable[str], skip: Callable[[str], bool] = lambda _: False) -> None:
        self.roots = [os.path.normpath(root) for root in roots]
        self._skip = skip
        self._dirs: dict[int, str] = {}
        self._wds: dict[str, int] = {}
        fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise PlanError(
                f"cannot watch files: inotify_init1: {os.strerror(code)}",
                hint="raise fs.inotify.max_user_instances" if code == errno.EMFILE else None,
            )
        self.fd = fd
        try:
            for root in self.roots:
                self._watch_towards(root)
        except BaseException:
            self.close()
            raise

    # --- watches ---------------------------------------------------------------------

    def _add(self, directory: str) -> bool:
        if directory in self._wds:
            return True
        if len(self._wds) >= MAX_WATCHES:
            raise PlanError(
                f"too many directories to watch (more than {MAX_WATCHES})",
                hint="add the big directories (node_modules, build output) to the "
                "trigger's ignore: list",
            )
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(directory), WATCH_MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if code in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP):
                return False  # gone meanwhile, not a directory, or not ours to read
            hint = "raise fs.inotify.max_user_watches" if code == errno.ENOSPC else None
            raise PlanError(f"cannot watch {directory}: {os.strerror(code)}", hint=hint)
        self._dirs[wd] = directory
        self._wds[directory] = wd
        return True

    def _watched_root(self, path: str) -> bool:
        return any(is_within(root, path) for root in self.roots)

    def _on_the_way(self, path: str) -> bool:
        return any(is_within(path, root) for root in self.roots)

    def _watch_towards(self, root: str) -> None:
        """Watch ``root``, or its nearest existing ancestor until it exists."""
        if os.path.isdir(root) and not os.path.islink(root):
            self._add_tree(root)
            return
        directory = os.path.dirname(root)
        while directory and not os.path.isdir(directory):
            directory = os.path.dirname(directory)
        self._add(directory or "/")

    def _add_tree(self, top: str) -> list[str]:
        """Watch ``top`` and the directories below it; the files found (for a new tree)."""
        found: list[str] = []
        if self._skip(top) or not self._add(top):
            return found
        for directory, subdirs, files in os.walk(top, followlinks=False):
            kept = []
            for name in subdirs:
                path = os.path.join(directory, name)
                if not os.path.islink(path) and not self._skip(path) and self._add(path):
                    kept.append(name)
            subdirs[:] = kept
            found.extend(os.path.join(directory, name) for name in files)
        return found

    def _forget(self, top: str) -> None:
        """A directory moved away or removed: its watches go (kept, they would report its
        files under the old path, and a new directory of that name would get no watch)."""
        for path in [p for p in self._wds if is_within(top, p)]:
            wd = self._wds.pop(path)
            if self._dirs.pop(wd, None) is not None:
                _lib().inotify_rm_watch(self.fd, wd)

    def _directory_appeared(self, path: str) -> list[str]:
        if self._watched_root(path):
            return [path, *self._add_tree(path)]
        if self._on_the_way(path):
            # an ancestor of a root that did not exist: go down towards the root
            for root in self.roots:
                if is_within(path, root):
                    self._watch_towards(root)
            return [root for root in self.roots if os.path.exists(root)]
        return []

    # --- events ----------------------------------------------------------------------

    def _read(self) -> set[str] | None:
        """The changed paths of what the kernel has queued; None when nothing was."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return None
        changed: set[str] = set()
        for wd, mask, name in parse_events(data):
            if mask & IN_Q_OVERFLOW:
                changed.update(root for root in self.roots if os.path.exists(root))
                continue
            directory = self._dirs.get(wd)
            if directory is None:
                continue
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)
                if self._wds.get(directory) == wd:
                    del self._wds[directory]
                if self._on_the_way(directory) and not self._watched_root(directory):
                    for root in self.roots:  # an ancestor went: watch what is left
                        if is_within(directory, root):
                            self._watch_towards(root)
                continue
            if not name:
                continue  # the directory itself (its removal shows in its parent)
            path = os.path.join(directory, name)
            if mask & IN_ISDIR and mask & (IN_MOVED_FROM | IN_DELETE):
                self._forget(path)
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                changed.update(self._directory_appeared(path))
            elif self._watched_root(path):
                changed.add(path)
        return changed

    async def _wait(self) -> set[str]:
        while True:
            found = self._read()
            if found is None:
                await anyio.wait_readable(self.fd)
                continue
            if found:
                return found

    async def next_batch(self, quiet: float = QUIET_PERIOD) -> list[str]:
        """The paths changed from now until ``quiet`` seconds pass with no new change."""
        batch = await self._wait()
        while len(batch) < MAX_BATCH:
            with anyio.move_on_after(quiet):
                batch |= await self._wait()
                continue
            break
        return sorted(batch)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
