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

import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Unpack

import anyio
import anyio.abc
from anyio import to_thread

from engine.errors import Conflict, NotFound
from engine.network import netlink, nftables
from engine.network.dns import DnsRecords, start_resolver
from engine.network.errors import AddressInUse, BridgeFull, InvalidNetworkConfig
from engine.network.files import (
    EtcOptions,
    HostResolvConf,
    resolver_upstreams,
    sandbox_etc_files,
)
from engine.network.host_rules import HostRules
from engine.network.ipam import SubnetRequest, allocate_address, plan_subnets
from engine.network.naming import (
    MAC_PATTERN,
    MASQUERADE_OPTION,
    MTU_OPTION,
    bridge_name,
    check_options,
    endpoint_id,
    mac_for,
    parse_mtu,
    veth_name,
)
from engine.network.ports import HeldPorts, PortBinding, PortRequest, assign_host_ports
from engine.network.records import (
    STATE_VERSION,
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
from engine.network.settings import NetworkSettings, settings_for_instance

logger = logging.getLogger(__name__)


class NetworkEngine:
    """Creates and removes networks, sandboxes, endpoints and published ports (see module)."""

    def __init__(self, settings: NetworkSettings, task_group: anyio.abc.TaskGroup) -> None:
        self.settings = settings
        self._task_group = task_group
        self._lock = anyio.Lock()
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self._pending: dict[str, str] = {}  # sandboxes being made: id -> namespace file
        self.records = DnsRecords()
        self._rules = HostRules(settings, task_group)
        self._held_ports = HeldPorts(settings.host_netns)
        self._host_resolv = HostResolvConf(settings.resolv_conf)

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
        check_options(name, options)
        async with self._lock:
            if any(n.name == name for n in self.networks.values()):
                raise Conflict(f"network with name {name} already exists")
            network_id = secrets.token_hex(32)
            bridge = bridge_name(name, network_id, options, self.settings.bridge_prefix)
            mtu = parse_mtu(name, options.get(MTU_OPTION))
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
            with anyio.CancelScope(shield=True):
                await self._rules.create_bridge(network)
            try:
                await self._rules.allow_bridge(network)
                self.networks[network_id] = network
                await self._apply_rules()
            except BaseException:
                self.networks.pop(network_id, None)
                with anyio.CancelScope(shield=True):
                    await self._rules.delete_bridge(network)
                raise
            return network

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
                await self._rules.delete_bridge(network)
                await self._apply_rules()

    async def release_host_objects(self) -> bool:
        """Take the engine's bridges, rules and nftables tables out of the kernel when no
        container is attached, keeping the records (:meth:`export_state`):
        :meth:`restore_state` makes them again. So an engine that stops with nothing to keep
        leaves nothing on the host. Returns whether it released them.
        """
        async with self._lock:
            if self.sandboxes or self._pending:
                return False  # live-restore: the containers keep their networking
            with anyio.CancelScope(shield=True):
                for network in self.networks.values():
                    await self._rules.delete_bridge(network)
                await nftables.remove_tables(self.settings.host_netns, self.settings.nft_tables)
            return True

    # --- sandboxes ------------------------------------------------------------------------

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
            if sandbox_id in self.sandboxes or sandbox_id in self._pending:
                raise Conflict(f"container {sandbox_id} already has a network sandbox")
            netns = str(self.settings.run_dir / "netns" / sandbox_id)
            upstreams = resolver_upstreams(self._host_resolv.read(), dns)
            sandbox = Sandbox(sandbox_id, netns, name, hostname, upstreams, embedded_dns)
            self._pending[sandbox_id] = netns
        # The namespace and the resolver are the new sandbox's alone: made without the lock,
        # so that containers created at once get theirs in parallel (the id is reserved).
        try:
            with anyio.CancelScope(shield=True):  # first a crash's leftover file, if any
                await to_thread.run_sync(netlink.remove_netns, netns)
                await to_thread.run_sync(netlink.create_netns, netns)
            if embedded_dns:
                await self._start_resolver(sandbox)
        except BaseException:
            with anyio.CancelScope(shield=True):
                if sandbox.resolver_scope is not None:
                    sandbox.resolver_scope.cancel()
                await to_thread.run_sync(netlink.remove_netns, netns)
            del self._pending[sandbox_id]
            raise
        with anyio.CancelScope(shield=True):  # made: recorded whatever happens to the caller
            async with self._lock:
                del self._pending[sandbox_id]
                self.sandboxes[sandbox_id] = sandbox
        return sandbox

    async def _start_resolver(self, sandbox: Sandbox) -> None:
        host = self.settings.host_netns
        await start_resolver(sandbox, self.records, self.networks, host, self._task_group)

    async def start_embedded_dns(self, sandbox_id: str) -> bool:
        """Serve the embedded resolver in a sandbox made without one (a container of the
        default bridge that joins a user network gets one then, as in Docker); whether it
        was started now. The container's resolv.conf is the caller's to rewrite
        (:meth:`etc_files`)."""
        async with self._lock:
            sandbox = self.sandbox(sandbox_id)
            if sandbox.embedded_dns:
                return False
            await self._start_resolver(sandbox)
            sandbox.embedded_dns = True
            return True

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Disconnect every endpoint, drop published ports, stop the resolver, delete the netns."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                sandbox = self.sandbox(sandbox_id)
                if sandbox.resolver_scope is not None:
                    sandbox.resolver_scope.cancel()
                had_ports = bool(sandbox.ports)
                sandbox.ports.clear()
                self._held_ports.release(sandbox_id)
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
            host_ifname = veth_name(self.settings.veth_prefix, sandbox.id, network.id)
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
                mac_address=mac_address or mac_for(addresses),
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
                id=endpoint_id(sandbox.id, network.id),
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
            self.records.add_sandbox_endpoint(sandbox, endpoint, network.name)
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
            targets = self.port_targets(sandbox)
            if targets is None:
                raise InvalidNetworkConfig(
                    f"container {sandbox.name or sandbox.id} publishes ports but is not connected "
                    "to a non-internal IPv4 network; connect it to one or drop the ports"
                )
            taken = [binding for s in self.sandboxes.values() for binding, _ in s.ports]
            bindings = await to_thread.run_sync(
                partial(assign_host_ports, requests, taken, self._rules.host_port_free)
            )
            for binding in bindings:
                if (
                    binding.host_ip is not None
                    and binding.host_ip.version == 6
                    and all(target.version == 4 for target in targets)
                ):
                    raise InvalidNetworkConfig(
                        f"container {sandbox.name or sandbox.id} publishes port "
                        f"{binding.container_port} on IPv6 address {binding.host_ip} but has "
                        "no IPv6 address; enable_ipv6 on its network or publish on IPv4"
                    )
            held = await to_thread.run_sync(self._held_ports.bind, bindings)
            self._held_ports.keep(sandbox_id, held)
            sandbox.ports.extend((binding, targets) for binding in bindings)
            try:
                await self._apply_rules()
            except BaseException:
                sandbox.ports = [p for p in sandbox.ports if p[0] not in bindings]
                self._held_ports.release(sandbox_id, held)
                raise
            return bindings

    async def unpublish_ports(self, sandbox_id: str) -> None:
        async with self._lock:
            sandbox = self.sandbox(sandbox_id)
            self._held_ports.release(sandbox_id)
            if sandbox.ports:
                sandbox.ports.clear()
                await self._apply_rules()

    # --- container files -------------------------------------------------------------------

    def etc_files(self, sandbox_id: str, **options: Unpack[EtcOptions]) -> dict[str, str]:
        """/etc/hosts, /etc/resolv.conf, /etc/hostname for the sandbox's container.

        Call after connecting its networks (its addresses go into /etc/hosts); see
        :func:`engine.network.files.sandbox_etc_files`.
        """
        sandbox = self.sandbox(sandbox_id)
        endpoints = list(sandbox.endpoints.values())
        first = self.networks[endpoints[0].network_id] if endpoints else None
        return sandbox_etc_files(sandbox, first, self._host_resolv.read(), **options)

    async def _apply_rules(self) -> None:
        await self._rules.apply(self.networks.values(), self.sandboxes.values())

    # --- state across daemon restarts -----------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Everything needed to adopt this engine's objects after a restart (JSON-able)."""
        return {
            "version": STATE_VERSION,
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
                    await self._rules.create_bridge(network)
                await self._rules.allow_bridge(network)
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
                    self.records.add_sandbox_endpoint(sandbox, endpoint, attached.name)
                if sandbox.embedded_dns:
                    await self._start_resolver(sandbox)
                self.sandboxes[sandbox.id] = sandbox
                try:
                    held = await to_thread.run_sync(
                        self._held_ports.bind, [binding for binding, _ in sandbox.ports]
                    )
                    self._held_ports.keep(sandbox.id, held)
                except (AddressInUse, InvalidNetworkConfig) as exc:
                    # the container runs and keeps its rules; only the guard is missing
                    logger.warning("published ports of %s not held: %s", sandbox.id, exc)
            await self._apply_rules()

    def port_targets(self, sandbox: Sandbox) -> tuple[IPAddress, ...] | None:
        """The addresses a sandbox's published ports lead to: those of its first endpoint on a
        non-internal network with an IPv4 address (and its IPv6 one); None without one."""
        endpoint = next(
            (
                e
                for e in sandbox.endpoints.values()
                if e.ipv4 is not None and not self.networks[e.network_id].internal
            ),
            None,
        )
        if endpoint is None or endpoint.ipv4 is None:
            return None
        if endpoint.ipv6 is not None:
            return (endpoint.ipv4, endpoint.ipv6)
        return (endpoint.ipv4,)

    async def remove_orphans(self) -> list[str]:
        """Delete links and namespace files with the engine's names that no record knows.

        Only names with the engine's prefixes (bridges, veths) and files in its own
        ``run_dir/netns`` are considered, so objects of other tools are never touched.
        Returns what was removed.
        """
        async with self._lock:
            known_links = {n.bridge for n in self.networks.values()} | {
                e.host_ifname for s in self.sandboxes.values() for e in s.endpoints.values()
            }
            known_netns = {s.netns for s in self.sandboxes.values()} | set(self._pending.values())
            return await self._rules.remove_orphans(known_links, known_netns)

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


# engine.network and the tests import the settings from here
__all__ = ["NetworkEngine", "NetworkSettings", "open_network_engine", "settings_for_instance"]
