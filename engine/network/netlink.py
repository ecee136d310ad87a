"""Thin, blocking wrappers over netlink (pyroute2) and network namespaces.

This is the only module that imports pyroute2. Every function here blocks and is meant to run
in a worker thread (``anyio.to_thread.run_sync``), never on the event loop thread: to work in
another network namespace the calling thread enters it with setns(2) for the duration of the
call (a thread's network namespace is its own), opens its netlink socket there and comes back.
This avoids pyroute2's fork-per-namespace path, which costs milliseconds.

Glossary: ``netns`` is the path of a network-namespace file (``/proc/<pid>/ns/net`` or a bind
mount such as ``/run/pycompose/netns/<id>``); ``None`` means the engine's own (host) namespace.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from engine.network.errors import BridgeFull, NetworkSetupFailed

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
IFA_F_NODAD = 0x02
NETLINK_ROUTE = 0
# The kernel numbers bridge ports 1..1023 (BR_MAX_PORTS = 1024, port 0 unused).
MAX_BRIDGE_PORTS = 1023

_libc = ctypes.CDLL(None, use_errno=True)

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise NetworkSetupFailed(f"{what}: {os.strerror(code)} (errno {code})")


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "cannot enter network namespace")


@contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """Run the body with the calling thread inside ``netns`` (no-op for ``None``)."""
    if netns is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise NetworkSetupFailed(f"network namespace {netns} cannot be opened: {exc}") from exc
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


@contextmanager
def _iproute(netns: str | None) -> Iterator[IPRoute]:
    with in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    ipr = IPRoute(fileno=sock.detach())
    try:
        yield ipr
    except NetlinkError as exc:
        if exc.code == errno.EXFULL:
            raise BridgeFull(
                "the Linux bridge has no free port left (the kernel allows 1023 ports per "
                "bridge); spread the containers over more networks"
            ) from exc
        raise NetworkSetupFailed(
            f"netlink refused a change in {netns or 'the host namespace'}: "
            f"{os.strerror(exc.code) if exc.code else exc} ({exc})"
        ) from exc
    finally:
        ipr.close()


def socket_in_netns(netns: str | None, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket that belongs to ``netns`` (usable from any thread afterwards)."""
    with in_netns(netns):
        return socket.socket(family, kind, proto)


# --- namespaces -------------------------------------------------------------------------------


def create_netns(path: str) -> None:
    """Create a network namespace kept alive by a bind mount on ``path``, with ``lo`` up."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(exist_ok=False)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "cannot create a network namespace")
        try:
            source = b"/proc/thread-self/ns/net"
            _check(
                _libc.mount(source, str(target).encode(), None, MS_BIND, None),
                f"cannot bind-mount the network namespace on {target}",
            )
        finally:
            _setns(own)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        os.close(own)
    with _iproute(path) as ipr:
        ipr.link("set", index=1, state="up")


def remove_netns(path: str) -> None:
    """Unmount and delete a namespace file made by :func:`create_netns` (absent: no-op)."""
    target = Path(path)
    if not target.exists():
        return
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise NetworkSetupFailed(
                f"cannot unmount network namespace {path}: {os.strerror(code)}"
            )
    target.unlink(missing_ok=True)


# --- reading ----------------------------------------------------------------------------------


def host_routes(netns: str | None = None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Destinations of every route on the host (all tables), for IPAM to stay clear of.

    A host with many containers has thousands of routes (a link-local one per veth): the
    dump is read here with a parser of the three fields needed, not decoded by pyroute2,
    which spends milliseconds per message (a network create took most of a second).
    """
    routes: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    with in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    with sock:
        for family in (socket.AF_INET, socket.AF_INET6):
            seen: set[tuple[bytes, int]] = set()
            for raw, length in _dump_route_destinations(sock, family):
                if length == 0 or (raw, length) in seen:
                    continue
                seen.add((raw, length))
                if len(raw) == 16 and length >= 10 and raw[0] == 0xFE and raw[1] & 0xC0 == 0x80:
                    continue  # fe80::/10, a veth's link-local: cheaper told here than below
                address = ipaddress.ip_address(raw)
                network = ipaddress.ip_network((address, length), strict=False)
                if network.is_link_local or network.is_multicast or network.is_loopback:
                    continue
                routes.append(network)
    return routes


_NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, ...
_RTATTR = struct.Struct("=HH")  # length, type
NLMSG_ERROR, NLMSG_DONE, RTM_NEWROUTE, RTM_GETROUTE, RTA_DST = 2, 3, 24, 26, 1
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
MAX_DUMP_MESSAGES = 1_000_000  # routes of one family: a bound, not a limit met in practice


def _dump_route_destinations(sock: socket.socket, family: int) -> Iterator[tuple[bytes, int]]:
    """``(RTA_DST bytes, dst_len)`` of every route of ``family`` (a route without RTA_DST
    is a default route: empty bytes, length 0)."""
    sequence = family
    request = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + _RTMSG.size, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0
    ) + _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    sock.sendto(request, (0, 0))
    seen = 0
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + _NLMSG_HEADER.size <= len(data):
            length, kind, _, seq, _ = _NLMSG_HEADER.unpack_from(data, offset)
            if length < _NLMSG_HEADER.size or offset + length > len(data):
                raise NetworkSetupFailed("netlink sent a malformed route dump")
            body = offset + _NLMSG_HEADER.size
            if seq == sequence:
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, body)[0]
                    raise NetworkSetupFailed(f"cannot list the host's routes: {os.strerror(code)}")
                if kind == RTM_NEWROUTE and length >= _NLMSG_HEADER.size + _RTMSG.size:
                    seen += 1
                    if seen > MAX_DUMP_MESSAGES:
                        raise NetworkSetupFailed("the host's route table is too large to read")
                    dst_len = data[body + 1]
                    destination = b""
                    attribute = body + _RTMSG.size
                    end = offset + length
                    while attribute + _RTATTR.size <= end:
                        size, kind_attr = _RTATTR.unpack_from(data, attribute)
                        if size < _RTATTR.size:
                            break
                        if kind_attr == RTA_DST:
                            destination = data[attribute + _RTATTR.size : attribute + size]
                        attribute += (size + 3) & ~3
                    if destination or dst_len == 0:
                        yield destination, dst_len
            offset += (length + 3) & ~3


