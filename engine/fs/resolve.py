"""Open paths beneath a root directory without ever leaving it.

Every path handed to these functions is resolved *inside* ``root_fd`` as if ``root_fd``
were ``/`` (the semantics of a chroot, and of Docker's ``FollowSymlinkInScope``):

- a symlink is followed, but an absolute target restarts at the root and ``..`` stops at
  the root; a ``/proc`` magic link (``/proc/self/root``, ``/proc/1/fd/3``) is refused;
- a leading ``/`` means the root; ``""`` and ``"."`` are the root itself;
- more than :data:`MAX_SYMLINKS` symlinks in one resolution is ``OSError(ELOOP)``.

The kernel does it when it can: ``openat2(2)`` with ``RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS`` (Linux 5.6+). Where the syscall is missing (or filtered by a
seccomp profile) the same rules are applied by a walk of ``O_PATH | O_NOFOLLOW`` opens, one
component at a time, with symlinks read and spliced by hand. A component that another
process swaps for a symlink while we walk is opened with ``O_NOFOLLOW``, so it is read as
a link and re-resolved inside the root: it cannot lead out.

With ``strict=True`` the rules are ``RESOLVE_BENEATH``'s instead (volume subpaths, which
must name something *in* the volume): an absolute path or symlink target, or a ``..`` that
climbs above the root, is ``OSError(EXDEV)`` rather than restarting or stopping at the root.

Functions:

- :func:`open_beneath` opens a path (``open(2)`` flags; the last component is followed
  unless ``O_NOFOLLOW`` is given, never followed with ``O_CREAT | O_EXCL``).
- :func:`resolve_parent_beneath` gives ``(dir_fd, name)``: the parent resolved, the last
  component *not* followed, for ``mkdirat``/``symlinkat``/``linkat``/``unlinkat`` and the
  other ``*at`` calls with ``AT_SYMLINK_NOFOLLOW``.
- :func:`mkdirs_beneath` is ``mkdir -p`` inside the root.
- :func:`proc_fd_path` names an ``O_PATH`` fd for calls that have no ``*at`` form
  (``setxattr``, ``chmod`` of a device node).

Every fd returned is ``O_CLOEXEC`` and belongs to the caller, who closes it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat

MAX_SYMLINKS = 40
"""Symlinks one resolution may follow (the kernel's own limit)."""

_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437, "arm64": 437}.get(platform.machine())
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_RESOLVE_IN_ROOT = 0x10
_OPENAT2_RETRIES = 16  # EAGAIN: a rename raced with the lookup; the kernel asks to retry
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Settings:
    openat2 = _SYS_OPENAT2 is not None


_settings = _Settings()


def set_openat2(enabled: bool) -> bool:
    """Use ``openat2(2)`` (True, the default where the kernel has it) or the component walk
    (False); returns the previous setting. Both give the same answers: the switch exists
    so that the walk is tested, and for hosts whose seccomp filter returns EPERM."""
    previous = _settings.openat2
    _settings.openat2 = enabled and _SYS_OPENAT2 is not None
    return previous


def openat2_enabled() -> bool:
    return _settings.openat2


def _loop_error(path: str) -> OSError:
    return OSError(
        errno.ELOOP,
        f"too many levels of symbolic links (more than {MAX_SYMLINKS}) resolving {path!r} "
        "beneath the root",
        path,
    )


def _escape_error(path: str) -> OSError:
    return OSError(errno.EXDEV, "the path leads out of the root", path)


