"""Real containers for the runtime tests: a busybox root file system, a runtime in a tmp dir.

Every test gets its own runc state root, container root and attach socket directory, and
:func:`runtime_in` removes everything it created on the way out, failures included: the
containers (``remove(force=True)``), then anything runc still lists in that state root, then
any conmon left whose pid file is under the test's directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.containers import ContainerRuntime
from engine.runtime.runc import Runc

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
)
GROUP = (
    "root:x:0:\ndaemon:x:1:\nwheel:x:10:root,app\naudio:x:29:app\nnogroup:x:65534:\napp:x:1000:\n"
)


def _have_tools() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("runc", "conmon"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (scripts/install.sh)"
    if not Path(BUSYBOX).exists():
        return "busybox-static is not installed"
    return None


SKIP_REASON = _have_tools()
needs_runtime = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def make_busybox_rootfs(target: Path) -> Path:
    """A minimal root: /bin/busybox with its applets as symlinks, /etc/passwd and /etc/group."""
    for directory in ("bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev"):
        (target / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin/busybox")
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (target / "bin" / applet).symlink_to("busybox")
    (target / "usr").mkdir(exist_ok=True)
    (target / "usr/bin").symlink_to("../bin")
    (target / "etc/passwd").write_text(PASSWD)
    (target / "etc/group").write_text(GROUP)
    (target / "tmp").chmod(0o1777)
    return target


@pytest.fixture(scope="session")
def busybox_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def rootfs(busybox_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "rootfs"
    shutil.copytree(busybox_template, target, symlinks=True)
    return target


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sweep(state_root: Path, directory: Path) -> None:
    """Last-resort cleanup: runc containers in the test's state root, conmons under it."""
    if state_root.exists():
        listing = subprocess.run(
            ["runc", "--root", str(state_root), "list", "-q"],
            check=False,
            capture_output=True,
            text=True,
        )
        for container_id in listing.stdout.split():
            subprocess.run(
                ["runc", "--root", str(state_root), "delete", "-f", container_id],
                check=False,
                capture_output=True,
            )
    for pid_file in directory.glob("**/conmon.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text().strip())
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"conmon"):
                os.kill(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def runtime_in(tmp_path: Path, **options: Any) -> AsyncIterator[ContainerRuntime]:
    state_root = tmp_path / "runc-state"
    socket_dir = tempfile.mkdtemp(prefix="pcs", dir="/tmp")
    runtime = ContainerRuntime(
        tmp_path / "containers",
        runc=Runc(state_root=str(state_root)),
        socket_dir=socket_dir,
        **options,
    )
    try:
        async with runtime:
            try:
                yield runtime
            finally:
                for info in runtime.all():
                    with contextlib.suppress(Exception):
                        await runtime.remove(info.id, force=True)
    finally:
        _sweep(state_root, tmp_path)
        shutil.rmtree(socket_dir, ignore_errors=True)
