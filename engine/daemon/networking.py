"""The daemon's side of container networking: API shapes <-> engine.network's NetworkEngine.

What it does for the backend:

* keeps the NetworkEngine's state across engine restarts (``network-state.json`` under the
  data root, rewritten atomically after every change, handed to ``restore_state`` on start);
* makes the predefined ``bridge`` network (Docker's default) and shows ``host`` and ``none``;
* turns a ContainerCreate's ``HostConfig.NetworkMode`` / ``NetworkingConfig`` /
  ``PortBindings`` / DNS settings into a sandbox, endpoints, published ports and the
  ``/etc`` files the runtime mounts (:meth:`Networking.attach`);
* renders networks and endpoints in Docker's JSON (``Network``, ``EndpointSettings``).

Docker attaches networks at start; this engine attaches them at create (the sandbox is a
bind-mounted namespace file that lives as long as the container): the addresses are known
from create on and survive restarts of the container.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from engine.api import models as api
from engine.api.ports import PortSpecError, parse_host_port, parse_port_key
from engine.errors import Conflict, InvalidParameter, NotFound
from engine.network import NetworkEngine, PortRequest, SubnetRequest
from engine.network.records import (
    STATE_VERSION,
    Network,
    Sandbox,
    network_to_dict,
    sandbox_to_dict,
)
from engine.network.takeover import take_over

MAX_LINKS = 256
LINK_ALIAS = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}")


def link_hosts(
    sandbox: Sandbox,
    links: Sequence[str],
    container_id_of: Any,
    sandboxes: Mapping[str, Sandbox],
) -> list[str]:
    """Docker's legacy links as /etc/hosts entries (``alias:address``).

    A link ``name:alias`` makes ``alias`` (and ``name``) resolve, in this container only, to
    the linked container's address on a network both are on (dockerd answers the same
    names from its embedded DNS on user-defined networks, from /etc/hosts on the default
    bridge). The linked container must exist and share a network.
    """
    if len(links) > MAX_LINKS:
        raise InvalidParameter(f"too many links ({len(links)}): at most {MAX_LINKS}")
    entries: list[str] = []
    for link in links:
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        alias = alias.rsplit("/", 1)[-1] or target
        if not LINK_ALIAS.fullmatch(target) or not LINK_ALIAS.fullmatch(alias):
            raise InvalidParameter(f"invalid link {link!r}: use name:alias")
        if container_id_of is None:
            raise InvalidParameter(f"links are not available here ({link!r})")
        try:
            target_id = container_id_of(target)
        except NotFound:
            raise InvalidParameter(
                f"could not get container for {target}",
                hint="create the linked container first (docker compose does, for links)",
            ) from None
        other = sandboxes.get(target_id)
        shared = [
            endpoint
            for network_id, endpoint in (other.endpoints.items() if other else ())
            if network_id in sandbox.endpoints and endpoint.ipv4 is not None
        ]
        if not shared:
            raise InvalidParameter(
                f"cannot link to {target}: it is on no network of this container",
                hint="connect both containers to one network",
            )
        address = str(shared[0].ipv4)
        entries += [f"{name}:{address}" for name in dict.fromkeys((alias, target))]
    return entries


PREDEFINED_VIRTUAL = {"host": "host", "none": "null"}
NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")  # dockerd's rule, to the true end
DEFAULT_NETWORK = "bridge"
# The predefined bridge is a /16 like Docker's, but from the top of the engine's own pool
# (10.208.0.0/12), never Docker's 172.17.0.0/16: the engine uses only addresses it owns.
DEFAULT_BRIDGE_SUBNET = "10.223.0.0/16"


def virtual_network_id(name: str) -> str:
    return hashlib.sha256(f"pycompose-network-{name}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Attachment:
    """What the runtime needs from a container's networking."""

    namespace_paths: dict[str, str]
    etc_files: dict[str, str]