def link_index(name: str, netns: str | None = None) -> int | None:
    """The index of link ``name`` in ``netns``, or None (an ioctl: no netlink dump to decode)."""
    with in_netns(netns):
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return None


def link_names(netns: str | None = None) -> list[str]:
    """The names of the links in ``netns`` (if_nameindex(3): names only, no message to decode
    per link, which pyroute2 took milliseconds for on a host with many veths)."""
    with in_netns(netns):
        return [name for _, name in socket.if_nameindex()]


# --- bridges ----------------------------------------------------------------------------------


def _add_addresses_and_up(ipr: IPRoute, index: int, addresses: Sequence[IPInterface]) -> None:
    """Give link ``index`` its addresses (IPv6 without duplicate detection) and set it up."""
    for address in addresses:
        ipr.addr(
            "add",
            index=index,
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            flags=IFA_F_NODAD if address.version == 6 else 0,
        )
    ipr.link("set", index=index, state="up")


@dataclass(frozen=True, slots=True)
class BridgeSpec:
    name: str
    addresses: Sequence[IPInterface]
    mtu: int | None = None


def create_bridge(spec: BridgeSpec, netns: str | None = None) -> None:
    """Create and bring up a bridge with the gateway addresses (existing name: error)."""
    with _iproute(netns) as ipr:
        kwargs: dict[str, object] = {"ifname": spec.name, "kind": "bridge"}
        if spec.mtu:
            kwargs["mtu"] = spec.mtu
        ipr.link("add", **kwargs)
        try:
            index = ipr.link_lookup(ifname=spec.name)[0]
            _add_addresses_and_up(ipr, index, spec.addresses)
        except BaseException:
            ipr.link("del", index=index)
            raise


def delete_link(name: str, netns: str | None = None) -> bool:
    """Delete a link by name; False when it was not there."""
    index = link_index(name, netns)
    if index is None:
        return False
    with _iproute(netns) as ipr:
        ipr.link("del", index=index)
        return True


def write_sysctl(key: str, value: str, netns: str | None = None) -> None:
    """Write ``/proc/sys/<key>`` as seen from ``netns`` (``key`` like net/ipv4/ip_forward)."""
    with in_netns(netns), open(f"/proc/sys/{key}", "w") as handle:
        handle.write(value)


# --- endpoints --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VethSpec:
    """One container endpoint: ``host_name`` on ``bridge``, ``ifname`` inside ``netns``."""

    host_name: str
    bridge: str
    netns: str
    ifname: str
    addresses: Sequence[IPInterface]
    gateways: Sequence[IPAddress] = ()
    mac_address: str | None = None
    mtu: int | None = None


def create_veth(spec: VethSpec, host_netns: str | None = None) -> str:
    """Create the veth pair, plug it into the bridge and configure the container side.

    Returns the MAC address of the container side. On failure the pair is removed.
    """
    fd = os.open(spec.netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # indexes come from if_nametoindex: pyroute2's lookups decode a whole link message
        bridge_index = link_index(spec.bridge, host_netns)
        if bridge_index is None:
            raise NetworkSetupFailed(f"bridge {spec.bridge} does not exist")
        with _iproute(host_netns) as ipr:
            peer: dict[str, object] = {"ifname": spec.ifname, "net_ns_fd": fd}
            if spec.mac_address:
                peer["address"] = spec.mac_address
            kwargs: dict[str, object] = {
                "ifname": spec.host_name,
                "kind": "veth",
                "peer": peer,
                "master": bridge_index,
            }
            if spec.mtu:
                kwargs["mtu"] = spec.mtu
                peer["mtu"] = spec.mtu
            ipr.link("add", **kwargs)
            try:
                host_index = link_index(spec.host_name, host_netns)
                if host_index is None:
                    raise NetworkSetupFailed(f"veth {spec.host_name} vanished after creation")
                # br_netfilter DNATs bridged frames at the bridge: a container reaching its own
                # published port through the host address needs the frame sent back its port
                ipr.brport("set", index=host_index, mode=1)
                ipr.link("set", index=host_index, state="up")
                with _iproute(spec.netns) as inner:
                    index = link_index(spec.ifname, spec.netns)
                    if index is None:
                        raise NetworkSetupFailed(
                            f"{spec.ifname} did not appear in network namespace {spec.netns}"
                        )
                    _add_addresses_and_up(inner, index, spec.addresses)
                    for gateway in spec.gateways:
                        family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
                        inner.route(
                            "add",
                            dst="default",
                            gateway=str(gateway),
                            oif=index,
                            family=family,
                        )
                    if spec.mac_address:
                        return spec.mac_address
                    link = inner.get_links(index)[0]
                    return str(link.get_attr("IFLA_ADDRESS"))
            except BaseException:
                ipr.link("del", ifname=spec.host_name)
                raise
    finally:
        os.close(fd)


def add_default_route(netns: str, ifname: str, gateway: IPAddress) -> None:
    family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
    index = link_index(ifname, netns)
    if index is None:
        raise NetworkSetupFailed(f"{ifname} is missing in network namespace {netns}")
    with _iproute(netns) as ipr:
        ipr.route("add", dst="default", gateway=str(gateway), oif=index, family=family)
