"""A container flooding its embedded DNS resolver (127.0.0.11) cannot exhaust the engine.

The resolver runs in the engine's process: every TCP session and every query forwarded
upstream holds a descriptor. A container opening hundreds of TCP sessions, or sending
thousands of queries for outside names to an upstream that does not answer, must stay within
a small bound of the engine's descriptors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator

import anyio
import dns.message
import pytest

from engine.network import netlink
from engine.network.dns import DnsRecords, ResolverView, bind_resolver_sockets, serve_resolver

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def container_netns() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="pcdns")
    path = f"{directory}/container.ns"
    netlink.create_netns(path)
    try:
        yield path
    finally:
        netlink.remove_netns(path)
        shutil.rmtree(directory, ignore_errors=True)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.anyio
async def test_query_and_session_floods_stay_bounded(container_netns: str) -> None:
    # an upstream that takes queries and never answers, so forwards pile up
    upstream = netlink.socket_in_netns(container_netns, socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 53))
    sockets = bind_resolver_sockets(container_netns)
    udp_port = sockets.udp.getsockname()[1]
    tcp_port = sockets.tcp.getsockname()[1]
    view = ResolverView(
        network_ids=lambda: [], upstreams=["127.0.0.1"], upstream_netns=container_netns
    )
    clients: list[socket.socket] = []
    try:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(serve_resolver, sockets, DnsRecords(), view)
            await anyio.sleep(0.2)
            baseline = open_fds()
            flood = netlink.socket_in_netns(container_netns, socket.AF_INET, socket.SOCK_DGRAM)
            clients.append(flood)
            flood.setblocking(False)
            peak = 0
            for number in range(3000):
                query = dns.message.make_query(f"name{number}.example.", "A").to_wire()
                with contextlib.suppress(BlockingIOError):
                    flood.sendto(query, ("127.0.0.11", udp_port))
                if number % 50 == 0:
                    await anyio.sleep(0)
                    peak = max(peak, open_fds() - baseline - len(clients))
            for _ in range(500):
                session = netlink.socket_in_netns(
                    container_netns, socket.AF_INET, socket.SOCK_STREAM
                )
                session.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    session.connect(("127.0.0.11", tcp_port))
                clients.append(session)
                if len(clients) % 20 == 0:
                    await anyio.sleep(0.01)
                    peak = max(peak, open_fds() - baseline - len(clients))
            await anyio.sleep(0.5)
            peak = max(peak, open_fds() - baseline - len(clients))
            task_group.cancel_scope.cancel()
        assert peak <= 200, f"the resolver held {peak} more descriptors under the flood"
    finally:
        for client in clients:
            client.close()
        upstream.close()