def parse_port_bindings(
    bindings: Mapping[str, Sequence[api.PortBinding] | None] | None,
) -> list[PortRequest]:
    """``{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}`` -> port requests."""
    requests = []
    for key, entries in (bindings or {}).items():
        try:
            container_port, protocol = parse_port_key(key)
        except PortSpecError:
            raise InvalidParameter(f"invalid port {key!r} in PortBindings") from None
        for entry in entries or [api.PortBinding()]:
            try:
                host_port, host_port_end = parse_host_port(entry.HostPort)
            except PortSpecError:
                raise InvalidParameter(f"invalid host port {entry.HostPort!r} for {key}") from None
            requests.append(
                PortRequest(
                    container_port=container_port,
                    protocol=protocol,
                    host_ip=entry.HostIp or None,
                    host_port=host_port,
                    host_port_end=host_port_end,
                )
            )
    return requests


class Networking:
    """Networks and sandboxes of the engine's containers (see the module doc)."""

    def __init__(self, engine: NetworkEngine, state_path: Path) -> None:
        self.engine = engine
        self.state_path = state_path
        self._summary_cache: dict[str, tuple[Any, list[dict[str, Any]], dict[str, Any]]] = {}
        self._save_lock = anyio.Lock()
        self._changes = 0  # state changes asked to be saved so far
        # each sandbox's record as JSON text, until a save names it as changed: a write
        # renders only what changed (rendering every sandbox on each of N creates was N²)
        self._rendered: dict[str, str] = {}
        self._saved = 0  # of these, how many the file on disk holds

    # --- persistence ----------------------------------------------------------------

    async def restore(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            state = json.loads(self.state_path.read_text())
            await self.engine.restore_state(state)
        await self.engine.remove_orphans()
        if not any(n.name == DEFAULT_NETWORK for n in self.engine.networks.values()):
            await self.create_default()
        await self.save()

    async def create_default(self) -> None:
        """The predefined ``bridge``: a /16 (room for thousands of containers) from the
        engine's pool, else whatever the pool gives when that subnet is taken on this host."""
        for subnet in (DEFAULT_BRIDGE_SUBNET, None):
            try:
                await self.engine.create_network(
                    DEFAULT_NETWORK, ipam=[SubnetRequest(subnet=subnet)] if subnet else []
                )
                return
            except (InvalidParameter, Conflict):
                if subnet is None:
                    raise

    async def save(self, *changed: str) -> None:
        """Write the NetworkEngine's state atomically (rename over the old file), in a
        worker thread (it fsyncs), one writer at a time; returns once the file holds the
        state as it was at the call.

        Concurrent saves share writes: the state is rendered when the writer's turn comes,
        so a write covers every change made before it began, and the callers whose changes
        it covered return without writing again (50 containers created at once take two or
        three writes of the whole state, not 50 serialised ones).

        ``changed``: the sandboxes the caller changed (every change to a sandbox is followed
        by a save naming it); the others are written as last rendered.
        """
        for sandbox_id in changed:
            self._rendered.pop(sandbox_id, None)
        self._changes += 1
        wanted = self._changes
        async with self._save_lock:
            if self._saved >= wanted:
                return
            covered = self._changes
            text = self._render()
            await anyio.to_thread.run_sync(self._write_state, text)
            self._saved = covered

    def _render(self) -> str:
        """``engine.export_state()`` as JSON, the unchanged sandboxes' text reused."""
        sandboxes = self.engine.sandboxes
        for sandbox_id in [i for i in self._rendered if i not in sandboxes]:
            del self._rendered[sandbox_id]
        texts = []
        for sandbox_id, sandbox in sandboxes.items():
            text = self._rendered.get(sandbox_id)
            if text is None:
                text = self._rendered[sandbox_id] = json.dumps(sandbox_to_dict(sandbox))
            texts.append(text)
        networks = json.dumps([network_to_dict(n) for n in self.engine.networks.values()])
        sandbox_list = ", ".join(texts)
        return (
            f'{{"version": {STATE_VERSION}, "networks": {networks}, "sandboxes": [{sandbox_list}]}}'
        )

    def _write_state(self, text: str) -> None:
        temporary = self.state_path.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)

    # --- networks -------------------------------------------------------------------

    def network(self, ref: str) -> Network:
        return self.engine.network(ref)

    def render(self, network: Network) -> api.Network:
        containers = {}
        for sandbox_id, endpoint in network.endpoints.items():
            sandbox = self.engine.sandboxes.get(sandbox_id)
            containers[sandbox_id] = api.NetworkContainer(
                Name=sandbox.name if sandbox else "",
                EndpointID=endpoint.id,
                MacAddress=endpoint.mac_address,
                IPv4Address=next((str(a) for a in endpoint.addresses if a.version == 4), ""),
                IPv6Address=next((str(a) for a in endpoint.addresses if a.version == 6), ""),
            )
        return api.Network(
            Name=network.name,
            Id=network.id,
            Created=network.created or api.ZERO_TIME,
            Driver="bridge",
            EnableIPv6=network.enable_ipv6,
            IPAM=api.IPAM(
                Driver="default",
                Options={},
                Config=[
                    api.IPAMPool(
                        Subnet=str(p.subnet),
                        Gateway=str(p.gateway),
                        AuxiliaryAddresses={n: str(a) for n, a in p.aux_addresses} or None,
                    )
                    for p in network.subnets
                ],
            ),
            Internal=network.internal,
            Attachable=False,
            Containers=containers,
            Options=dict(network.options),
            Labels=dict(network.labels),
        )

    def virtual(self) -> list[api.Network]:
        return [
            api.Network(Name=name, Id=virtual_network_id(name), Driver=driver)
            for name, driver in PREDEFINED_VIRTUAL.items()
        ]

    def all(self) -> list[api.Network]:
        return [self.render(n) for n in self.engine.networks.values()] + self.virtual()

    def inspect(self, ref: str) -> api.Network:
        for network in self.virtual():
            if ref in (network.Name, network.Id):
                return network
        return self.render(self.network(ref))

    async def create(self, body: api.NetworkCreate) -> Network:
        if body.Driver not in ("", "bridge"):
            raise InvalidParameter(f"network driver {body.Driver!r} is not supported; use bridge")
        if body.Name in PREDEFINED_VIRTUAL:
            raise InvalidParameter(f"{body.Name} is a pre-defined network and cannot be created")
        if not NETWORK_NAME.fullmatch(body.Name):
            raise InvalidParameter(
                f"{body.Name!r} includes invalid characters for a network name",
                hint="only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            )
        ipam = [
            SubnetRequest(
                subnet=pool.Subnet or None,
                ip_range=pool.IPRange or None,
                gateway=pool.Gateway or None,
                aux_addresses=tuple(sorted((pool.AuxiliaryAddresses or {}).items())),
            )
            for pool in ((body.IPAM.Config if body.IPAM else None) or [])
        ]
        network = await self.engine.create_network(
            body.Name,
            internal=body.Internal,
            enable_ipv6=bool(body.EnableIPv6),
            ipam=ipam,
            options=body.Options or {},
            labels=body.Labels or {},
        )
        await self.save()
        return network

    async def remove(self, ref: str) -> Network:
        for virtual in self.virtual():
            if ref in (virtual.Name, virtual.Id):
                raise InvalidParameter(
                    f"{virtual.Name} is a pre-defined network and cannot be removed"
                )
        network = self.network(ref)
        if network.name == DEFAULT_NETWORK:
            raise InvalidParameter("bridge is a pre-defined network and cannot be removed")
        await self.engine.remove_network(network.id)
        await self.save()
        return network

    # --- containers -----------------------------------------------------------------

    async def attach(
        self,
        container_id: str,
        name: str,
        body: api.ContainerCreate,
        container_pid: Any,
        container_id_of: Any = None,
    ) -> Attachment:
        """Sandbox, endpoints, ports and /etc files of a new container.

        ``container_pid(ref)`` gives the init pid of another container (``container:<ref>``);
        ``container_id_of(ref)`` the id of a container named by a link (``HostConfig.Links``).
        Resource handling: on error nothing is left (the sandbox is removed).
        """
        host_config = body.host_config
        mode = host_config.network_mode or "default"
        if mode in ("host", "none"):
            return Attachment({}, {})
        if mode.startswith("container:"):
            pid = container_pid(mode.partition(":")[2])
            return Attachment({"network": f"/proc/{pid}/ns/net"}, {})
        primary = DEFAULT_NETWORK if mode in ("default", "bridge") else mode
        networking = body.networking_config
        endpoints = (networking.EndpointsConfig if networking else None) or {}
        names = [primary] + [n for n in endpoints if n not in (primary, mode)]
        networks = [self.network(n) for n in names]  # NotFound before anything is made
        sandbox = await self.engine.create_sandbox(
            container_id,
            name=name,
            hostname=body.hostname or container_id[:12],
            dns=host_config.dns or (),
            embedded_dns=primary != DEFAULT_NETWORK,
        )
        try:
            for key, network in zip(names, networks, strict=True):
                settings = endpoints.get(key) or (endpoints.get(mode) if key == primary else None)
                await self.connect(sandbox.id, network, settings, name, save=False)
            # ports are bound at start (as Docker does): a replacement container can be
            # created while the one it replaces still holds them; checked here all the same
            parse_port_bindings(host_config.port_bindings)
            requested = [
                *(host_config.links or ()),
                *(link for s in endpoints.values() if s for link in s.Links or ()),
            ]
            links = link_hosts(
                sandbox, list(dict.fromkeys(requested)), container_id_of, self.engine.sandboxes
            )
            etc = self.engine.etc_files(
                sandbox.id,
                extra_hosts=[*(host_config.extra_hosts or ()), *links],
                dns=host_config.dns or (),
                dns_search=host_config.dns_search or (),
                dns_opt=host_config.dns_options or (),
                domainname=body.domainname,
            )
        except BaseException:
            await self.detach(container_id)
            raise
        await self.save(container_id)
        return Attachment({"network": sandbox.netns}, etc)

    async def publish(self, container_id: str, host_config: Mapping[str, Any]) -> None:
        """Bind a container's published ports (when it starts); a no-op when bound already.

        Error handling: a host port another container holds is a Conflict, and nothing is
        bound.
        """
        sandbox = self.engine.sandboxes.get(container_id)
        if sandbox is None or sandbox.ports:
            return
        config = api.HostConfig.model_validate(host_config or {})
        requests = parse_port_bindings(config.port_bindings)
        if not requests:
            return
        await self.engine.publish_ports(sandbox.id, requests)
        self.forget(container_id)
        await self.save(container_id)

    async def take_over(self, from_id: str, to_id: str) -> bool:
        """``to_id`` takes over ``from_id``'s published ports and service names (one nftables
        transaction, see engine.network.takeover); False when ``from_id`` had no ports to
        give (the caller publishes ``to_id``'s own)."""
        old = self.engine.sandboxes.get(from_id)
        if old is None or to_id not in self.engine.sandboxes:
            return False
        moved = await take_over(self.engine, from_id, to_id)
        self.forget(from_id)
        self.forget(to_id)
        await self.save(from_id, to_id)
        return bool(moved)

    async def unpublish(self, container_id: str) -> None:
        """Release a container's host ports (when it stops)."""
        sandbox = self.engine.sandboxes.get(container_id)
        if sandbox is None or not sandbox.ports:
            return
        await self.engine.unpublish_ports(sandbox.id)
        self.forget(container_id)
        await self.save(container_id)

    async def connect(
        self,
        sandbox_id: str,
        network: Network,
        settings: api.EndpointSettings | None,
        container_name: str,
        *,
        save: bool = True,
    ) -> None:
        """``save=False``: the caller saves once after its other changes (``attach``)."""
        aliases: Sequence[str] = (settings.Aliases or []) if settings else []
        ipam = (settings.IPAMConfig or {}) if settings else {}
        await self.engine.connect(
            sandbox_id,
            network.id,
            aliases=list(aliases),
            ipv4_address=ipam.get("IPv4Address") or None,
            ipv6_address=ipam.get("IPv6Address") or None,
            mac_address=(settings.MacAddress or None) if settings else None,
        )
        if save:
            await self.save(sandbox_id)

    async def join_resolver(self, container_id: str, body: api.ContainerCreate) -> str | None:
        """After a connect to a user network: the embedded resolver for a container that had
        none (it was on the default bridge) and its new /etc/resolv.conf; None when it had
        one already."""
        if not await self.engine.start_embedded_dns(container_id):
            return None
        await self.save(container_id)
        host_config = body.host_config or api.HostConfig()
        files = self.engine.etc_files(
            container_id,
            dns=host_config.dns or (),
            dns_search=host_config.dns_search or (),
            dns_opt=host_config.dns_options or (),
        )
        return files["/etc/resolv.conf"]

    async def disconnect(self, sandbox_id: str, network: Network) -> None:
        await self.engine.disconnect(sandbox_id, network.id)
        await self.save(sandbox_id)

    async def detach(self, container_id: str) -> None:
        """Remove the container's sandbox (endpoints, ports, resolver, namespace), if any."""
        self.forget(container_id)
        with contextlib.suppress(NotFound):
            await self.engine.remove_sandbox(container_id)
            await self.save(container_id)

    def sandbox(self, container_id: str) -> Sandbox | None:
        return self.engine.sandboxes.get(container_id)

    def endpoints(self, container_id: str) -> dict[str, api.EndpointSettings]:
        """``NetworkSettings.Networks`` of a container, by network name."""
        sandbox = self.engine.sandboxes.get(container_id)
        if sandbox is None:
            return {}
        result = {}
        for network_id, endpoint in sandbox.endpoints.items():
            network = self.engine.networks.get(network_id)
            if network is None:
                continue
            ipv4 = next((a for a in endpoint.addresses if a.version == 4), None)
            ipv6 = next((a for a in endpoint.addresses if a.version == 6), None)
            gateway4 = next((str(g) for g in endpoint.gateways if g.version == 4), "")
            gateway6 = next((str(g) for g in endpoint.gateways if g.version == 6), "")
            result[network.name] = api.EndpointSettings(
                Aliases=list(endpoint.aliases) or None,
                NetworkID=network.id,
                EndpointID=endpoint.id,
                Gateway=gateway4,
                IPAddress=str(ipv4.ip) if ipv4 else "",
                IPPrefixLen=ipv4.network.prefixlen if ipv4 else 0,
                IPv6Gateway=gateway6,
                GlobalIPv6Address=str(ipv6.ip) if ipv6 else "",
                GlobalIPv6PrefixLen=ipv6.network.prefixlen if ipv6 else 0,
                MacAddress=endpoint.mac_address,
            )
        return result

    def summary_wire(self, container_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``Ports`` and ``NetworkSettings.Networks`` of a list summary, in wire form; cached
        until the container's endpoints or ports change (the list is compose's hot path)."""
        sandbox = self.engine.sandboxes.get(container_id)
        if sandbox is None:
            return [], {}
        signature = (
            tuple(e.id for e in sandbox.endpoints.values()),
            tuple(binding for binding, _ in sandbox.ports),
        )
        cached = self._summary_cache.get(container_id)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        published, _ = self.ports(container_id)
        ports = [port.wire() for port in published]
        networks = {name: ep.wire() for name, ep in self.endpoints(container_id).items()}
        self._summary_cache[container_id] = (signature, ports, networks)
        return ports, networks

    def forget(self, container_id: str) -> None:
        self._summary_cache.pop(container_id, None)

    def ports(
        self, container_id: str
    ) -> tuple[list[api.Port], dict[str, list[api.PortBinding] | None]]:
        """Published ports: the summary's ``Ports`` and inspect's ``NetworkSettings.Ports``."""
        sandbox = self.engine.sandboxes.get(container_id)
        if sandbox is None:
            return [], {}
        summary = []
        by_port: dict[str, list[api.PortBinding] | None] = {}
        for binding, _addresses in sandbox.ports:
            host_ip = str(binding.host_ip) if binding.host_ip else "0.0.0.0"
            summary.append(
                api.Port(
                    IP=host_ip,
                    PrivatePort=binding.container_port,
                    PublicPort=binding.host_port,
                    Type=binding.protocol,
                )
            )
            key = f"{binding.container_port}/{binding.protocol}"
            by_port.setdefault(key, [])
            entries = by_port[key]
            assert entries is not None
            entries.append(api.PortBinding(HostIp=host_ip, HostPort=str(binding.host_port)))
        return summary, by_port
