"""Docker's ``filters=`` semantics, as pure predicates over API objects.

Within one filter key the values are ORed, except ``label`` whose entries are ANDed (all
must hold); different keys are ANDed. ``name`` on networks is a substring match (dockerd
does the same; compose re-checks the exact name).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.api.models import ContainerSummary, Event, Network, Volume, labels_match
from engine.errors import InvalidParameter

Filters = Mapping[str, list[str]]

CONTAINER_KEYS = frozenset(
    {"label", "name", "id", "status", "ancestor", "network", "volume", "exited", "health"}
)
EVENT_KEYS = frozenset(
    {"type", "event", "label", "container", "image", "network", "volume", "scope"}
)
NETWORK_KEYS = frozenset({"label", "name", "id", "driver", "scope", "type", "dangling"})
VOLUME_KEYS = frozenset({"label", "name", "driver", "dangling"})
IMAGE_KEYS = frozenset({"label", "reference", "dangling"})
IMAGE_PRUNE_KEYS = frozenset({"dangling"})


def check_keys(filters: Filters, allowed: frozenset[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}'")


def _id_match(value: str, object_id: str) -> bool:
    return object_id.startswith(value)


def container_matches(summary: ContainerSummary, filters: Filters) -> bool:
    """Whether a container summary passes ``filters`` (``docker ps --filter``)."""
    if not labels_match(summary.Labels, filters.get("label", ())):
        return False
    names = [name.lstrip("/") for name in summary.Names]
    if "name" in filters and not any(
        wanted.lstrip("/") in name for wanted in filters["name"] for name in names
    ):
        return False
    if "id" in filters and not any(_id_match(v, summary.Id) for v in filters["id"]):
        return False
    if "status" in filters and summary.State not in filters["status"]:
        return False
    if "ancestor" in filters and not any(
        v in (summary.Image, summary.ImageID) for v in filters["ancestor"]
    ):
        return False
    if "network" in filters:
        networks = summary.NetworkSettings.Networks
        ids = {endpoint.NetworkID for endpoint in networks.values()}
        if not any(v in networks or v in ids for v in filters["network"]):
            return False
    if "volume" in filters:
        mounts = {m.Name for m in summary.Mounts} | {m.Destination for m in summary.Mounts}
        if not any(v in mounts for v in filters["volume"]):
            return False
    return True


def event_matches(event: Event, filters: Filters) -> bool:
    """Whether an event passes ``filters`` (``docker events --filter``)."""
    attributes = event.Actor.Attributes
    if "type" in filters and event.Type not in filters["type"]:
        return False
    if "event" in filters and not any(
        event.Action == v or event.Action.split(":", 1)[0] == v for v in filters["event"]
    ):
        return False
    if not labels_match(attributes, filters.get("label", ())):
        return False
    for kind in ("container", "network", "volume"):
        if kind in filters:
            if event.Type != kind:
                return False
            name = attributes.get("name", "")
            if not any(v == name or _id_match(v, event.Actor.ID) for v in filters[kind]):
                return False
    if "image" in filters:
        image = attributes.get("image", "") if event.Type == "container" else event.Actor.ID
        if image not in filters["image"]:
            return False
    return True


def network_matches(network: Network, filters: Filters) -> bool:
    if not labels_match(network.Labels, filters.get("label", ())):
        return False
    if "name" in filters and not any(v in network.Name for v in filters["name"]):
        return False
    if "id" in filters and not any(_id_match(v, network.Id) for v in filters["id"]):
        return False
    if "driver" in filters and network.Driver not in filters["driver"]:
        return False
    if "type" in filters:
        builtin = network.Name in ("bridge", "host", "none")
        kind = "builtin" if builtin else "custom"
        if kind not in filters["type"]:
            return False
    return True


def volume_matches(volume: Volume, filters: Filters, in_use: bool = False) -> bool:
    if not labels_match(volume.Labels or {}, filters.get("label", ())):
        return False
    if "name" in filters and not any(v in volume.Name for v in filters["name"]):
        return False
    if "driver" in filters and volume.Driver not in filters["driver"]:
        return False
    if "dangling" in filters:
        wanted = filters["dangling"][-1].lower() in ("1", "true")
        if wanted == in_use:
            return False
    return True