def _openat2(root_fd: int, path: str, flags: int, mode: int, strict: bool) -> int | None:
    """The fd, or None when the syscall is unavailable (then the walk is used from now on)."""
    how = _OpenHow(
        flags | os.O_CLOEXEC,
        mode if flags & (os.O_CREAT | os.O_TMPFILE) else 0,
        (_RESOLVE_BENEATH if strict else _RESOLVE_IN_ROOT) | _RESOLVE_NO_MAGICLINKS,
    )
    encoded = os.fsencode(path or ".")
    for _ in range(_OPENAT2_RETRIES):
        fd = _libc.syscall(
            ctypes.c_long(_SYS_OPENAT2 or -1),
            ctypes.c_int(root_fd),
            ctypes.c_char_p(encoded),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        code = ctypes.get_errno()
        if code == errno.EAGAIN:
            continue
        if code in (errno.ENOSYS, errno.EPERM) and not _probe_openat2(root_fd):
            _settings.openat2 = False
            return None
        if code == errno.ELOOP:
            raise _loop_error(path)
        raise OSError(code, os.strerror(code), path)
    raise OSError(errno.EAGAIN, "the path kept changing while it was resolved", path)


def _probe_openat2(root_fd: int) -> bool:
    """Whether openat2 works at all (EPERM can also be a genuine answer for one path)."""
    how = _OpenHow(os.O_PATH | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT)
    fd = _libc.syscall(
        ctypes.c_long(_SYS_OPENAT2 or -1),
        ctypes.c_int(root_fd),
        ctypes.c_char_p(b"."),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd >= 0:
        os.close(fd)
        return True
    return False


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


class _Walk:
    """The fallback resolver: a stack of O_PATH directory fds from the root down."""

    def __init__(self, root_fd: int, path: str, strict: bool = False) -> None:
        self.root_fd = root_fd
        self.path = path
        self.strict = strict
        self.stack: list[int] = []  # fds below the root, owned
        self.links = 0

    @property
    def current(self) -> int:
        return self.stack[-1] if self.stack else self.root_fd

    def close(self) -> None:
        for fd in self.stack:
            os.close(fd)
        self.stack.clear()

    def splice_link(self, name: str, pending: list[str]) -> None:
        """Replace the symlink ``name`` (in the current dir) by its target's components."""
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise _loop_error(self.path)
        target = os.readlink(name, dir_fd=self.current)
        if target.startswith("/"):
            if self.strict:
                raise _escape_error(self.path)
            self.close()
        pending[:0] = _components(target)

    def walk(self, pending: list[str], stop_before_last: bool) -> None:
        """Descend through ``pending`` (consumed); with ``stop_before_last``, leave the last
        plain component in ``pending``."""
        while pending:
            if stop_before_last and len(pending) == 1 and pending[0] != "..":
                return
            part = pending.pop(0)
            if part == "..":
                if self.stack:
                    os.close(self.stack.pop())
                elif self.strict:
                    raise _escape_error(self.path)
                continue
            fd = os.open(part, _PATH_FLAGS, dir_fd=self.current)
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                os.close(fd)
                self.splice_link(part, pending)
            elif stat.S_ISDIR(mode):
                self.stack.append(fd)
            else:
                os.close(fd)
                if pending:
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), self.path)
                # a non-directory at the end: reopen it below as the caller asked
                pending.append(part)
                return


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _open_walk(root_fd: int, path: str, flags: int, mode: int, strict: bool) -> int:
    if strict and path.startswith("/"):
        raise _escape_error(path)
    walk = _Walk(root_fd, path, strict)
    pending = _components(path)
    follow_last = not flags & os.O_NOFOLLOW and not (flags & os.O_CREAT and flags & os.O_EXCL)
    try:
        while True:
            walk.walk(pending, stop_before_last=True)
            if not pending:  # the path is a directory reached by the walk (or the root)
                return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=walk.current)
            name = pending.pop()
            if follow_last and _is_symlink(name, walk.current):
                walk.splice_link(name, pending)
                continue
            try:
                fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=walk.current)
            except OSError as exc:
                # swapped for a symlink since the check: follow it like any other
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not follow_last:
                    raise
                if not _is_symlink(name, walk.current):
                    raise
                walk.splice_link(name, pending)
                continue
            if follow_last and flags & os.O_PATH and stat.S_ISLNK(os.fstat(fd).st_mode):
                os.close(fd)
                walk.splice_link(name, pending)
                continue
            return fd
    finally:
        walk.close()


