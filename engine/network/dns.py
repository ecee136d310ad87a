"""The embedded DNS server: names of containers on a network, everything else forwarded.

Like Docker, each container sandbox gets its own resolver at 127.0.0.11:53 (UDP and TCP) in its
network namespace; its sockets are opened there by the engine (on random ports, with a DNAT rule
from port 53 in the namespace, so the container may bind port 53 itself) and served from the
engine's event loop, so no process runs in the container. A query is answered from
:class:`DnsRecords` using the networks the container is attached to at that moment: A/AAAA
for service names (every replica), aliases, container names and hostnames, PTR for their
addresses (``<container>.<network>``, as Docker). Other names are
forwarded to the upstream resolvers (the container's ``dns`` setting, else the host's
/etc/resolv.conf) from a socket in the engine's namespace, so a resolver on the host's
loopback (systemd-resolved's 127.0.0.53) works. A container only on internal networks gets
REFUSED for outside names, as it has no way out.

Lifecycle: ``records.add_endpoint`` on connect, ``records.remove_endpoint`` on disconnect;
``serve_resolver(sockets, ...)`` runs until cancelled and closes the sockets.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.abc
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset
from anyio import to_thread
from anyio.streams.buffered import BufferedByteReceiveStream

from engine.network import nftables
from engine.network.netlink import socket_in_netns
from engine.network.records import Endpoint, Network, Sandbox

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVER_ADDRESS = "127.0.0.11"
TTL = 600
FORWARD_TIMEOUT = 2.0
# per sandbox: each forward and each TCP session holds one of the engine's descriptors
MAX_FORWARDS = 64
MAX_TCP_SESSIONS = 16


def normalize_name(name: str) -> str:
    return name.rstrip(".").lower()


@dataclass(slots=True)
class _Entry:
    names: tuple[str, ...]
    addresses: tuple[IPAddress, ...]
    network_name: str = ""


@dataclass(slots=True)
class DnsRecords:
    """Names and addresses of every endpoint, per network (pure, in memory)."""

    _endpoints: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    _by_name: dict[str, dict[str, dict[str, tuple[IPAddress, ...]]]] = field(default_factory=dict)

    def add_sandbox_endpoint(self, sandbox: Sandbox, endpoint: Endpoint, network_name: str) -> None:
        """The sandbox's name, hostname and the endpoint's aliases, on the endpoint's network
        (named ``network_name``: reverse lookups answer ``<container>.<network>``)."""
        self.add_endpoint(
            endpoint.network_id,
            endpoint.id,
            [sandbox.name, sandbox.hostname, *endpoint.aliases],
            [a.ip for a in endpoint.addresses],
            network_name=network_name,
        )

    def add_endpoint(
        self,
        network_id: str,
        endpoint_id: str,
        names: Iterable[str],
        addresses: Iterable[IPAddress],
        *,
        network_name: str = "",
    ) -> None:
        entry = _Entry(
            names=tuple(dict.fromkeys(normalize_name(n) for n in names if n)),
            addresses=tuple(addresses),
            network_name=network_name,
        )
        self.remove_endpoint(network_id, endpoint_id)
        self._endpoints.setdefault(network_id, {})[endpoint_id] = entry
        index = self._by_name.setdefault(network_id, {})
        for name in entry.names:
            index.setdefault(name, {})[endpoint_id] = entry.addresses

    def remove_endpoint(self, network_id: str, endpoint_id: str) -> None:
        entry = self._endpoints.get(network_id, {}).pop(endpoint_id, None)
        if entry is None:
            return
        index = self._by_name.get(network_id, {})
        for name in entry.names:
            holders = index.get(name, {})
            holders.pop(endpoint_id, None)
            if not holders:
                index.pop(name, None)

    def remove_network(self, network_id: str) -> None:
        self._endpoints.pop(network_id, None)
        self._by_name.pop(network_id, None)

    def knows(self, name: str, network_ids: Iterable[str]) -> bool:
        key = normalize_name(name)
        return any(key in self._by_name.get(n, {}) for n in network_ids)

    def lookup(self, name: str, network_ids: Iterable[str], version: int) -> list[IPAddress]:
        """Addresses of ``name`` (IPv4 or IPv6) on any of the networks, sorted, no duplicates."""
        key = normalize_name(name)
        found: set[IPAddress] = set()
        for network_id in network_ids:
            for addresses in self._by_name.get(network_id, {}).get(key, {}).values():
                found.update(a for a in addresses if a.version == version)
        return sorted(found, key=int)

    def reverse(self, address: IPAddress, network_ids: Iterable[str]) -> list[str]:
        """PTR names of the endpoint(s) holding ``address``: each one's container name and
        its network's, ``<container>.<network>`` (Docker's answer)."""
        names: list[str] = []
        for network_id in network_ids:
            for entry in self._endpoints.get(network_id, {}).values():
                if address in entry.addresses and entry.names:
                    name = entry.names[0]
                    if entry.network_name:
                        name = f"{name}.{normalize_name(entry.network_name)}"
                    if name not in names:
                        names.append(name)
        return names


@dataclass(frozen=True, slots=True)
class ResolverView:
    """What one sandbox's resolver answers from: its networks and its upstream servers."""

    network_ids: Callable[[], Sequence[str]]
    upstreams: Sequence[str]
    upstream_netns: str | None = None
    # False while the container is only on internal networks: no way out, not even by DNS
    may_forward: Callable[[], bool] = lambda: True


