"""Fixtures for network tests: a private "host" namespace and an engine that lives in it.

Every root test runs the network engine against a network namespace the test creates
(``host_netns``), so bridges, veths and nftables tables appear there and never on the real
host. Containers are the engine's own sandboxes; busybox processes started inside them with
nsenter stand in for container processes. Everything is removed in ``finally`` blocks: the
processes, the sandboxes' namespace files, and the host namespace (which takes its links and
rules with it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine.network import netlink
from engine.network.manager import NetworkEngine, NetworkSettings, open_network_engine

UPLINK_ADDRESS = "203.0.113.1"  # the test host's own address (TEST-NET-3, never routed out)
UPLINK_ADDRESS6 = "2001:db8:ff::1"  # and its IPv6 address (documentation prefix)


def _tools_missing() -> list[str]:
    return [tool for tool in ("nft", "nsenter", "busybox", "ip") if shutil.which(tool) is None]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sh(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def in_ns(netns: str, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return sh("nsenter", f"--net={netns}", *args, timeout=timeout)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges, nftables)")
    missing = _tools_missing()
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)} (scripts/install.sh installs them)")
    directory = Path(tempfile.mkdtemp(prefix="pycompose-nettest-"))
    try:
        yield directory
    finally:
        netns_dir = directory / "netns"
        if netns_dir.exists():
            for path in netns_dir.iterdir():
                netlink.remove_netns(str(path))
        for path in directory.glob("*.ns"):
            netlink.remove_netns(str(path))
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def host_netns(run_dir: Path) -> Iterator[str]:
    """A namespace playing the host: ``lo``, ``uplink`` (veth): 203.0.113.1, 2001:db8:ff::1."""
    path = str(run_dir / "host.ns")
    netlink.create_netns(path)
    try:
        for command in (
            # no dummy module on every kernel: a veth pair whose far end stays in the namespace
            ["ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-far"],
            ["ip", "link", "set", "uplink-far", "up"],
            ["ip", "addr", "add", f"{UPLINK_ADDRESS}/24", "dev", "uplink"],
            ["ip", "-6", "addr", "add", f"{UPLINK_ADDRESS6}/64", "dev", "uplink", "nodad"],
            ["ip", "link", "set", "uplink", "up"],
        ):
            result = in_ns(path, *command)
            assert result.returncode == 0, result.stderr
        yield path
    finally:
        netlink.remove_netns(path)


@pytest.fixture
def settings(run_dir: Path, host_netns: str) -> NetworkSettings:
    resolv = run_dir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\nsearch example.test\n")
    return NetworkSettings(run_dir=run_dir, host_netns=host_netns, resolv_conf=resolv)


@pytest.fixture
async def engine(settings: NetworkSettings) -> AsyncIterator[NetworkEngine]:
    async with open_network_engine(settings) as network_engine:
        try:
            yield network_engine
        finally:
            await network_engine.teardown()


class Processes:
    """Background processes started in namespaces, all killed at the end of the test."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, netns: str, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            ["nsenter", f"--net={netns}", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=5)


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def www(run_dir: Path) -> Path:
    """A document root with index.html ('hello') for busybox httpd."""
    root = run_dir / "www"
    root.mkdir()
    (root / "index.html").write_text("hello\n")
    return root
