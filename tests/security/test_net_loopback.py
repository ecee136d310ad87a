"""Attacks on the host's loopback through an engine bridge (CVE-2020-8558 class).

The engine sets route_localnet=1 on its bridges so that ports published on 127.0.0.1 can be
DNAT'ed into containers. That also lets a neighbour on the bridge (a container with
CAP_NET_ADMIN, played here by the test entering the container's network namespace) route
packets to 127.0.0.1 through its gateway and reach services the host keeps on loopback.
The engine must drop them, while the port published on 127.0.0.1 keeps working from the host,
and a port published on 127.0.0.1 answers on exactly that address and port.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.net_security_helpers import (
    Daemon,
    busybox_image_tar,
    http_get,
    in_ns,
    nft_ruleset,
    ns_ok,
    running_engine,
    sandbox_netns,
    skip_reason,
    tcp_connects,
    tcp_listener,
    udp_socket,
)

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def engine() -> Iterator[Daemon]:
    with running_engine() as daemon:
        yield daemon


@dataclass(frozen=True)
class Stack:
    daemon: Daemon
    client: EngineClient
    web: str  # a container serving HTTP on port 80, published on 127.0.0.1
    attacker: str  # a container on the same bridge
    published_port: int
    published_udp_port: int  # the web container's 81/udp (the test listens there)
    gateway: str
    web_address: str


@pytest.fixture
async def stack(engine: Daemon) -> AsyncIterator[Stack]:
    async with EngineClient(engine.socket, timeout=60) as client:
        await client.request(
            "POST",
            "/images/load",
            content=busybox_image_tar(),
            headers={"Content-Type": "application/x-tar"},
        )
        created = await client.container_create(
            ContainerCreate.model_validate(
                {
                    "Image": "busybox",
                    "Cmd": [
                        "sh",
                        "-c",
                        "mkdir -p /www && echo published > /www/index.html && "
                        "exec httpd -f -p 80 -h /www",
                    ],
                    "HostConfig": {
                        "PortBindings": {
                            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                            "81/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                        }
                    },
                }
            ),
            name="sec-web",
        )
        attacker = await client.container_create(
            ContainerCreate(Image="busybox", Cmd=["sleep", "600"]), name="sec-attacker"
        )
        try:
            await client.container_start(attacker.Id)
            await client.container_start(created.Id)
            inspect = await client.container_inspect(created.Id)
            ports = inspect.NetworkSettings.Ports["80/tcp"]
            udp_ports = inspect.NetworkSettings.Ports["81/udp"]
            assert ports and udp_ports
            network = inspect.NetworkSettings.Networks["bridge"]
            yield Stack(
                engine,
                client,
                created.Id,
                attacker.Id,
                int(ports[0].HostPort),
                int(udp_ports[0].HostPort),
                network.Gateway,
                network.IPAddress,
            )
        finally:
            await client.container_remove(created.Id, force=True)
            await client.container_remove(attacker.Id, force=True)


def received(sock: socket.socket, timeout: float = 1.0) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(64)
    except TimeoutError:
        return b""


def route_loopback_through_gateway(netns: str, gateway: str) -> None:
    """What a hostile container with CAP_NET_ADMIN does: send 127.0.0.1 to its gateway."""
    in_ns(netns, "ip", "route", "del", "local", "127.0.0.1", "dev", "lo", "table", "local")
    in_ns(netns, "ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local")
    ns_ok(netns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
    ns_ok(netns, "sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1")
    ns_ok(netns, "ip", "route", "add", "127.0.0.0/8", "via", gateway, "dev", "eth0")


@pytest.mark.anyio
async def test_host_loopback_service_is_not_reachable_from_a_bridge(stack: Stack) -> None:
    host = stack.daemon.host_netns
    attacker = sandbox_netns(stack.daemon, stack.attacker)
    service = tcp_listener(host, "127.0.0.1")
    datagrams = udp_socket(host, "127.0.0.1")
    try:
        port = service.getsockname()[1]
        udp_port = datagrams.getsockname()[1]
        assert tcp_connects(host, "127.0.0.1", port)  # the host itself reaches it
        route_loopback_through_gateway(attacker, stack.gateway)
        # the route is in place: the attacker's packets to 127.0.0.1 leave through eth0
        assert "via" in ns_ok(attacker, "ip", "route", "get", "127.0.0.1")
        reached_tcp = tcp_connects(attacker, "127.0.0.1", port)
        sender = udp_socket(attacker, "0.0.0.0")
        try:
            for _ in range(3):
                sender.sendto(b"hostile", ("127.0.0.1", udp_port))
        finally:
            sender.close()
        reached_udp = received(datagrams) == b"hostile"
        assert not reached_tcp, "a container reached a TCP service on the host's 127.0.0.1"
        assert not reached_udp, "a container reached a UDP service on the host's 127.0.0.1"
        # nor the ports published on 127.0.0.1 by a direct route (they are the host's loopback)
        assert http_get(attacker, "127.0.0.1", stack.published_port, timeout=1.5) == b""
        inside_web = udp_socket(sandbox_netns(stack.daemon, stack.web), "0.0.0.0", 81)
        sender = udp_socket(attacker, "0.0.0.0")
        try:
            for _ in range(3):
                sender.sendto(b"hostile", ("127.0.0.1", stack.published_udp_port))
            assert not received(inside_web), "a container reached a port published on 127.0.0.1"
            # while the host reaches it
            with udp_socket(host, "127.0.0.1") as from_host:
                from_host.sendto(b"host", ("127.0.0.1", stack.published_udp_port))
            assert received(inside_web) == b"host"
        finally:
            sender.close()
            inside_web.close()
    finally:
        service.close()
        datagrams.close()
    # the port published on 127.0.0.1 still works from the host
    assert http_get(host, "127.0.0.1", stack.published_port) == b"published\n"


@pytest.mark.anyio
async def test_loopback_publish_answers_only_on_its_address_and_port(stack: Stack) -> None:
    host = stack.daemon.host_netns
    port = stack.published_port
    assert http_get(host, "127.0.0.1", port) == b"published\n"
    # another host address (the bridge's gateway), the same port: nothing listens there
    assert not tcp_connects(host, stack.gateway, port)
    # another loopback address is another address
    assert not tcp_connects(host, "127.0.0.2", port)
    # a neighbouring port is not DNAT'ed
    assert not tcp_connects(host, "127.0.0.1", port + 1 if port < 65535 else port - 1)
    # from a container of the bridge, through the gateway: not published there
    assert not tcp_connects(sandbox_netns(stack.daemon, stack.attacker), stack.gateway, port)
    rules = nft_ruleset(host)
    dnat = [line.strip() for line in rules.splitlines() if f"tcp dport {port} " in line]
    assert dnat == [f"ip daddr 127.0.0.1 tcp dport {port} dnat to {stack.web_address}:80"], rules
