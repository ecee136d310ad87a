"""A published host port that a host process already holds: refused at start, traffic kept.

Published ports are DNAT rules, so without a check a container published on a port a host
service listens on silently takes that service's traffic (127.0.0.1 included). The engine
must refuse to start such a container with an error naming the port, leave nothing behind
(no rule, no running container), and keep the port held while it is published so a host
process cannot bind it later either.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from engine.network import netlink
from tests.security.net_security_helpers import (
    Daemon,
    busybox_image_tar,
    http_get,
    nft_ruleset,
    running_engine,
    skip_reason,
    tcp_listener,
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


@pytest.fixture
async def client(engine: Daemon) -> AsyncIterator[EngineClient]:
    async with EngineClient(engine.socket, timeout=60) as engine_client:
        await engine_client.request(
            "POST",
            "/images/load",
            content=busybox_image_tar(),
            headers={"Content-Type": "application/x-tar"},
        )
        yield engine_client
        for container in await engine_client.container_list(all=True):
            await engine_client.container_remove(container.Id, force=True)


def web(host_ip: str, host_port: int, protocol: str = "tcp") -> ContainerCreate:
    return ContainerCreate.model_validate(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "echo container > /tmp/index.html; exec httpd -f -p 80 -h /tmp"],
            "HostConfig": {
                "PortBindings": {
                    f"80/{protocol}": [{"HostIp": host_ip, "HostPort": str(host_port)}]
                }
            },
        }
    )


def serve_once_in_thread(service: socket.socket) -> None:
    """Answer one HTTP request on ``service`` with 'host' (a host service)."""

    def serve() -> None:
        service.settimeout(5)
        try:
            connection, _ = service.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhost\n")

    threading.Thread(target=serve, daemon=True).start()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("service_ip", "publish_ip"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("127.0.0.1", ""), ("0.0.0.0", "")],
)
async def test_publishing_a_port_a_host_service_holds_fails_at_start(
    engine: Daemon, client: EngineClient, service_ip: str, publish_ip: str
) -> None:
    service = tcp_listener(engine.host_netns, service_ip)
    try:
        port = service.getsockname()[1]
        created = await client.container_create(web(publish_ip, port), name="sec-steal")
        with pytest.raises(errors.EngineError) as raised:
            await client.container_start(created.Id)
        assert raised.value.status in (409, 500)
        message = str(raised.value)
        assert str(port) in message and "already" in message, message
        inspect = await client.container_inspect(created.Id)
        assert inspect.State.Status == "created"
        assert not inspect.NetworkSettings.Ports or not any(inspect.NetworkSettings.Ports.values())
        assert f"dport {port} " not in nft_ruleset(engine.host_netns)  # nothing half-made
        serve_once_in_thread(service)
        assert http_get(engine.host_netns, "127.0.0.1", port) == b"host\n"  # not stolen
    finally:
        service.close()
    # once the host service is gone the same container starts and gets the port
    await client.container_start(created.Id)
    assert (await client.container_inspect(created.Id)).State.Status == "running"


@pytest.mark.anyio
async def test_a_published_port_is_held_against_later_host_binds(
    engine: Daemon, client: EngineClient
) -> None:
    probe = tcp_listener(engine.host_netns, "127.0.0.1")
    port = probe.getsockname()[1]
    probe.close()
    created = await client.container_create(web("", port), name="sec-held")
    await client.container_start(created.Id)
    late = netlink.socket_in_netns(engine.host_netns, socket.AF_INET, socket.SOCK_STREAM)
    late.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        with pytest.raises(OSError):
            late.bind(("127.0.0.1", port))
    finally:
        late.close()
    await client.container_stop(created.Id, timeout=1)
    # stopped: the port is free again for the host
    tcp_listener(engine.host_netns, "127.0.0.1", port).close()
