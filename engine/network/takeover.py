"""Port takeover: a container's published ports move to another container at once.

For zero-downtime updates (``deploy.update_config.order: start-first``): the new container
of a service runs beside the old one; once it is ready, its ports and its service names
are taken over from the old one. The whole ruleset is replaced in one ``nft -f``
transaction, so every new connection goes either to the old container or to the new one,
never nowhere; connections under way (conntrack) stay with the old one until it stops.
The old container keeps only its own name in DNS, so the service's names (aliases)
resolve to the new one alone before the old one is stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.network.errors import InvalidNetworkConfig
from engine.network.ports import PortBinding

if TYPE_CHECKING:
    from engine.network.manager import NetworkEngine


async def take_over(engine: NetworkEngine, from_id: str, to_id: str) -> list[PortBinding]:
    """Move ``from_id``'s published ports and service names to ``to_id``; the bindings.

    Error handling: InvalidNetworkConfig when the new one already publishes ports or has no
    address the ports can lead to; nothing moves then.
    """
    async with engine._lock:
        old = engine.sandbox(from_id)
        new = engine.sandbox(to_id)
        if new.ports:
            raise InvalidNetworkConfig(f"container {new.name or new.id} already publishes ports")
        targets = engine.port_targets(new)
        if targets is None:
            raise InvalidNetworkConfig(
                f"container {new.name or new.id} cannot take over ports: it is not connected "
                "to a non-internal IPv4 network"
            )
        moved = [(binding, targets) for binding, _ in old.ports]
        before_old, before_new = list(old.ports), list(new.ports)
        new.ports.extend(moved)
        old.ports.clear()
        try:
            await engine._apply_rules()
        except BaseException:
            old.ports[:] = before_old
            new.ports[:] = before_new
            raise
        engine._held_ports.move(from_id, to_id)
        for old_endpoint in old.endpoints.values():
            network = engine.networks.get(old_endpoint.network_id)
            engine.records.add_endpoint(
                old_endpoint.network_id,
                old_endpoint.id,
                [old.name],
                [a.ip for a in old_endpoint.addresses],
                network_name=network.name if network is not None else "",
            )
        return [binding for binding, _ in moved]
