"""Fixtures of the build tests: an image store in a tmp dir, a runc with its own state root,
and a busybox base image made by the builder itself (FROM scratch + COPY of a busybox root).

Everything is removed at the end, failures included: mounts left below the data root are
unmounted, runc containers left in the test's state root are deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nstaff:x:50:\n"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("runc") is None and not Path("/usr/sbin/runc").exists():
        return "runc is not installed (scripts/install.sh)"
    if not Path(BUSYBOX).exists():
        return "busybox-static is not installed"
    return None


SKIP_REASON = _skip_reason()
needs_root = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_busybox_root(target: Path) -> Path:
    for directory in ("bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev"):
        (target / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin/busybox")
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (target / "bin" / applet).symlink_to("busybox")
    (target / "etc/passwd").write_text(PASSWD)
    (target / "etc/group").write_text(GROUP)
    (target / "tmp").chmod(0o1777)
    return target


def _unmount_below(root: Path) -> None:
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts if str(root) in line.split()[4]]
    for point in reversed(points):
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def data_root(tmp_path: Path):
    root = tmp_path / "data"
    root.mkdir()
    yield root
    _unmount_below(root)


@pytest.fixture
def runc(tmp_path: Path):
    from engine.runtime.runc import Runc

    state = tmp_path / "runc"
    state.mkdir()
    runtime = Runc(state_root=str(state))
    yield runtime
    if state.is_dir():
        for name in os.listdir(state):
            subprocess.run(
                [runtime.binary, "--root", str(state), "delete", "--force", name], check=False
            )


@pytest.fixture(scope="session")
def busybox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_root(tmp_path_factory.mktemp("busybox-context") / "rootfs")


@pytest.fixture
async def images(data_root: Path):
    from engine.images import ImageService

    async with ImageService(data_root) as service:
        yield service


@pytest.fixture
async def busybox_image(images, busybox_root: Path, tmp_path: Path):
    """The image ``test/busybox:latest``: FROM scratch + COPY of the busybox root."""
    from engine.build import BuildContext, BuildOptions, build

    context = BuildContext(busybox_root.parent)
    options = BuildOptions(
        dockerfile_inline='FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n',
        tags=["test/busybox"],
        network="none",
    )
    return await build(context, options, images)


@contextlib.contextmanager
def mounted(path: Path):
    try:
        yield path
    finally:
        _unmount_below(path)
