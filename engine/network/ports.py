"""Published ports: what the user asked for, and the host ports it gets.

``PortRequest`` is one container port (Docker API ``PortBindings`` entry, or one item of the
Compose short/long syntax after expansion); :func:`parse_port_spec` expands the Compose short
syntax ``[host_ip:][host_port[-end]:]container_port[-end][/protocol]``; :func:`assign_host_ports`
decides the host port of each request (pure: which ports are taken is passed in);
:func:`hold_host_port` binds a decided host port on the host, so a port a host process uses is
refused and no host process can take it while it is published.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from engine.api import ports as api_ports
from engine.network.errors import AddressInUse, InvalidNetworkConfig
from engine.network.netlink import socket_in_netns

# Docker takes random host ports from the kernel's ephemeral range; this is its default.
RANDOM_PORT_RANGE = (49153, 60999)
PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class PortRequest:
    """One container port to publish; no host port (or a range) means: pick one."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None
    host_port: int | None = None
    host_port_end: int | None = None


@dataclass(frozen=True, slots=True)
class PortBinding:
    """A decided binding: ``host_ip:host_port -> container_port/protocol``."""

    container_port: int
    protocol: str
    host_port: int
    host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


def parse_port_spec(spec: str) -> list[PortRequest]:
    """Expand one Compose short-syntax port into one request per container port.

    Example: ``"127.0.0.1:8000-8001:80-81/udp"`` -> 80->8000 and 81->8001, UDP, on 127.0.0.1.
    The syntax is :func:`engine.api.ports.parse_port_spec`'s; the engine publishes TCP and
    UDP only, and no port 0.
    """
    try:
        specs = api_ports.parse_port_spec(spec)
    except api_ports.PortSpecError as exc:
        raise InvalidNetworkConfig(f"port spec {spec!r}: {exc}") from None
    requests: list[PortRequest] = []
    for port in sorted(specs, key=lambda port: port.target):
        if port.protocol not in PROTOCOLS:
            raise InvalidNetworkConfig(f"port spec {spec!r}: protocol must be tcp or udp")
        if port.target == 0 or port.published_start == 0:
            raise InvalidNetworkConfig(f"port spec {spec!r}: 0 is not a port (1-65535)")
        requests.append(
            PortRequest(
                port.target,
                port.protocol,
                port.host_ip or None,
                port.published_start,
                port.published_end,
            )
        )
    return requests


def _host_ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if text in (None, "", "0.0.0.0", "::"):
        return None
    try:
        return ipaddress.ip_address(text or "")
    except ValueError as exc:
        raise InvalidNetworkConfig(f"published port host_ip {text!r} is not an IP address") from exc


def _clashes(binding: PortBinding, taken: Iterable[PortBinding]) -> bool:
    for other in taken:
        if other.protocol != binding.protocol or other.host_port != binding.host_port:
            continue
        if other.host_ip is None or binding.host_ip is None or other.host_ip == binding.host_ip:
            return True
    return False


def assign_host_ports(
    requests: Sequence[PortRequest],
    taken: Sequence[PortBinding],
    host_port_free: Callable[[str, int], bool] = lambda protocol, port: True,
    random_range: tuple[int, int] = RANDOM_PORT_RANGE,
) -> list[PortBinding]:
    """Bindings for ``requests``, never clashing with ``taken`` nor with each other.

    ``host_port_free(protocol, port)`` tells whether a random candidate is unused on the host
    (the caller probes with a bind); fixed host ports are only checked against ``taken``.
    """
    decided: list[PortBinding] = []
    for request in requests:
        host_ip = _host_ip(request.host_ip)
        if request.protocol not in PROTOCOLS:
            raise InvalidNetworkConfig(f"protocol {request.protocol!r} must be tcp or udp")
        if request.host_port is not None and request.host_port_end is None:
            binding = PortBinding(
                request.container_port, request.protocol, request.host_port, host_ip
            )
            if _clashes(binding, [*taken, *decided]):
                where = f"{host_ip}:" if host_ip else ""
                raise AddressInUse(
                    f"host port {where}{request.host_port}/{request.protocol} is already "
                    "published by another container; choose another host port or leave it "
                    "out to get a free one"
                )
            decided.append(binding)
            continue
        first, last = (
            (request.host_port, request.host_port_end or request.host_port)
            if request.host_port is not None
            else random_range
        )
        for port in range(first, last + 1):
            binding = PortBinding(request.container_port, request.protocol, port, host_ip)
            if not _clashes(binding, [*taken, *decided]) and host_port_free(request.protocol, port):
                decided.append(binding)
                break
        else:
            raise AddressInUse(
                f"no free host port in {first}-{last}/{request.protocol} for container port "
                f"{request.container_port}; widen the range or free ports"
            )
    return decided