def open_beneath(
    root_fd: int, path: str, flags: int, mode: int = 0, *, strict: bool = False
) -> int:
    """Open ``path`` resolved beneath ``root_fd`` with the ``open(2)`` ``flags``.

    ``O_PATH`` with ``O_NOFOLLOW`` opens a final symlink itself. Errors are the kernel's
    ``OSError`` (ENOENT, ENOTDIR, EEXIST...); too many symlinks is ``ELOOP``; with
    ``strict``, a path leading out of the root (absolute, ``..`` above it, an absolute
    symlink) is ``EXDEV``.
    """
    if _settings.openat2:
        fd = _openat2(root_fd, path, flags, mode, strict)
        if fd is not None:
            return fd
    return _open_walk(root_fd, path, flags, mode, strict)


def resolve_parent_beneath(root_fd: int, path: str) -> tuple[int, str]:
    """``(dir_fd, name)`` for ``path``: its parent directory resolved beneath ``root_fd``
    (an ``O_PATH`` fd the caller closes) and its last component, not followed.

    ``path`` must name something below the root: the root itself, or a path whose last
    component is ``..``, is ``OSError(EINVAL)``.
    """
    parts = _components(path)
    if not parts or parts[-1] == "..":
        raise OSError(errno.EINVAL, "the path has no last component to create", path)
    parent = "/".join(parts[:-1])
    dir_fd = open_beneath(root_fd, parent, os.O_PATH | os.O_DIRECTORY)
    return dir_fd, parts[-1]


def mkdirs_beneath(root_fd: int, path: str, mode: int = 0o755) -> int:
    """``mkdir -p path`` beneath ``root_fd``; an ``O_PATH`` fd of the directory, which the
    caller closes. Missing directories are made with ``mode`` (less the umask); symlinks on
    the way are followed inside the root. Something other than a directory in the way is
    ``OSError(ENOTDIR)`` or ``OSError(EEXIST)`` (a dangling symlink)."""
    flags = os.O_PATH | os.O_DIRECTORY
    try:
        return open_beneath(root_fd, path, flags)
    except FileNotFoundError:
        pass
    parts = _components(path)
    # find the deepest existing prefix, then make the rest one directory at a time
    done = len(parts)
    while done > 0:
        done -= 1
        try:
            fd = open_beneath(root_fd, "/".join(parts[:done]), flags)
        except FileNotFoundError:
            continue
        break
    else:
        fd = open_beneath(root_fd, "", flags)
    try:
        for index in range(done, len(parts)):
            name = parts[index]
            made = True
            if name != "..":
                try:
                    os.mkdir(name, mode, dir_fd=fd)
                except FileExistsError:
                    made = False  # made meanwhile, or a symlink: resolved inside the root
            os.close(fd)
            fd = -1
            prefix = "/".join(parts[: index + 1])
            try:
                fd = open_beneath(root_fd, prefix, flags)
            except FileNotFoundError:
                if made:
                    raise
                raise FileExistsError(
                    errno.EEXIST, "a symlink to a missing directory is in the way", prefix
                ) from None
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    return fd


def read_small_file_beneath(root_fd: int, path: str, limit: int) -> str:
    """The regular file ``path`` beneath the root as text; "" when it is missing, not a
    regular file or larger than ``limit`` bytes. Never blocks on a FIFO a container made."""
    try:
        fd = open_beneath(root_fd, path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return "" if len(data) > limit else data.decode("utf-8", "replace")


def proc_fd_path(fd: int, name: str | None = None) -> str:
    """``/proc/self/fd/N`` (or ``/proc/self/fd/N/name``): the object ``fd`` refers to, for
    the calls that have no fd or ``*at`` form. The kernel resolves the fd's magic link to
    the open object itself; ``name`` is then looked up in that directory, and is followed
    only if the call follows symlinks."""
    return f"/proc/self/fd/{fd}" if name is None else f"/proc/self/fd/{fd}/{name}"