def refused(query: dns.message.Message) -> bytes:
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.REFUSED)
    return bytes(reply.to_wire())


def answer_locally(
    query: dns.message.Message, records: DnsRecords, network_ids: Sequence[str]
) -> dns.message.Message | None:
    """The reply for ``query`` from the records, or None when it must be forwarded."""
    if len(query.question) != 1:
        return None
    question = query.question[0]
    qname = question.name.to_text(omit_final_dot=True)
    response: dns.message.Message
    if question.rdtype == dns.rdatatype.PTR:
        try:
            address = ipaddress.ip_address(dns.reversename.to_address(question.name))
        except (dns.exception.SyntaxError, ValueError):
            return None
        names = records.reverse(address, network_ids)
        if not names:
            return None
        response = dns.message.make_response(query)
        response.answer.append(
            dns.rrset.from_text_list(
                question.name, TTL, dns.rdataclass.IN, dns.rdatatype.PTR, [f"{names[0]}."]
            )
        )
    else:
        if not records.knows(qname, network_ids):
            return None
        response = dns.message.make_response(query)
        version = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(question.rdtype)
        if version is not None:
            addresses = records.lookup(qname, network_ids, version)
            if addresses:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name,
                        TTL,
                        dns.rdataclass.IN,
                        question.rdtype,
                        [str(a) for a in addresses],
                    )
                )
    response.flags |= dns.flags.RA | dns.flags.AA
    return response