def hold_host_port(binding: PortBinding, netns: str | None) -> socket.socket | None:
    """Bind ``binding``'s host address and port in ``netns`` (blocking) and return the socket.

    DNAT would silently take the traffic of a host service on that port, so the port must be
    free, and the bound socket keeps host processes off it until it is closed (TCP: listening,
    which refuses every other bind; it never gets a connection, DNAT rewrites them all).
    None for ``::1``: its [::1] relay (engine.network.proxy) binds it. A TCP port on all
    addresses must be free on [::] as well, where its IPv6 relay listens.
    Error handling: AddressInUse names the port when the host already uses it.
    """
    host_ip = binding.host_ip
    if host_ip is not None and host_ip.version == 6 and host_ip.is_loopback:
        return None
    family = socket.AF_INET6 if host_ip is not None and host_ip.version == 6 else socket.AF_INET
    kind = socket.SOCK_STREAM if binding.protocol == "tcp" else socket.SOCK_DGRAM
    address = str(host_ip) if host_ip is not None else "0.0.0.0"
    sock = socket_in_netns(netns, family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            # TIME_WAIT left by a stopped host service must not block the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, binding.host_port))
        if kind == socket.SOCK_STREAM:
            # a listening socket keeps even SO_REUSEADDR binds off; DNAT takes its traffic
            sock.listen(1)
    except OSError as exc:
        sock.close()
        shown = f"[{address}]" if family == socket.AF_INET6 else address
        _refuse(exc, shown, binding)
    if host_ip is None and kind == socket.SOCK_STREAM:
        try:
            _check_ipv6_free(binding.host_port, netns)
        except BaseException:
            sock.close()
            raise
    return sock


class HeldPorts:
    """The host ports of published bindings, by sandbox, bound so no host process takes them.

    :meth:`bind` blocks (run it in a worker thread) and binds all of a list or none;
    :meth:`keep` and :meth:`release` run under the network engine's lock.
    """

    def __init__(self, netns: str | None) -> None:
        self._netns = netns
        self._by_sandbox: dict[str, list[socket.socket]] = {}

    def bind(self, bindings: Sequence[PortBinding]) -> list[socket.socket]:
        """Bind every binding's host port (all or none); AddressInUse when the host uses one."""
        held: list[socket.socket] = []
        try:
            for binding in bindings:
                sock = hold_host_port(binding, self._netns)
                if sock is not None:
                    held.append(sock)
        except BaseException:
            for sock in held:
                sock.close()
            raise
        return held

    def keep(self, sandbox_id: str, sockets: Sequence[socket.socket]) -> None:
        """Hold ``sockets`` for the sandbox until :meth:`release`."""
        self._by_sandbox.setdefault(sandbox_id, []).extend(sockets)

    def move(self, from_sandbox: str, to_sandbox: str) -> None:
        """The held host ports of one sandbox are now another's (a port takeover)."""
        self.keep(to_sandbox, self._by_sandbox.pop(from_sandbox, []))

    def release(self, sandbox_id: str, sockets: Sequence[socket.socket] | None = None) -> None:
        """Close the held host ports of a sandbox (all of them, or just ``sockets``)."""
        held = self._by_sandbox.pop(sandbox_id, [])
        chosen = held if sockets is None else [s for s in held if s in sockets]
        for sock in chosen:
            sock.close()
        kept = [s for s in held if s not in chosen]
        if kept:
            self._by_sandbox[sandbox_id] = kept


def _refuse(exc: OSError, shown: str, binding: PortBinding) -> NoReturn:
    if exc.errno == errno.EADDRINUSE:
        raise AddressInUse(
            f"Bind for {shown}:{binding.host_port}/{binding.protocol} failed: port is "
            "already in use on the host; stop what listens there or publish another port"
        ) from exc
    raise InvalidNetworkConfig(
        f"cannot publish on {shown}:{binding.host_port}/{binding.protocol}: {exc.strerror}"
    ) from exc


def _check_ipv6_free(port: int, netns: str | None) -> None:
    """A TCP port published on all addresses is served on [::] too (the IPv6 relay,
    engine.network.proxy): AddressInUse when a host process holds it there. A host
    without IPv6 has nothing to check."""
    try:
        probe = socket_in_netns(netns, socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return
    with probe:
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("::", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                _refuse(exc, "[::]", PortBinding(0, "tcp", port))
