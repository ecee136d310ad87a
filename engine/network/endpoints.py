"""Sandboxes and endpoints of the network engine: a container's namespace and resolver, and
the veth pairs joining it to networks (the half of :class:`NetworkEngine` that containers
come and go through; networks, ports and state are in :mod:`engine.network.manager`).

:class:`SandboxEndpoints` holds no state of its own: :class:`NetworkEngine` makes the
attributes declared here, and every change of them holds ``_lock`` (see the manager's
invariants).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import anyio
import anyio.abc
from anyio import to_thread

from engine.errors import Conflict, NotFound
from engine.network import netlink
from engine.network.dns import DnsRecords, start_resolver
from engine.network.errors import BridgeFull, InvalidNetworkConfig
from engine.network.files import HostResolvConf, resolver_upstreams
from engine.network.host_rules import HostRules
from engine.network.ipam import allocate_address
from engine.network.naming import MAC_PATTERN, endpoint_id, mac_for, veth_name
from engine.network.ports import HeldPorts
from engine.network.records import Endpoint, IPInterface, Network, Sandbox
from engine.network.settings import NetworkSettings


class SandboxEndpoints:
    """Create and remove sandboxes; connect and disconnect them (see module)."""

    settings: NetworkSettings
    _task_group: anyio.abc.TaskGroup
    _lock: anyio.Lock
    networks: dict[str, Network]
    sandboxes: dict[str, Sandbox]
    _pending: dict[str, str]  # sandboxes being made or taken apart: id -> namespace file
    records: DnsRecords
    _rules: HostRules
    _held_ports: HeldPorts
    _host_resolv: HostResolvConf

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
        """Disconnect every endpoint, drop published ports, stop the resolver, delete the netns.

        The sandbox leaves the records (its DNS names, ports and rules) under the lock; its
        veths and namespace are deleted without it, so that the containers of a ``down`` are
        taken apart in parallel (each deletion waits on the kernel for tens of milliseconds).
        Its addresses stay taken on their networks until its veths are gone: a new container
        given one before would share it with a namespace still answering ARP for it.
        """
        with anyio.CancelScope(shield=True):
            async with self._lock:
                sandbox = self.sandbox(sandbox_id)
                if sandbox.resolver_scope is not None:
                    sandbox.resolver_scope.cancel()
                had_ports = bool(sandbox.ports)
                sandbox.ports.clear()
                self._held_ports.release(sandbox_id)
                for network_id, endpoint in sandbox.endpoints.items():
                    self.records.remove_endpoint(network_id, endpoint.id)
                del self.sandboxes[sandbox_id]
                self._pending[sandbox_id] = sandbox.netns  # no other sandbox of this id yet
                if had_ports:
                    await self._apply_rules()
            try:
                links = [endpoint.host_ifname for endpoint in sandbox.endpoints.values()]
                await to_thread.run_sync(
                    _delete_links_and_netns, links, sandbox.netns, self.settings.host_netns
                )
            finally:
                async with self._lock:
                    for network_id in sandbox.endpoints:
                        network = self.networks.get(network_id)
                        if network is not None:
                            network.endpoints.pop(sandbox_id, None)
                    sandbox.endpoints.clear()
                    del self._pending[sandbox_id]

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

    async def _apply_rules(self) -> None:
        await self._rules.apply(self.networks.values(), self.sandboxes.values())


def _delete_links_and_netns(links: list[str], netns: str, host_netns: str | None) -> None:
    """A removed sandbox's host-side veths, then its namespace file (blocking)."""
    for name in links:
        netlink.delete_link(name, host_netns)
    netlink.remove_netns(netns)