async def _connect_upstream(upstream: str, netns: str | None, kind: int) -> socket.socket | None:
    """A non-blocking socket connected to ``upstream``'s port 53 (UDP or TCP), or None."""
    family = socket.AF_INET6 if ":" in upstream else socket.AF_INET
    sock = socket_in_netns(netns, family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.settimeout(FORWARD_TIMEOUT)
            await to_thread.run_sync(sock.connect, (upstream, 53))
        sock.setblocking(False)
        if kind != socket.SOCK_STREAM:
            sock.connect((upstream, 53))
    except OSError:
        sock.close()
        return None
    return sock


async def _ask_udp(sock: socket.socket, wire: bytes) -> bytes:
    async with await anyio.abc.ConnectedUDPSocket.from_socket(sock) as udp:
        await udp.send(wire)
        return await udp.receive()


async def _ask_tcp(sock: socket.socket, wire: bytes) -> bytes:
    async with await anyio.abc.SocketStream.from_socket(sock) as stream:
        await stream.send(len(wire).to_bytes(2, "big") + wire)
        reader = BufferedByteReceiveStream(stream)
        length = int.from_bytes(await reader.receive_exactly(2), "big")
        return await reader.receive_exactly(length)


async def _forward(
    wire: bytes, upstreams: Sequence[str], netns: str | None, *, tcp: bool = False
) -> bytes | None:
    """The first upstream's answer to ``wire`` (each tried for FORWARD_TIMEOUT), or None."""
    kind, ask = (socket.SOCK_STREAM, _ask_tcp) if tcp else (socket.SOCK_DGRAM, _ask_udp)
    failures = (OSError, anyio.EndOfStream, anyio.IncompleteRead) if tcp else (OSError,)
    for upstream in upstreams:
        sock = await _connect_upstream(upstream, netns, kind)
        if sock is None:
            continue
        with anyio.move_on_after(FORWARD_TIMEOUT):
            try:
                return await ask(sock, wire)
            except failures:
                continue
    return None


@dataclass(slots=True)
class _Resolver:
    udp: anyio.abc.UDPSocket
    records: DnsRecords
    view: ResolverView
    task_group: anyio.abc.TaskGroup
    forwarding: int = 0
    # forwards answer concurrently; anyio allows one writer of a socket at a time
    send_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def reply(self, data: bytes, client: tuple[str, int]) -> None:
        async with self.send_lock:
            with contextlib.suppress(OSError, anyio.ClosedResourceError):
                await self.udp.sendto(data, *client)

    async def handle(self, wire: bytes, client: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return
        response = answer_locally(query, self.records, self.view.network_ids())
        if response is not None or not self.view.may_forward():
            await self.reply(response.to_wire() if response is not None else refused(query), client)
            return
        if self.forwarding >= MAX_FORWARDS:
            return  # a flood: dropped, as a busy resolver does (clients retry)
        self.forwarding += 1
        self.task_group.start_soon(self.forward, query, wire, client)

    async def forward(
        self, query: dns.message.Message, wire: bytes, client: tuple[str, int]
    ) -> None:
        try:
            reply = await _forward(wire, self.view.upstreams, self.view.upstream_netns)
        except Exception:
            reply = None  # e.g. the upstream namespace is gone: answer SERVFAIL
        finally:
            self.forwarding -= 1
        if reply is None:
            failure = dns.message.make_response(query)
            failure.set_rcode(dns.rcode.SERVFAIL)
            reply = failure.to_wire()
        await self.reply(reply, client)


async def _serve_tcp_client(
    stream: anyio.abc.SocketStream, records: DnsRecords, view: ResolverView
) -> None:
    async with stream:
        reader = BufferedByteReceiveStream(stream)
        with contextlib.suppress(anyio.EndOfStream, anyio.IncompleteRead, OSError):
            while True:
                with anyio.fail_after(30):  # idle clients are dropped, as resolvers expect
                    length = int.from_bytes(await reader.receive_exactly(2), "big")
                    wire = await reader.receive_exactly(length)
                try:
                    query = dns.message.from_wire(wire)
                except dns.exception.DNSException:
                    return
                response = answer_locally(query, records, view.network_ids())
                if response is not None:
                    reply: bytes | None = response.to_wire()
                elif not view.may_forward():
                    reply = refused(query)
                else:
                    reply = await _forward(wire, view.upstreams, view.upstream_netns, tcp=True)
                if reply is None:
                    failure = dns.message.make_response(query)
                    failure.set_rcode(dns.rcode.SERVFAIL)
                    reply = failure.to_wire()
                await stream.send(len(reply).to_bytes(2, "big") + reply)


@dataclass(frozen=True, slots=True)
class ResolverSockets:
    """The UDP and TCP sockets of one sandbox's resolver, bound to 127.0.0.11:53 inside it."""

    udp: socket.socket
    tcp: socket.socket

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


async def serve_resolver(sockets: ResolverSockets, records: DnsRecords, view: ResolverView) -> None:
    """Answer queries arriving on the sandbox's resolver sockets (UDP and TCP) until cancelled.

    Resource handling: the sockets are closed when this returns or is cancelled.
    """
    sockets.udp.setblocking(False)
    sockets.tcp.setblocking(False)
    try:
        async with (
            await anyio.abc.UDPSocket.from_socket(sockets.udp) as udp,
            await anyio.abc.SocketListener.from_socket(sockets.tcp) as listener,
            anyio.create_task_group() as tg,
        ):
            sessions = anyio.Semaphore(MAX_TCP_SESSIONS)

            async def serve_client(stream: anyio.abc.SocketStream) -> None:
                # a failing TCP client only loses its connection, never the resolver
                try:
                    with contextlib.suppress(Exception):
                        await _serve_tcp_client(stream, records, view)
                finally:
                    sessions.release()

            async def accept_clients() -> None:
                while True:
                    # bounded before accept: the rest wait in the listen queue
                    await sessions.acquire()
                    try:
                        stream = await listener.accept()
                    except (OSError, anyio.BrokenResourceError):
                        sessions.release()
                        await anyio.sleep(0.1)
                        continue
                    tg.start_soon(serve_client, stream)

            tg.start_soon(accept_clients)
            resolver = _Resolver(udp, records, view, tg)
            async for wire, client in udp:
                await resolver.handle(wire, client)
    finally:
        sockets.close()


def bind_resolver_sockets(netns: str) -> ResolverSockets:
    """UDP and TCP sockets on 127.0.0.11, random ports, inside ``netns`` (blocking).

    Port 53 itself stays free for the container (a DNS server in a container binds
    0.0.0.0:53); :func:`render_resolver_redirect` sends 127.0.0.11:53 to these ports, as
    Docker does.
    """
    udp = socket_in_netns(netns, socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((RESOLVER_ADDRESS, 0))
        tcp.bind((RESOLVER_ADDRESS, 0))
        tcp.listen(64)
    except OSError:
        udp.close()
        tcp.close()
        raise
    return ResolverSockets(udp, tcp)


RESOLVER_TABLE = "pycompose_dns"


def render_resolver_redirect(sockets: ResolverSockets) -> str:
    """The ``nft -f`` script, run inside the sandbox, that sends 127.0.0.11:53 to the resolver."""
    udp_port = sockets.udp.getsockname()[1]
    tcp_port = sockets.tcp.getsockname()[1]
    return (
        f"table ip {RESOLVER_TABLE} {{}}\n"
        f"delete table ip {RESOLVER_TABLE}\n"
        f"table ip {RESOLVER_TABLE} {{\n"
        "  chain output {\n"
        "    type nat hook output priority -100; policy accept;\n"
        f"    ip daddr {RESOLVER_ADDRESS} udp dport 53 dnat to {RESOLVER_ADDRESS}:{udp_port}\n"
        f"    ip daddr {RESOLVER_ADDRESS} tcp dport 53 dnat to {RESOLVER_ADDRESS}:{tcp_port}\n"
        "  }\n"
        "}\n"
    )


async def start_resolver(
    sandbox: Sandbox,
    records: DnsRecords,
    networks: Mapping[str, Network],
    host_netns: str | None,
    task_group: anyio.abc.TaskGroup,
) -> None:
    """Serve DNS in the sandbox on 127.0.0.11 (a task of ``task_group``, stopped by
    ``sandbox.resolver_scope``); names of its networks from ``records``, the rest forwarded
    from ``host_netns`` unless every network of the sandbox is internal."""
    sockets = await to_thread.run_sync(bind_resolver_sockets, sandbox.netns)
    try:
        await nftables.run_nft(render_resolver_redirect(sockets), sandbox.netns)
    except BaseException:
        sockets.close()
        raise
    scope = anyio.CancelScope()
    sandbox.resolver_scope = scope
    view = ResolverView(
        network_ids=lambda: sandbox.network_ids,
        upstreams=sandbox.upstreams,
        upstream_netns=host_netns,
        may_forward=lambda: any(
            not networks[n].internal for n in sandbox.network_ids if n in networks
        ),
    )

    async def run() -> None:
        with scope:
            try:
                await serve_resolver(sockets, records, view)
            except Exception:
                # one broken resolver must not take the engine (and every other one) down
                logger.exception("DNS resolver of sandbox %s stopped", sandbox.id)

    task_group.start_soon(run)
