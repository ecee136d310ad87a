"""A real engine daemon on a tmp data root, and a busybox image as a `docker save` tar.

:func:`busybox_image_tar` builds the image from the host's static busybox: one layer with
/bin/busybox and its applets as symlinks, /etc/passwd and /etc/group. :class:`Daemon`
starts ``python -m engine.daemon`` as a child process and, on the way out, stops it and
removes everything it made (containers through the runtime, mounts under the data root,
runc state, conmon processes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from engine.network import netlink

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
ROOT_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
}


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("runc", "conmon"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (scripts/install.sh)"
    if not Path(BUSYBOX).exists():
        return "busybox-static is not installed"
    return None


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | None = None,
    *,
    mode: int = 0o644,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    if kind == tarfile.SYMTYPE:
        info.linkname = link
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def busybox_image_tar(tag: str = "busybox:latest") -> bytes:
    """A `docker save` archive of a busybox image named ``tag``."""
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for directory in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "usr"):
            _add(
                layer, directory, kind=tarfile.DIRTYPE, mode=0o1777 if directory == "tmp" else 0o755
            )
        _add(layer, "bin/busybox", Path(BUSYBOX).read_bytes(), mode=0o755)
        applets = subprocess.run(
            [BUSYBOX, "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for applet in applets:
            if applet != "busybox":
                _add(layer, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        _add(layer, "usr/bin", kind=tarfile.SYMTYPE, link="../bin")
        for name, text in ROOT_FILES.items():
            _add(layer, name, text.encode())
    layer_bytes = layer_buffer.getvalue()
    layer_digest = hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "amd64"),
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
    }
    config_bytes = json.dumps(config).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    manifest = [
        {
            "Config": f"{config_digest}.json",
            "RepoTags": [tag],
            "Layers": [f"{layer_digest}/layer.tar"],
        }
    ]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        _add(tar, f"{config_digest}.json", config_bytes)
        _add(tar, layer_digest, kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, f"{layer_digest}/layer.tar", layer_bytes)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return archive.getvalue()


class Daemon:
    """``python -m engine.daemon`` on its own data root, exec root and socket."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pcd", dir="/tmp"))
        self.socket = str(self.base / "engine.sock")
        self.data_root = self.base / "data"
        self.exec_root = self.base / "exec"
        self.log_path = self.base / "engine.log"
        self.process: subprocess.Popen[bytes] | None = None
        # the engine's "host" for networking: a namespace of the test's own
        self.host_netns = str(self.base / "host.ns")
        self.resolv_conf = self.base / "resolv.conf"
        self.resolv_conf.write_text("nameserver 127.0.0.1\n")
        try:
            netlink.create_netns(self.host_netns)
        except BaseException:  # e.g. made inside a running event loop: pyroute2 refuses
            netlink.remove_netns(self.host_netns)
            shutil.rmtree(self.base, ignore_errors=True)
            raise

    def start(self, timeout: float = 30) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine.daemon",
                    "--socket",
                    self.socket,
                    "--data-root",
                    str(self.data_root),
                    "--exec-root",
                    str(self.exec_root),
                    "--log-level",
                    "DEBUG",
                    "--network-host-netns",
                    self.host_netns,
                    "--resolv-conf",
                    str(self.resolv_conf),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited: {self.log_path.read_text()[-3000:]}")
            if self.answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"engine did not listen: {self.log_path.read_text()[-3000:]}")

    def answers(self) -> bool:
        """Whether the engine accepts connections (a stale socket file refuses them)."""
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(self.socket)
            except OSError:
                return False
        return True

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def cleanup(self) -> None:
        """Stop the engine, then remove every container, mount and file it made."""
        self.kill(signal.SIGKILL)
        with contextlib.suppress(OSError):  # shown by pytest when the test failed
            print("--- engine log (tail) ---\n" + self.log_path.read_text()[-6000:])
        runc_root = self.exec_root / "runc"
        if runc_root.exists():
            listing = subprocess.run(
                ["runc", "--root", str(runc_root), "list", "-q"],
                capture_output=True,
                text=True,
                check=False,
            )
            for container_id in listing.stdout.split():
                subprocess.run(
                    ["runc", "--root", str(runc_root), "delete", "-f", container_id],
                    capture_output=True,
                    check=False,
                )
        for pid_file in self.base.glob("**/conmon.pid"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(pid_file.read_text().strip())
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"conmon"):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        netns_dir = self.exec_root / "network" / "netns"
        if netns_dir.exists():
            for path in netns_dir.iterdir():
                netlink.remove_netns(str(path))
        netlink.remove_netns(self.host_netns)
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(str(self.base))), reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
