"""The host side of networks: bridges (made, let through the host's firewall, deleted),
the engine's nftables tables (forwarding, masquerade, DNAT of published ports) and the
IPv6 relays of TCP ports.

nftables cannot DNAT from the IPv6 loopback, nor from IPv6 to a container's IPv4 address, so
a TCP port published on all addresses gets a user-space relay on ``[::]:port`` (one
published on ::1, on ``[::1]:port``): it serves what the ip6 DNAT rules leave.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

import anyio
import anyio.abc
from anyio import to_thread

from engine.network import coexist, netlink, nftables, proxy
from engine.network.records import Network, Sandbox
from engine.network.settings import NetworkSettings

logger = logging.getLogger(__name__)

LOOPBACK6 = ipaddress.IPv6Address("::1")
ANY6 = "::"


class HostRules:
    """The nftables ruleset and [::1] relays of one network engine."""

    def __init__(self, settings: NetworkSettings, task_group: anyio.abc.TaskGroup) -> None:
        self.settings = settings
        self._task_group = task_group
        self._proxies: dict[tuple[str, int, str, int], anyio.CancelScope] = {}

    async def create_bridge(self, network: Network) -> None:
        """The network's bridge, with its gateway addresses."""
        gateways = [
            ipaddress.ip_interface(f"{plan.gateway}/{plan.subnet.prefixlen}")
            for plan in network.subnets
        ]
        spec = netlink.BridgeSpec(network.bridge, gateways, network.mtu)
        await to_thread.run_sync(netlink.create_bridge, spec, self.settings.host_netns)

    async def allow_bridge(self, network: Network) -> None:
        """Forwarding on for the bridge, and an exception for it in the host's iptables."""
        host = self.settings.host_netns
        await to_thread.run_sync(self._enable_forwarding, network.bridge, network.enable_ipv6)
        network.iptables_chain = await coexist.allow_bridge(network.bridge, host)

    def _enable_forwarding(self, bridge: str, ipv6: bool) -> None:
        host = self.settings.host_netns
        netlink.write_sysctl("net/ipv4/ip_forward", "1", host)
        # DNAT'ed connections from 127.0.0.1 leave through the bridge with a loopback source
        netlink.write_sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1", host)
        if ipv6:
            netlink.write_sysctl("net/ipv6/conf/all/forwarding", "1", host)

    async def delete_bridge(self, network: Network) -> None:
        """The bridge and the host's iptables exception for it."""
        host = self.settings.host_netns
        await to_thread.run_sync(netlink.delete_link, network.bridge, host)
        if network.iptables_chain:
            await coexist.disallow_bridge(network.bridge, network.iptables_chain, host)

    async def remove_orphans(self, known_links: set[str], known_netns: set[str]) -> list[str]:
        """Delete the links with the engine's prefixes and the namespace files in its
        ``run_dir/netns`` that are not known; what was removed."""
        host = self.settings.host_netns
        removed: list[str] = []
        for name in await to_thread.run_sync(netlink.link_names, host):
            ours = name.startswith((self.settings.bridge_prefix, self.settings.veth_prefix))
            if ours and name not in known_links:
                await to_thread.run_sync(netlink.delete_link, name, host)
                removed.append(name)
        netns_dir = self.settings.run_dir / "netns"
        if netns_dir.is_dir():
            for path in sorted(netns_dir.iterdir()):
                if str(path) not in known_netns:
                    await to_thread.run_sync(netlink.remove_netns, str(path))
                    removed.append(str(path))
        return removed

    async def apply(self, networks: Iterable[Network], sandboxes: Iterable[Sandbox]) -> None:
        """Rewrite the nftables tables and the [::1] relays for these networks and sandboxes."""
        bridges = []
        for n in networks:
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
            for sandbox in sandboxes
            for binding, targets in sandbox.ports
            for target in targets
            if binding.host_ip is None or binding.host_ip.version == target.version
        ]
        await nftables.apply_ruleset(
            bridges, ports, self.settings.host_netns, self.settings.nft_tables
        )
        self._sync_loopback6_proxies(sandboxes)

    def _sync_loopback6_proxies(self, sandboxes: Iterable[Sandbox]) -> None:
        """Relay [::]:port for TCP ports published on all addresses, [::1]:port for those
        published on ::1 (see proxy)."""
        wanted: set[tuple[str, int, str, int]] = set()
        for sandbox in sandboxes:
            for binding, targets in sandbox.ports:
                if binding.protocol != "tcp" or binding.host_ip not in (None, LOOPBACK6):
                    continue
                address = ANY6 if binding.host_ip is None else str(LOOPBACK6)
                ipv4 = next((t for t in targets if t.version == 4), None)
                if ipv4 is not None:
                    wanted.add((address, binding.host_port, str(ipv4), binding.container_port))
        for key in set(self._proxies) - wanted:
            self._proxies.pop(key).cancel()
        for key in sorted(wanted - set(self._proxies)):
            address, host_port, target_ip, target_port = key
            listener = proxy.open_ipv6_listener(address, host_port, self.settings.host_netns)
            if listener is None:
                logger.info("no [%s]:%s relay (no IPv6, or port taken)", address, host_port)
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

    def host_port_free(self, protocol: str, port: int) -> bool:
        """Whether no socket on the host holds ``port`` (IPv6 and IPv4)."""
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
