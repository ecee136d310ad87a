"""Networks: ``/networks/...`` over the daemon's networking (engine.network).

Without bridge networking (``--no-network``) only the predefined ``bridge``, ``host`` and
``none`` are listed, and changing networks is refused as unsupported.
"""

from __future__ import annotations

import hashlib
from typing import Any

from engine.api import models as api
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.backend_api import Filters
from engine.daemon.filters import network_matches
from engine.daemon.networking import DEFAULT_NETWORK, Networking
from engine.errors import Conflict, NotFound, Unsupported


class Networks:
    """The engine's networks, in Docker's shapes."""

    def __init__(
        self, networking: Networking | None, index: ContainerIndex, events: EventSink
    ) -> None:
        self.networking = networking
        self.index = index
        self.events = events

    def _predefined(self) -> list[api.Network]:
        return [
            api.Network(Name=name, Id=_network_id(name), Driver=driver)
            for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null"))
        ]

    def _required(self) -> Networking:
        if self.networking is None:
            raise Unsupported("this engine runs without bridge networking (--no-network)")
        return self.networking

    async def matching(self, filters: Filters) -> list[api.Network]:
        networks = self.networking.all() if self.networking else self._predefined()
        return [n for n in networks if network_matches(n, filters)]

    async def inspect(self, ref: str) -> api.Network:
        if self.networking is not None:
            return self.networking.inspect(ref)
        for network in self._predefined():
            if ref in (network.Name, network.Id) or (len(ref) >= 12 and network.Id.startswith(ref)):
                return network
        raise NotFound(f"network {ref} not found")

    async def create(self, body: api.NetworkCreate) -> api.NetworkCreateResponse:
        network = await self._required().create(body)
        self.events.emit("network", "create", network.id, {"name": network.name, "type": "bridge"})
        return api.NetworkCreateResponse(Id=network.id)

    async def remove(self, ref: str) -> None:
        network = await self._required().remove(ref)
        attributes = {"name": network.name, "type": "bridge"}
        self.events.emit("network", "destroy", network.id, attributes)

    async def connect(self, ref: str, body: api.NetworkConnect) -> None:
        networking = self._required()
        network = networking.network(ref)
        record = self.index.find(body.Container)
        if networking.sandbox(record.id) is None:
            raise Conflict(
                f"container {record.name} has no network sandbox of its own "
                "(network mode host, none or container:)"
            )
        await networking.connect(record.id, network, body.EndpointConfig, record.name)
        if network.name != DEFAULT_NETWORK:
            create_body = api.ContainerCreate.model_validate(record.body)
            resolv_conf = await networking.join_resolver(record.id, create_body)
            if resolv_conf is not None:
                self.index.runtime.rewrite_etc_file(record.id, "/etc/resolv.conf", resolv_conf)
        self.events.emit(
            "network",
            "connect",
            network.id,
            {"container": record.id, "name": network.name, "type": "bridge"},
        )

    async def disconnect(self, ref: str, body: api.NetworkDisconnect) -> None:
        networking = self._required()
        network = networking.network(ref)
        record = self.index.find(body.Container)
        await networking.disconnect(record.id, network)
        self.events.emit(
            "network",
            "disconnect",
            network.id,
            {"container": record.id, "name": network.name, "type": "bridge"},
        )

    async def prune(self, filters: Filters) -> dict[str, Any]:
        networking = self._required()
        removed = []
        for network in list(networking.engine.networks.values()):
            if network.name == "bridge" or network.endpoints:
                continue
            if not api.labels_match(network.labels, filters.get("label", ())):
                continue
            await self.remove(network.id)
            removed.append(network.name)
        return {"NetworksDeleted": removed or None}


def _network_id(name: str) -> str:
    return hashlib.sha256(f"pycompose-network-{name}".encode()).hexdigest()
