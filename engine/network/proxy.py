"""The userland path for published ports, used only where the kernel cannot serve: TCP over
IPv6 to ::1, and to any IPv6 address of the host for a container without one.

IPv4 loopback is served in the kernel (route_localnet + DNAT, see nftables), but IPv6 has no
route_localnet: a packet from ::1 can never leave through the bridge; nor can nftables NAT
IPv6 to IPv4. So for each TCP port published on all addresses the engine listens on
[::]:port in the host namespace (on [::1]:port for a port published on ::1) and relays each
connection that the ip6 DNAT rules did not take to the container's IPv4 address, as
docker-proxy does. UDP over IPv6 to an IPv4-only container is not relayed.

Lifecycle: :func:`open_ipv6_listener` (blocking, may fail if the port is taken);
:func:`serve_proxy` relays until cancelled and closes the listener.
"""

from __future__ import annotations

import contextlib
import socket

import anyio
import anyio.abc
from anyio import to_thread

from engine.network.netlink import socket_in_netns

CONNECT_TIMEOUT = 5.0


def open_ipv6_listener(address: str, port: int, netns: str | None) -> socket.socket | None:
    """A TCP listener on [address]:port (``::`` or ``::1``) in ``netns``; None when the host
    has no IPv6 (or the port is taken there)."""
    try:
        sock = socket_in_netns(netns, socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except OSError:
        sock.close()
        return None
    return sock


async def _connect(target: tuple[str, int], netns: str | None) -> anyio.abc.SocketStream:
    sock = socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        await to_thread.run_sync(sock.connect, target)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return await anyio.abc.SocketStream.from_socket(sock)


async def _pump(source: anyio.abc.SocketStream, sink: anyio.abc.SocketStream) -> None:
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        async for chunk in source:
            await sink.send(chunk)
        await sink.send_eof()


async def serve_proxy(
    listener_socket: socket.socket, target: tuple[str, int], netns: str | None
) -> None:
    """Relay every connection on ``listener_socket`` to ``target`` until cancelled.

    Resource handling: the listener and all relayed connections are closed on exit.
    """
    listener_socket.setblocking(False)

    async def relay(client: anyio.abc.SocketStream) -> None:
        async with client:
            try:
                upstream = await _connect(target, netns)
            except OSError:
                return
            async with upstream, anyio.create_task_group() as tg:
                tg.start_soon(_pump, client, upstream)
                tg.start_soon(_pump, upstream, client)

    async with await anyio.abc.SocketListener.from_socket(listener_socket) as listener:
        await listener.serve(relay)
