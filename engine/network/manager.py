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

from engine.errors import Conflict
from engine.network import netlink, nftables
from engine.network.dns import DnsRecords
from engine.network.endpoints import SandboxEndpoints
from engine.network.errors import AddressInUse, InvalidNetworkConfig
from engine.network.files import EtcOptions, HostResolvConf, sandbox_etc_files
from engine.network.host_rules import HostRules
from engine.network.ipam import SubnetRequest, plan_subnets
from engine.network.naming import (
    MASQUERADE_OPTION,
    MTU_OPTION,
    bridge_name,
    check_options,
    parse_mtu,
)
from engine.network.ports import HeldPorts, PortBinding, PortRequest, assign_host_ports
from engine.network.records import (
    STATE_VERSION,
    IPAddress,
    Network,
    Sandbox,
    network_from_dict,
    network_to_dict,
    sandbox_from_dict,
    sandbox_to_dict,
)
from engine.network.settings import NetworkSettings, settings_for_instance

logger = logging.getLogger(__name__)


class NetworkEngine(SandboxEndpoints):
    """Creates and removes networks, sandboxes, endpoints and published ports (see module;
    sandboxes and endpoints in :mod:`engine.network.endpoints`)."""

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
