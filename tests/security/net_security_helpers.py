"""Shared parts of the network and API-server attack tests: a real engine, hostile namespaces.

:func:`running_engine` starts the real daemon (``python -m engine.daemon``) on its own socket,
data root and exec root, with a network namespace of the test as its "host", so every bridge,
rule and published port lives there and traffic never leaves the machine. Helpers open sockets
inside a namespace (the engine's host one or a container's sandbox) and run commands there.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from engine.network import netlink
from tests.engine.daemon.daemon_helpers import Daemon, busybox_image_tar, skip_reason

__all__ = ["Daemon", "busybox_image_tar", "skip_reason"]


def in_ns(netns: str, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run a command inside a network namespace (by its bind-mounted file)."""
    return subprocess.run(
        ["nsenter", f"--net={netns}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ns_ok(netns: str, *args: str) -> str:
    result = in_ns(netns, *args)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


@contextlib.contextmanager
def running_engine() -> Iterator[Daemon]:
    """The real daemon on its own roots; stopped and cleaned up (containers, mounts, netns)."""
    daemon = Daemon()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.cleanup()


def sandbox_netns(daemon: Daemon, container_id: str) -> str:
    """The file of a container's network namespace (its sandbox)."""
    path = daemon.exec_root / "network" / "netns" / container_id
    assert path.exists(), f"no sandbox namespace for {container_id}"
    return str(path)


def tcp_listener(netns: str | None, address: str, port: int = 0) -> socket.socket:
    """A listening TCP socket on ``address:port`` inside ``netns`` (a host service)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = netlink.socket_in_netns(netns, family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
    sock.bind((address, port))
    sock.listen(16)
    return sock


def udp_socket(netns: str | None, address: str, port: int = 0) -> socket.socket:
    sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    return sock


def tcp_connects(netns: str | None, address: str, port: int, timeout: float = 1.5) -> bool:
    """Whether a TCP connection from ``netns`` to ``address:port`` completes."""
    sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def http_get(netns: str | None, address: str, port: int, timeout: float = 3) -> bytes:
    """The body of ``GET /`` from a server reached from inside ``netns`` (b"" on failure)."""
    sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        return b""
    finally:
        sock.close()
    return data.partition(b"\r\n\r\n")[2]


def nft_ruleset(netns: str) -> str:
    return ns_ok(netns, "nft", "list", "ruleset")


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
