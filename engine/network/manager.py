"""The network engine: networks, container sandboxes, endpoints and published ports.

Lifecycle, as the daemon drives it for one container::

    async with open_network_engine(settings) as engine:
        network = await engine.create_network("app_default")
        sandbox = await engine.create_sandbox(container_id, name="app-web-1", hostname="web")
        # hand sandbox.netns (a bind-mounted netns file) to the runtime's config.json
        await engine.connect(sandbox.id, network.id, aliases=["web"])
        await engine.publish_ports(sandbox.id, [PortRequest(80, host_port=8080)])
        ...
        await engine.remove_sandbox(sandbox.id)     # endpoints, ports, DNS, netns
        await engine.remove_network(network.id)     # bridge, rules

Glossary: a *network* is a Linux bridge with subnets; a *sandbox* is a container's network
namespace (plus its resolver on 127.0.0.11); an *endpoint* is the veth pair joining a sandbox
to a network (``ethN`` inside, ``pcv…`` on the bridge).

Invariants:
1. The engine only creates, changes and deletes objects it recorded: bridges, veths, namespace
   files under ``run_dir`` and its own nftables tables. A bridge name that exists but is not in
   the records is refused, not reused.
2. Every change is undone on failure before the error propagates.
3. State changes hold ``self._lock``; the blocking kernel calls run in worker threads.

Concurrency: blocking pyroute2 calls run through ``anyio.to_thread.run_sync`` (chosen once for
the package); resolvers run as tasks of the engine's task group, one cancel scope each.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio import to_thread

from engine.api.errors import Conflict, NotFound
from engine.network import coexist, netlink, nftables, proxy
from engine.network.dns import (
    DnsRecords,
    ResolverView,
    bind_resolver_sockets,
    render_resolver_redirect,
    serve_resolver,
)
from engine.network.errors import AddressInUse, BridgeFull, InvalidNetworkConfig
from engine.network.files import (
    ResolvConf,
    container_resolv_conf,
    parse_extra_hosts,
    parse_resolv_conf,
    resolver_upstreams,
)
from engine.network.files import etc_files as render_etc_files
from engine.network.ipam import (
    DEFAULT_IPV4_POOLS,
    DEFAULT_IPV6_POOLS,
    AddressPool,
    SubnetRequest,
    allocate_address,
    plan_subnets,
)
from engine.network.ports import PortBinding, PortRequest, assign_host_ports, hold_host_port
from engine.network.records import (
    Endpoint,
    IPAddress,
    IPInterface,
    Network,
    Sandbox,
    network_from_dict,
    network_to_dict,
    sandbox_from_dict,
    sandbox_to_dict,
)

logger = logging.getLogger(__name__)


BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"
IFNAME_MAX = 15
LOOPBACK6 = ipaddress.IPv6Address("::1")
MAC_PATTERN = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """Where the engine keeps its namespaces and how it names and numbers things."""

    run_dir: Path = Path("/run/pycompose/network")
    ipv4_pools: tuple[AddressPool, ...] = DEFAULT_IPV4_POOLS
    ipv6_pools: tuple[AddressPool, ...] = DEFAULT_IPV6_POOLS
    bridge_prefix: str = "pcbr-"
    veth_prefix: str = "pcv"
    # names of the engine's nftables tables; another engine on the same host needs others
    nft_tables: nftables.Tables = nftables.DEFAULT_TABLES
    # The namespace the engine treats as "the host" (None: its own). Tests point it at a
    # namespace they created, so nothing touches the real host's links or rules.
    host_netns: str | None = None
    resolv_conf: Path = Path("/etc/resolv.conf")


def settings_for_instance(instance: str, **fields: object) -> NetworkSettings:
    """Settings whose host objects (bridges, veths, nftables tables) carry ``instance`` in
    their names, so that several engines (one per data root) can share a host; the empty
    instance is the default engine's plain names."""
    if not instance:
        return NetworkSettings(**fields)  # type: ignore[arg-type]
    tag = instance[:3]
    return NetworkSettings(
        bridge_prefix=f"pc{tag}-",
        veth_prefix=f"pv{tag}",
        nft_tables=nftables.Tables.for_instance(instance),
        **fields,  # type: ignore[arg-type]
    )


