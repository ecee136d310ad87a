"""The engine's nftables rules: forwarding, isolation, outbound NAT and published ports.

The engine owns exactly three tables, ``table inet pycompose`` (filter), ``table ip
pycompose_nat`` and ``table ip6 pycompose_nat6`` (NAT), and nothing else. They are rendered
from data by :func:`render_ruleset` (pure) and replaced atomically by :func:`apply_ruleset`
(one ``nft -f`` transaction that deletes and recreates them), so the kernel always holds
exactly what the records say.
:func:`remove_tables` drops them.

Rules, in the order the kernel meets them:
1. forward (priority filter - 10): traffic from one engine bridge to another engine bridge is
   dropped (isolation) unless it was DNAT'ed to a published port; an internal network's bridge
   only talks to itself; otherwise traffic leaving a bridge and replies are accepted.
   input (priority filter - 10): packets from a bridge to 127.0.0.0/8 are dropped unless they
   are replies (route_localnet=1 on the bridges would otherwise open the host's loopback).
   An nftables accept does not stop other base chains, so when Docker's iptables FORWARD chain
   drops by policy, :mod:`engine.network.coexist` adds accept rules there too.
2. nat prerouting/output (priority dstnat - 5): packets to a local address (``fib daddr type
   local``) on a published port are DNAT'ed to the container; the output hook covers
   connections made on the host itself, 127.0.0.1 included (prerouting never DNATs
   127.0.0.0/8: such packets came from outside the host).
3. nat postrouting (priority srcnat - 5): outbound masquerade for non-internal subnets; the
   source of DNAT'ed packets from 127.0.0.0/8 (these need route_localnet=1 on the bridge) and
   of hairpin connections (a container reaching a published port through the host address) is
   masqueraded to the gateway, so replies come back through the host. IPv6 subnets get the same
   NAT in the ip6 table, except for ::1: the kernel has no route_localnet for IPv6, so
   :mod:`engine.network.proxy` relays TCP on [::1] in userland.
"""

from __future__ import annotations

import ctypes
import functools
import ipaddress
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from engine.network import netlink
from engine.network.errors import NetworkSetupFailed

FILTER_TABLE = "pycompose"
NAT_TABLE = "pycompose_nat"
NAT6_TABLE = "pycompose_nat6"


@dataclass(frozen=True, slots=True)
class Tables:
    """The names of an engine's tables. Each engine on a host needs its own: the tables are
    replaced whole on every change, so two engines sharing them would erase each other's."""

    filter: str = FILTER_TABLE
    nat: str = NAT_TABLE
    nat6: str = NAT6_TABLE

    @classmethod
    def for_instance(cls, instance: str) -> Tables:
        if not instance:
            return cls()
        return cls(
            f"{FILTER_TABLE}_{instance}", f"{NAT_TABLE}_{instance}", f"{NAT6_TABLE}_{instance}"
        )


DEFAULT_TABLES = Tables()


@dataclass(frozen=True, slots=True)
class BridgeRules:
    """What the rules need to know about one network."""

    bridge: str
    subnet: ipaddress.IPv4Network | None
    internal: bool
    masquerade: bool = True
    subnet6: ipaddress.IPv6Network | None = None


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """``host_ip:host_port -> container_ip:container_port/protocol`` (host_ip None: any)."""

    protocol: str
    host_port: int
    container_ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    container_port: int
    host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def render_ruleset(
    bridges: Sequence[BridgeRules],
    ports: Sequence[PublishedPort],
    tables: Tables = DEFAULT_TABLES,
) -> str:
    """The ``nft -f`` script that replaces the engine's tables with the given state."""
    lines = [
        f"table inet {tables.filter} {{}}",
        f"delete table inet {tables.filter}",
        f"table ip {tables.nat} {{}}",
        f"delete table ip {tables.nat}",
        f"table ip6 {tables.nat6} {{}}",
        f"delete table ip6 {tables.nat6}",
    ]
    if not bridges:
        return "\n".join(lines) + "\n"
    names = ", ".join(_quote(b.bridge) for b in sorted(bridges, key=lambda b: b.bridge))
    lines += [
        f"table inet {tables.filter} {{",
        "  set bridges {",
        "    type ifname",
        f"    elements = {{ {names} }}",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter - 10; policy accept;",
    ]
    for b in bridges:
        name = _quote(b.bridge)
        if b.internal:
            lines += [
                f"    iifname {name} oifname != {name} drop",
                f"    oifname {name} iifname != {name} drop",
            ]
    # published ports stay reachable from containers of other networks (through the host)
    lines.append("    oifname @bridges ct status dnat accept")
    for b in bridges:
        if not b.internal:
            name = _quote(b.bridge)
            lines.append(f"    iifname {name} oifname @bridges oifname != {name} drop")
    for b in bridges:
        name = _quote(b.bridge)
        lines += [
            f"    iifname {name} accept",
            f"    oifname {name} ct state established,related accept",
        ]
    lines += [
        "  }",
        "  chain input {",
        "    type filter hook input priority filter - 10; policy accept;",
        # route_localnet=1 on the bridges must not open the host's loopback to containers
        # (CVE-2020-8558): only replies of the host's own DNAT'ed connections come in
        "    iifname @bridges ip daddr 127.0.0.0/8 ct state established,related accept",
        "    iifname @bridges ip daddr 127.0.0.0/8 drop",
        "  }",
        "}",
    ]

    for family, table in (("ip", tables.nat), ("ip6", tables.nat6)):
        lines += _nat_table(family, table, bridges, ports)
    return "\n".join(lines) + "\n"


