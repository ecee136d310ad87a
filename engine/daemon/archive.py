"""``docker cp``: stat, read and write paths inside a container's root file system.

Every operation runs in a helper process that chroots into the container's root before it
touches a path, so symlinks inside the container (``/etc -> /host/etc``, ``..`` chains)
resolve inside it and can never reach the host's files; extraction also goes through
tarfile's ``data`` filter (no absolute names, no links leaving the target, no devices).

The root is ``/proc/<pid>/root`` for a running container (its volumes and bind mounts are
visible there) and the container's merged overlay otherwise.

Stat answers use Docker's shape (``X-Docker-Container-Path-Stat``): ``mode`` holds Go's
``os.FileMode`` bits (directory = 1 << 31, symlink = 1 << 27).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream

from engine.errors import EngineInternal, InvalidParameter, NotFound

_HELPER = r"""
import json, os, stat, sys, tarfile, time
action, root, path = sys.argv[1:4]
os.chroot(root)
os.chdir("/")
GO = [(stat.S_ISDIR, 1 << 31), (stat.S_ISLNK, 1 << 27), (stat.S_ISFIFO, 1 << 25),
      (stat.S_ISSOCK, 1 << 24), (stat.S_ISCHR, (1 << 26) | (1 << 21)), (stat.S_ISBLK, 1 << 26)]
def go_mode(st):
    mode = st.st_mode & 0o777
    for test, bit in GO:
        if test(st.st_mode):
            mode |= bit
    if st.st_mode & stat.S_ISUID: mode |= 1 << 23
    if st.st_mode & stat.S_ISGID: mode |= 1 << 22
    if st.st_mode & stat.S_ISVTX: mode |= 1 << 20
    return mode
def describe(p):
    st = os.lstat(p)
    link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
    return {"name": os.path.basename(p.rstrip("/")) or "/", "size": st.st_size,
            "mode": go_mode(st), "linkTarget": link,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))}
try:
    if action == "stat":
        target = path.rstrip("/") or "/"
        if path.endswith("/") and not os.path.isdir(target):
            sys.exit(3)
        print(json.dumps(describe(target)))
    elif action == "get":
        target = path.rstrip("/") or "/"
        if target.endswith("/."):
            base, arcname = target[:-2] or "/", "."
        else:
            base, arcname = target, os.path.basename(target) or "."
        os.lstat(base)
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(base, arcname=arcname)
    elif action == "put":
        if not os.path.isdir(path):
            sys.exit(3)
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
            tar.extractall(path, filter="data")
except FileNotFoundError:
    sys.exit(2)
except NotADirectoryError:
    sys.exit(3)
except (tarfile.TarError, OSError) as exc:
    print(exc, file=sys.stderr)
    sys.exit(4)
"""


def _command(action: str, root: str, path: str) -> list[str]:
    if not path.startswith("/"):
        path = "/" + path
    return [sys.executable, "-I", "-c", _HELPER, action, root, path]


def _raise_for(code: int, path: str, container: str, stderr: bytes) -> None:
    if code == 2:
        raise NotFound(f"Could not find the file {path} in container {container}")
    if code == 3:
        raise InvalidParameter(f"{path} is not a directory in container {container}")
    if code != 0:
        message = stderr.decode(errors="replace").strip() or f"exit code {code}"
        raise EngineInternal(f"copying {path} in container {container} failed: {message}")


async def _drain(stream: ByteReceiveStream | None) -> bytes:
    if stream is None:
        return b""
    with anyio.move_on_after(2):
        return b"".join([chunk async for chunk in stream])
    return b""


async def stat_path(root: str, path: str, container: str) -> dict[str, Any]:
    result = await anyio.run_process(_command("stat", root, path), check=False)
    _raise_for(result.returncode, path, container, result.stderr)
    stat: dict[str, Any] = json.loads(result.stdout)
    return stat


async def read_path(root: str, path: str, container: str) -> AsyncIterator[bytes]:
    """The tar of ``path`` (a file or a whole tree), as it is produced.

    Resource handling: the helper is killed if the reader stops early.
    """
    process = await anyio.open_process(_command("get", root, path))
    try:
        assert process.stdout is not None
        async for chunk in process.stdout:
            yield chunk
        code = await process.wait()
        if code != 0:
            _raise_for(code, path, container, await _drain(process.stderr))
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.aclose()


async def write_path(root: str, path: str, container: str, tar: AsyncIterator[bytes]) -> None:
    """Extract the tar stream into the directory ``path``."""
    process = await anyio.open_process(_command("put", root, path))
    try:
        assert process.stdin is not None
        try:
            async for chunk in tar:
                await process.stdin.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the helper stopped reading: its exit code says why
        await process.stdin.aclose()
        code = await process.wait()
        if code != 0:
            _raise_for(code, path, container, await _drain(process.stderr))
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.aclose()