def _short_hash(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def _mac_for(addresses: Sequence[IPInterface]) -> str | None:
    """Docker's MAC for an endpoint: 02:42 followed by the four bytes of its IPv4 address."""
    ipv4 = next((a.ip for a in addresses if a.version == 4), None)
    if ipv4 is None:
        return None
    return "02:42:" + ":".join(f"{byte:02x}" for byte in ipv4.packed)


class NetworkEngine:
    """Creates and removes networks, sandboxes, endpoints and published ports (see module)."""

    def __init__(self, settings: NetworkSettings, task_group: anyio.abc.TaskGroup) -> None:
        self.settings = settings
        self._task_group = task_group
        self._lock = anyio.Lock()
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.records = DnsRecords()
        self._proxies: dict[tuple[int, str, int], anyio.CancelScope] = {}
        # host ports of published bindings, bound so that no host process holds them meanwhile
        self._held_ports: dict[str, list[socket.socket]] = {}
        self._host_resolv: ResolvConf | None = None

    # --- lookups --------------------------------------------------------------------------

    def network(self, id_or_name: str) -> Network:
        found = self.networks.get(id_or_name)
        if found is None:
            matches = [n for n in self.networks.values() if n.name == id_or_name]
            matches = matches or [n for n in self.networks.values() if n.id.startswith(id_or_name)]
            if len(matches) != 1:
                raise NotFound(f"network {id_or_name} not found")
            found = matches[0]
        return found

    def sandbox(self, sandbox_id: str) -> Sandbox:
        try:
            return self.sandboxes[sandbox_id]
        except KeyError:
            raise NotFound(f"no network sandbox for container {sandbox_id}") from None

    # --- networks -------------------------------------------------------------------------

    async def create_network(
        self,
        name: str,
        *,
        internal: bool = False,
        enable_ipv6: bool = False,
        ipam: Sequence[SubnetRequest] = (),
        options: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Network:
        """Create a bridge network with its subnets, gateway addresses and rules.

        Error handling: ``Conflict`` for a taken name or bridge name, ``InvalidNetworkConfig``
        for bad options or ipam, ``AddressPoolExhausted`` when no subnet is free.
        """
        options = dict(options or {})
        async with self._lock:
            if any(n.name == name for n in self.networks.values()):
                raise Conflict(f"network with name {name} already exists")
            network_id = secrets.token_hex(32)
            bridge = options.get(BRIDGE_NAME_OPTION) or (
                self.settings.bridge_prefix
                + network_id[: IFNAME_MAX - len(self.settings.bridge_prefix)]
            )
            if (
                len(bridge) > IFNAME_MAX
                or not bridge.isprintable()
                or "/" in bridge
                or " " in bridge
            ):
                raise InvalidNetworkConfig(
                    f"network {name!r}: bridge name {bridge!r} is not a valid interface name "
                    f"(at most {IFNAME_MAX} characters, no spaces or slashes)"
                )
            mtu = self._parse_mtu(name, options.get(MTU_OPTION))
            masquerade = options.get(MASQUERADE_OPTION, "true").lower() not in ("false", "0")
            host = self.settings.host_netns
            existing = await to_thread.run_sync(netlink.link_names, host)
            if any(n.bridge == bridge for n in self.networks.values()):
                raise Conflict(f"network {name!r}: bridge {bridge} is used by another network")
            if bridge in existing:
                raise Conflict(
                    f"network {name!r}: an interface named {bridge} already exists and was not "
                    "created by this engine; choose another com.docker.network.bridge.name"
                )
            routes = await to_thread.run_sync(netlink.host_routes, host)
            in_use = [plan.subnet for n in self.networks.values() for plan in n.subnets]
            plans = plan_subnets(
                name,
                ipam,
                enable_ipv6=enable_ipv6,
                in_use=in_use,
                host_routes=routes,
                ipv4_pools=self.settings.ipv4_pools,
                ipv6_pools=self.settings.ipv6_pools,
            )
            gateways = [
                ipaddress.ip_interface(f"{plan.gateway}/{plan.subnet.prefixlen}") for plan in plans
            ]
            network = Network(
                id=network_id,
                name=name,
                bridge=bridge,
                internal=internal,
                enable_ipv6=enable_ipv6,
                subnets=tuple(plans),
                mtu=mtu,
                masquerade=masquerade,
                options=options,
                labels=dict(labels or {}),
                created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            )
            spec = netlink.BridgeSpec(bridge, gateways, mtu)
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(netlink.create_bridge, spec, host)
            try:
                await to_thread.run_sync(self._enable_forwarding, bridge, enable_ipv6)
                network.iptables_chain = await coexist.allow_bridge(bridge, host)
                self.networks[network_id] = network
                await self._apply_rules()
            except BaseException:
                self.networks.pop(network_id, None)
                with anyio.CancelScope(shield=True):
                    await to_thread.run_sync(netlink.delete_link, bridge, host)
                    if network.iptables_chain:
                        await coexist.disallow_bridge(bridge, network.iptables_chain, host)
                raise
            return network

    @staticmethod
    def _parse_mtu(name: str, text: str | None) -> int | None:
        if text is None or text == "":
            return None
        if not text.isdigit() or not 68 <= int(text) <= 65535:
            raise InvalidNetworkConfig(
                f"network {name!r}: {MTU_OPTION}={text!r} is not an MTU between 68 and 65535"
            )
        return int(text)

    def _enable_forwarding(self, bridge: str, ipv6: bool) -> None:
        host = self.settings.host_netns
        netlink.write_sysctl("net/ipv4/ip_forward", "1", host)
        # DNAT'ed connections from 127.0.0.1 leave through the bridge with a loopback source
        netlink.write_sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1", host)
        if ipv6:
            netlink.write_sysctl("net/ipv6/conf/all/forwarding", "1", host)

    async def remove_network(self, id_or_name: str) -> None:
        """Delete the bridge, its rules and records. Refused while endpoints are attached."""
        async with self._lock:
            network = self.network(id_or_name)
            if network.endpoints:
                raise Conflict(
                    f"error while removing network: network {network.name} id {network.id} has "
                    f"active endpoints ({len(network.endpoints)}); stop or disconnect them first"
                )
            with anyio.CancelScope(shield=True):
                del self.networks[network.id]
                self.records.remove_network(network.id)
                host = self.settings.host_netns
                await to_thread.run_sync(netlink.delete_link, network.bridge, host)
                if network.iptables_chain:
                    await coexist.disallow_bridge(network.bridge, network.iptables_chain, host)
                await self._apply_rules()

    async def release_host_objects(self) -> bool:
        """Take the engine's bridges, rules and nftables tables out of the kernel when no
        container is attached, keeping the records (:meth:`export_state`):
        :meth:`restore_state` makes them again. So an engine that stops with nothing to keep
        leaves nothing on the host. Returns whether it released them.
        """
        async with self._lock:
            if self.sandboxes:
                return False  # live-restore: the containers keep their networking
            with anyio.CancelScope(shield=True):
                host = self.settings.host_netns
                for network in self.networks.values():
                    await to_thread.run_sync(netlink.delete_link, network.bridge, host)
                    if network.iptables_chain:
                        await coexist.disallow_bridge(network.bridge, network.iptables_chain, host)
                await nftables.remove_tables(host, self.settings.nft_tables)
            return True

    # --- sandboxes ------------------------------------------------------------------------

    def _host_resolv_conf(self) -> ResolvConf:
        if self._host_resolv is None:
            try:
                text = self.settings.resolv_conf.read_text()
            except OSError:
                text = ""
            self._host_resolv = parse_resolv_conf(text)
        return self._host_resolv

    async def create_sandbox(
        self,
        sandbox_id: str,
        *,
        name: str = "",
        hostname: str = "",
        dns: Sequence[str] = (),
        embedded_dns: bool = True,
    ) -> Sandbox:
        """Create the container's network namespace (``lo`` up) and its resolver.

        Returns the sandbox; ``sandbox.netns`` is the path the runtime puts in config.json.
        Resource handling: remove it with :meth:`remove_sandbox`.
        """
        async with self._lock:
            if sandbox_id in self.sandboxes:
                raise Conflict(f"container {sandbox_id} already has a network sandbox")
            netns = str(self.settings.run_dir / "netns" / sandbox_id)
            upstreams = resolver_upstreams(self._host_resolv_conf(), dns)
            sandbox = Sandbox(sandbox_id, netns, name, hostname, upstreams, embedded_dns)
            # a namespace file left by a crash under our run_dir, unknown to the records
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(netlink.remove_netns, netns)
                await to_thread.run_sync(netlink.create_netns, netns)
            try:
                if embedded_dns:
                    await self._start_resolver(sandbox)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await to_thread.run_sync(netlink.remove_netns, netns)
                raise
            self.sandboxes[sandbox_id] = sandbox
            return sandbox

    async def _start_resolver(self, sandbox: Sandbox) -> None:
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
            upstream_netns=self.settings.host_netns,
            may_forward=lambda: any(
                not self.networks[n].internal for n in sandbox.network_ids if n in self.networks
            ),
        )

        async def run() -> None:
            with scope:
                try:
                    await serve_resolver(sockets, self.records, view)
                except Exception:
                    # one broken resolver must not take the engine (and every other one) down
                    logger.exception("DNS resolver of sandbox %s stopped", sandbox.id)

        self._task_group.start_soon(run)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Disconnect every endpoint, drop published ports, stop the resolver, delete the netns."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                sandbox = self.sandbox(sandbox_id)
                if sandbox.resolver_scope is not None:
                    sandbox.resolver_scope.cancel()
                had_ports = bool(sandbox.ports)
                sandbox.ports.clear()
                self._release_ports(sandbox_id)
                for network_id in list(sandbox.endpoints):
                    await self._disconnect(sandbox, self.networks[network_id], reroute=False)
                await to_thread.run_sync(netlink.remove_netns, sandbox.netns)
                del self.sandboxes[sandbox_id]
                if had_ports:
                    await self._apply_rules()

    # --- endpoints ------------------------------------------------------------------------

    async def connect(
        self,
        sandbox_id: str,
        network_id: str,
        *,
        aliases: Sequence[str] = (),
        ipv4_address: str | None = None,
        ipv6_address: str | None = None,
        mac_address: str | None = None,
    ) -> Endpoint:
        """Attach the sandbox to the network: veth pair, addresses, routes, DNS names.

        The container side is named ``eth0``, ``eth1``… (lowest free); the first non-internal
        network gives the default route. DNS answers the sandbox's name, hostname and
        ``aliases`` with this endpoint's addresses to every container of the network.
        """
        async with self._lock:
            sandbox = self.sandbox(sandbox_id)
            network = self.network(network_id)
            if mac_address is not None and not MAC_PATTERN.fullmatch(mac_address):
                raise InvalidNetworkConfig(
                    f"mac_address {mac_address!r} is not a MAC address like 02:42:ac:11:00:02"
                )
            if network.id in sandbox.endpoints:
                raise Conflict(
                    f"container {sandbox.name or sandbox.id} is already connected to network "
                    f"{network.name}"
                )
            if len(network.endpoints) >= netlink.MAX_BRIDGE_PORTS:
                raise BridgeFull(
                    f"network {network.name} already has {len(network.endpoints)} containers, "
                    f"the most a Linux bridge can hold ({netlink.MAX_BRIDGE_PORTS} ports); put "
                    "further containers on another network"
                )
            addresses: list[IPInterface] = []
            for plan in network.subnets:
                taken = [
                    a.ip
                    for e in network.endpoints.values()
                    for a in e.addresses
                    if a.version == plan.version
                ]
                requested = ipv4_address if plan.version == 4 else ipv6_address
                address = allocate_address(plan, taken, requested, network_name=network.name)
                addresses.append(ipaddress.ip_interface(f"{address}/{plan.subnet.prefixlen}"))
            used_ifnames = {e.ifname for e in sandbox.endpoints.values()}
            ifname = next(
                f"eth{i}" for i in range(len(used_ifnames) + 1) if f"eth{i}" not in used_ifnames
            )
            host_ifname = self.settings.veth_prefix + _short_hash(
                sandbox.id, network.id, length=IFNAME_MAX - len(self.settings.veth_prefix)
            )
            gateways: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
            if not network.internal and not any(e.gateways for e in sandbox.endpoints.values()):
                gateways = tuple(plan.gateway for plan in network.subnets)
            spec = netlink.VethSpec(
                host_name=host_ifname,
                bridge=network.bridge,
                netns=sandbox.netns,
                ifname=ifname,
                addresses=addresses,
                gateways=gateways,
                mac_address=mac_address or _mac_for(addresses),
                mtu=network.mtu,
            )
            host = self.settings.host_netns

            def set_up() -> str:
                # a veth of this name can only be a leftover of a crash: the name is derived
                # from the sandbox and network ids, and the prefix is the engine's
                netlink.delete_link(host_ifname, host)
                return netlink.create_veth(spec, host)

            # shielded: a cancelled caller must not leave a veth the records do not know
            with anyio.CancelScope(shield=True):
                mac = await to_thread.run_sync(set_up)
            endpoint = Endpoint(
                id=_short_hash(sandbox.id, network.id, "endpoint", length=64),
                network_id=network.id,
                sandbox_id=sandbox.id,
                ifname=ifname,
                host_ifname=host_ifname,
                mac_address=mac,
                addresses=tuple(addresses),
                aliases=tuple(aliases),
                gateways=gateways,
            )
            network.endpoints[sandbox.id] = endpoint
            sandbox.endpoints[network.id] = endpoint
            self.records.add_endpoint(
                network.id,
                endpoint.id,
                [sandbox.name, sandbox.hostname, *aliases],
                [a.ip for a in addresses],
            )
            return endpoint

    async def disconnect(self, sandbox_id: str, network_id: str) -> None:
        """Detach the sandbox from the network (veth, DNS names, ports via that address)."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                sandbox = self.sandbox(sandbox_id)
                network = self.network(network_id)
                if network.id not in sandbox.endpoints:
                    raise NotFound(
                        f"container {sandbox.name or sandbox.id} is not connected to network "
                        f"{network.name}"
                    )
                await self._disconnect(sandbox, network, reroute=True)

    async def _disconnect(self, sandbox: Sandbox, network: Network, *, reroute: bool) -> None:
        endpoint = sandbox.endpoints.pop(network.id)
        network.endpoints.pop(sandbox.id, None)
        self.records.remove_endpoint(network.id, endpoint.id)
        await to_thread.run_sync(
            netlink.delete_link, endpoint.host_ifname, self.settings.host_netns
        )
        stale = [p for p in sandbox.ports if set(p[1]) & {a.ip for a in endpoint.addresses}]
        if stale:
            sandbox.ports = [p for p in sandbox.ports if p not in stale]
            await self._apply_rules()
        if reroute and endpoint.gateways:
            for other in sandbox.endpoints.values():
                other_network = self.networks[other.network_id]
                if other_network.internal:
                    continue
                gateways = tuple(plan.gateway for plan in other_network.subnets)
                for gateway in gateways:
                    await to_thread.run_sync(
                        netlink.add_default_route, sandbox.netns, other.ifname, gateway
                    )
                other.gateways = gateways
                break

    # --- published ports ------------------------------------------------------------------

    async def publish_ports(
        self, sandbox_id: str, requests: Sequence[PortRequest]
    ) -> list[PortBinding]:
        """DNAT host ports to the container's address on its first non-internal network.

        Random host ports (no ``host_port``) are chosen free on the host. Reachable from the
        host (127.0.0.1 included), from other containers through the host's addresses and from
        other machines.
        """
        async with self._lock:
            sandbox = self.sandbox(sandbox_id)
            endpoint = next(
                (
                    e
                    for e in sandbox.endpoints.values()
                    if e.ipv4 is not None and not self.networks[e.network_id].internal
                ),
                None,
            )
            if endpoint is None or endpoint.ipv4 is None:
                raise InvalidNetworkConfig(
                    f"container {sandbox.name or sandbox.id} publishes ports but is not connected "
                    "to a non-internal IPv4 network; connect it to one or drop the ports"
                )
            targets: tuple[IPAddress, ...] = (endpoint.ipv4,)
            if endpoint.ipv6 is not None:
                targets += (endpoint.ipv6,)
            taken = [binding for s in self.sandboxes.values() for binding, _ in s.ports]
            bindings = await to_thread.run_sync(
                partial(assign_host_ports, requests, taken, self._host_port_free)
            )
            for binding in bindings:
                if (
                    binding.host_ip is not None
                    and binding.host_ip.version == 6
                    and endpoint.ipv6 is None
                ):
                    raise InvalidNetworkConfig(
                        f"container {sandbox.name or sandbox.id} publishes port "
                        f"{binding.container_port} on IPv6 address {binding.host_ip} but has "
                        "no IPv6 address; enable_ipv6 on its network or publish on IPv4"
                    )
            held = await to_thread.run_sync(self._hold_ports, bindings)
            self._held_ports.setdefault(sandbox_id, []).extend(held)
            sandbox.ports.extend((binding, targets) for binding in bindings)
            try:
                await self._apply_rules()
            except BaseException:
                sandbox.ports = [p for p in sandbox.ports if p[0] not in bindings]
                self._release_ports(sandbox_id, held)
                raise
            return bindings

    def _hold_ports(self, bindings: Sequence[PortBinding]) -> list[socket.socket]:
        """Bind every binding's host port (all or none); AddressInUse when the host uses one."""
        held: list[socket.socket] = []
        try:
            for binding in bindings:
                sock = hold_host_port(binding, self.settings.host_netns)
                if sock is not None:
                    held.append(sock)
        except BaseException:
            for sock in held:
                sock.close()
            raise
        return held

    def _release_ports(
        self, sandbox_id: str, sockets: Sequence[socket.socket] | None = None
    ) -> None:
        """Close the held host ports of a sandbox (all of them, or just ``sockets``)."""
        held = self._held_ports.pop(sandbox_id, [])
        chosen = held if sockets is None else [s for s in held if s in sockets]
        for sock in chosen:
            sock.close()
        kept = [s for s in held if s not in chosen]
        if kept:
            self._held_ports[sandbox_id] = kept

    def _host_port_free(self, protocol: str, port: int) -> bool:
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
            try:
                probe = netlink.socket_in_netns(self.settings.host_netns, family, kind)
            except OSError:
                continue  # no IPv6 on this host: probe with IPv4
            try:
                probe.bind((address, port))  # "::" is dual-stack: taken on either means taken
            except OSError:
                return False
            finally:
                probe.close()
            return True
        return True

    async def unpublish_ports(self, sandbox_id: str) -> None:
        async with self._lock:
            sandbox = self.sandbox(sandbox_id)
            self._release_ports(sandbox_id)
            if sandbox.ports:
                sandbox.ports.clear()
                await self._apply_rules()

    # --- container files -------------------------------------------------------------------

    def etc_files(
        self,
        sandbox_id: str,
        *,
        extra_hosts: Sequence[str] | Mapping[str, str | Sequence[str]] = (),
        dns: Sequence[str] = (),
        dns_search: Sequence[str] = (),
        dns_opt: Sequence[str] = (),
        domainname: str = "",
    ) -> dict[str, str]:
        """/etc/hosts, /etc/resolv.conf, /etc/hostname for the sandbox's container.

        Call after connecting its networks (its addresses go into /etc/hosts); the result is
        what engine.runtime takes as ``etc_files``. ``host-gateway`` in ``extra_hosts`` is the
        gateway of the container's first network.
        """
        sandbox = self.sandbox(sandbox_id)
        endpoints = list(sandbox.endpoints.values())
        host_gateway = None
        if endpoints:
            first = self.networks[endpoints[0].network_id]
            host_gateway = str(first.subnets[0].gateway)
        addresses = [str(a.ip) for a in endpoints[0].addresses] if endpoints else []
        resolv = container_resolv_conf(
            self._host_resolv_conf(),
            embedded_dns=sandbox.embedded_dns,
            dns=dns,
            dns_search=dns_search,
            dns_opt=dns_opt,
        )
        return render_etc_files(
            hostname=sandbox.hostname or sandbox.id[:12],
            addresses=addresses,
            resolv_conf=resolv,
            extra_hosts=parse_extra_hosts(extra_hosts, host_gateway),
            domainname=domainname,
        )

    # --- rules and teardown ---------------------------------------------------------------

    async def _apply_rules(self) -> None:
        bridges = []
        for n in self.networks.values():
            subnet4 = next((p.subnet for p in n.subnets if p.version == 4), None)
            subnet6 = next((p.subnet for p in n.subnets if p.version == 6), None)
            bridges.append(
                nftables.BridgeRules(
                    bridge=n.bridge,
                    subnet=subnet4 if isinstance(subnet4, ipaddress.IPv4Network) else None,
                    internal=n.internal,
                    masquerade=n.masquerade,
                    subnet6=subnet6 if isinstance(subnet6, ipaddress.IPv6Network) else None,
                )
            )
        ports = [
            nftables.PublishedPort(
                protocol=binding.protocol,
                host_port=binding.host_port,
                container_ip=target,
                container_port=binding.container_port,
                host_ip=binding.host_ip,
            )
            for sandbox in self.sandboxes.values()
            for binding, targets in sandbox.ports
            for target in targets
            if binding.host_ip is None or binding.host_ip.version == target.version
        ]
        await nftables.apply_ruleset(
            bridges, ports, self.settings.host_netns, self.settings.nft_tables
        )
        self._sync_loopback6_proxies()

    def _sync_loopback6_proxies(self) -> None:
        """Relay [::1]:port for TCP ports published on all addresses or ::1 (see proxy)."""
        wanted: set[tuple[int, str, int]] = set()
        for sandbox in self.sandboxes.values():
            for binding, targets in sandbox.ports:
                if binding.protocol != "tcp" or binding.host_ip not in (None, LOOPBACK6):
                    continue
                ipv4 = next((t for t in targets if t.version == 4), None)
                if ipv4 is not None:
                    wanted.add((binding.host_port, str(ipv4), binding.container_port))
        for key in set(self._proxies) - wanted:
            self._proxies.pop(key).cancel()
        for key in sorted(wanted - set(self._proxies)):
            host_port, target_ip, target_port = key
            listener = proxy.open_loopback6_listener(host_port, self.settings.host_netns)
            if listener is None:
                logger.info("no [::1]:%s relay (no IPv6 loopback, or port taken)", host_port)
                continue
            scope = anyio.CancelScope()
            self._proxies[key] = scope
            self._task_group.start_soon(self._run_proxy, scope, listener, (target_ip, target_port))

    async def _run_proxy(
        self, scope: anyio.CancelScope, listener: socket.socket, target: tuple[str, int]
    ) -> None:
        with scope:
            try:
                await proxy.serve_proxy(listener, target, self.settings.host_netns)
            except Exception:
                logger.exception("[::1] relay to %s:%s stopped", *target)

    # --- state across daemon restarts -----------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Everything needed to adopt this engine's objects after a restart (JSON-able)."""
        return {
            "version": 1,
            "networks": [network_to_dict(n) for n in self.networks.values()],
            "sandboxes": [sandbox_to_dict(s) for s in self.sandboxes.values()],
        }

    async def restore_state(self, state: Mapping[str, Any]) -> None:
        """Adopt the objects of :meth:`export_state` from a previous run of the engine.

        Networks whose bridge is gone are recreated; sandboxes whose namespace file is gone
        (their container went away while the engine was down) are dropped with their
        endpoints; resolvers are started again and the nftables tables rewritten. Call
        :meth:`remove_orphans` afterwards to delete what a crash left half-made.
        """
        async with self._lock:
            host = self.settings.host_netns
            existing = set(await to_thread.run_sync(netlink.link_names, host))
            for data in state.get("networks", []):
                network = network_from_dict(data)
                if network.bridge not in existing:
                    gateways = [
                        ipaddress.ip_interface(f"{p.gateway}/{p.subnet.prefixlen}")
                        for p in network.subnets
                    ]
                    spec = netlink.BridgeSpec(network.bridge, gateways, network.mtu)
                    await to_thread.run_sync(netlink.create_bridge, spec, host)
                await to_thread.run_sync(
                    self._enable_forwarding, network.bridge, network.enable_ipv6
                )
                network.iptables_chain = await coexist.allow_bridge(network.bridge, host)
                self.networks[network.id] = network
            for data in state.get("sandboxes", []):
                sandbox = sandbox_from_dict(data)
                if not Path(sandbox.netns).exists():
                    continue
                for network_id, endpoint in list(sandbox.endpoints.items()):
                    attached = self.networks.get(network_id)
                    if attached is None or endpoint.host_ifname not in existing:
                        del sandbox.endpoints[network_id]
                        continue
                    attached.endpoints[sandbox.id] = endpoint
                    self.records.add_endpoint(
                        network_id,
                        endpoint.id,
                        [sandbox.name, sandbox.hostname, *endpoint.aliases],
                        [a.ip for a in endpoint.addresses],
                    )
                if sandbox.embedded_dns:
                    await self._start_resolver(sandbox)
                self.sandboxes[sandbox.id] = sandbox
                try:
                    held = await to_thread.run_sync(
                        self._hold_ports, [binding for binding, _ in sandbox.ports]
                    )
                    self._held_ports[sandbox.id] = held
                except (AddressInUse, InvalidNetworkConfig) as exc:
                    # the container runs and keeps its rules; only the guard is missing
                    logger.warning("published ports of %s not held: %s", sandbox.id, exc)
            await self._apply_rules()

    async def remove_orphans(self) -> list[str]:
        """Delete links and namespace files with the engine's names that no record knows.

        Only names with the engine's prefixes (bridges, veths) and files in its own
        ``run_dir/netns`` are considered, so objects of other tools are never touched.
        Returns what was removed.
        """
        async with self._lock:
            host = self.settings.host_netns
            known_links = {n.bridge for n in self.networks.values()} | {
                e.host_ifname for s in self.sandboxes.values() for e in s.endpoints.values()
            }
            removed: list[str] = []
            for name in await to_thread.run_sync(netlink.link_names, host):
                ours = name.startswith((self.settings.bridge_prefix, self.settings.veth_prefix))
                if ours and name not in known_links:
                    await to_thread.run_sync(netlink.delete_link, name, host)
                    removed.append(name)
            known_netns = {s.netns for s in self.sandboxes.values()}
            netns_dir = self.settings.run_dir / "netns"
            if netns_dir.is_dir():
                for path in sorted(netns_dir.iterdir()):
                    if str(path) not in known_netns:
                        await to_thread.run_sync(netlink.remove_netns, str(path))
                        removed.append(str(path))
            return removed

    async def teardown(self) -> None:
        """Remove every sandbox, network and rule of this engine (used by tests and reset)."""
        with anyio.CancelScope(shield=True):
            for sandbox_id in list(self.sandboxes):
                await self.remove_sandbox(sandbox_id)
            for network_id in list(self.networks):
                await self.remove_network(network_id)
            await nftables.remove_tables(self.settings.host_netns, self.settings.nft_tables)


@asynccontextmanager
async def open_network_engine(
    settings: NetworkSettings | None = None,
) -> AsyncIterator[NetworkEngine]:
    """A :class:`NetworkEngine` whose resolvers run until the block exits.

    Leaving the block stops the resolvers but keeps networks and namespaces (containers keep
    running while the daemon restarts); call :meth:`NetworkEngine.teardown` to remove all.
    """
    async with anyio.create_task_group() as task_group:
        engine = NetworkEngine(settings or NetworkSettings(), task_group)
        try:
            yield engine
        finally:
            task_group.cancel_scope.cancel()