def _nat_table(
    family: str, table: str, bridges: Sequence[BridgeRules], ports: Sequence[PublishedPort]
) -> list[str]:
    version = 4 if family == "ip" else 6
    lines = [f"table {family} {table} {{", "  chain published {"]
    chosen = [p for p in ports if p.container_ip.version == version]
    for port in sorted(chosen, key=lambda p: (p.protocol, p.host_port, str(p.host_ip))):
        match = f"{family} daddr {port.host_ip} " if port.host_ip else ""
        target = str(port.container_ip) if version == 4 else f"[{port.container_ip}]"
        lines.append(
            f"    {match}{port.protocol} dport {port.host_port} "
            f"dnat to {target}:{port.container_port}"
        )
    lines += [
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat - 5; policy accept;",
        # loopback is the host's own: a packet routed to it from outside is never published
        *(["    ip daddr 127.0.0.0/8 return"] if version == 4 else []),
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -105; policy accept;",
        # ::1 cannot be DNAT'ed out of the host (no route_localnet for IPv6): proxy serves it
        f"    fib daddr type local {'' if version == 4 else 'ip6 daddr != ::1 '}jump published",
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat - 5; policy accept;",
    ]
    for b in bridges:
        subnet = b.subnet if version == 4 else b.subnet6
        if subnet is None:
            continue
        name = _quote(b.bridge)
        if version == 4:
            lines.append(f"    oifname {name} ip saddr 127.0.0.0/8 masquerade")
        lines.append(f"    oifname {name} {family} saddr {subnet} ct status dnat masquerade")
        if not b.internal and b.masquerade:
            lines.append(f"    {family} saddr {subnet} oifname != {name} masquerade")
    lines += ["  }", "}"]
    return lines


def _nft_command(netns: str | None, *args: str) -> list[str]:
    command = ["nft", *args]
    if netns is not None:
        command = ["nsenter", f"--net={netns}", *command]
    return command


class _Libnftables:
    """libnftables (the library behind the ``nft`` command, in the same Debian package),
    driven through ctypes. One transaction costs a context and a netlink socket in the
    calling thread's namespace instead of a fork of the engine and two execs (``nsenter``,
    ``nft``): every container with an embedded resolver runs one at create."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.lib = library
        library.nft_ctx_new.restype = ctypes.c_void_p
        library.nft_ctx_new.argtypes = [ctypes.c_uint32]
        library.nft_ctx_free.restype = None
        library.nft_ctx_free.argtypes = [ctypes.c_void_p]
        library.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        library.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        library.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        library.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        library.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        # the library keeps some state outside its contexts: one transaction at a time
        self.lock = threading.Lock()

    def usable(self) -> bool:
        """Whether a context's netlink socket gets a descriptor below FD_SETSIZE (1024):
        the library select()s on it, and glibc aborts the whole engine for a descriptor
        above (an engine with hundreds of containers holds more than a thousand). Sockets
        take the lowest free number, so half the range free below it is a wide margin."""
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        os.close(probe)
        return probe < FD_SETSIZE // 2

    def run(self, script: str, netns: str | None) -> str | None:
        """Run ``script`` in ``netns`` (blocking: a worker thread's); the error text, or None."""
        with self.lock, netlink.in_netns(netns):
            # the context opens its netlink socket here, inside ``netns``
            context = self.lib.nft_ctx_new(0)
            if not context:
                return "libnftables could not make a context"
            try:
                self.lib.nft_ctx_buffer_output(context)
                self.lib.nft_ctx_buffer_error(context)
                if self.lib.nft_run_cmd_from_buffer(context, script.encode()) == 0:
                    return None
                error = self.lib.nft_ctx_get_error_buffer(context) or b""
                return error.decode(errors="replace").strip() or "no error text"
            finally:
                self.lib.nft_ctx_free(context)


FD_SETSIZE = 1024


@functools.cache
def _libnftables() -> _Libnftables | None:
    try:
        return _Libnftables(ctypes.CDLL("libnftables.so.1"))
    except (OSError, AttributeError):
        return None  # the nft command is used then


async def run_nft(script: str, netns: str | None = None) -> None:
    """Apply ``script`` (``nft -f`` syntax) in one transaction in ``netns`` (None: the
    engine's namespace), through libnftables, else the ``nft`` command."""
    library = _libnftables()
    if library is not None and library.usable():
        error = await anyio.to_thread.run_sync(library.run, script, netns)
        if error is not None:
            raise NetworkSetupFailed(f"nft refused the engine's ruleset: {error}")
        return
    try:
        result = await anyio.run_process(
            _nft_command(netns, "-f", "-"), input=script.encode(), check=False
        )
    except FileNotFoundError as exc:
        raise NetworkSetupFailed(
            "the nft command is missing; install the Debian package nftables"
        ) from exc
    if result.returncode != 0:
        raise NetworkSetupFailed(
            f"nft refused the engine's ruleset: {result.stderr.decode(errors='replace').strip()}"
        )


async def apply_ruleset(
    bridges: Sequence[BridgeRules],
    ports: Sequence[PublishedPort],
    netns: str | None = None,
    tables: Tables = DEFAULT_TABLES,
) -> None:
    """Replace the engine's tables atomically with the rules for ``bridges`` and ``ports``."""
    await run_nft(render_ruleset(bridges, ports, tables), netns)


async def remove_tables(netns: str | None = None, tables: Tables = DEFAULT_TABLES) -> None:
    """Drop the engine's tables (absent tables are fine)."""
    await run_nft(render_ruleset([], [], tables), netns)
