"""``network_mode``: what a container's network namespace is, as data for the runtime.

``bridge`` (the default) and a network name give the container a sandbox of its own made by
the network engine; ``none`` also gets a sandbox of its own, with ``lo`` only and no
resolver; ``host`` shares the engine's namespace (no network namespace entry in
config.json); ``container:<id>`` joins another container's sandbox. Compose's ``service:<name>``
is resolved to ``container:<id>`` by the client before it reaches the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from engine.network.errors import InvalidNetworkConfig


class ModeKind(Enum):
    BRIDGE = "bridge"
    HOST = "host"
    NONE = "none"
    CONTAINER = "container"


@dataclass(frozen=True, slots=True)
class NetworkMode:
    kind: ModeKind
    # ModeKind.CONTAINER: the container whose namespace is joined; BRIDGE: a network name
    target: str | None = None

    @property
    def needs_own_sandbox(self) -> bool:
        """Whether the network engine creates a namespace for this container."""
        return self.kind in (ModeKind.BRIDGE, ModeKind.NONE)

    @property
    def embedded_dns(self) -> bool:
        return self.kind is ModeKind.BRIDGE


def parse_network_mode(text: str | None) -> NetworkMode:
    """``None``/``""``/``default``/``bridge``/``<network>``/``host``/``none``/``container:<id>``."""
    if text in (None, "", "default", "bridge"):
        return NetworkMode(ModeKind.BRIDGE)
    assert text is not None
    if text == "host":
        return NetworkMode(ModeKind.HOST)
    if text == "none":
        return NetworkMode(ModeKind.NONE)
    kind, found, target = text.partition(":")
    if found:
        if kind == "container" and target:
            return NetworkMode(ModeKind.CONTAINER, target)
        if kind == "service":
            raise InvalidNetworkConfig(
                f"network_mode {text!r} must be resolved to container:<id> before it reaches "
                "the engine (the compose client does this)"
            )
        raise InvalidNetworkConfig(
            f"network_mode {text!r} is not one of bridge, host, none, container:<name|id>"
        )
    return NetworkMode(ModeKind.BRIDGE, text)


@dataclass(frozen=True, slots=True)
class RuntimeNetwork:
    """What the runtime writes in config.json for the network namespace.

    ``netns_path`` None with ``share_host`` True: no network namespace entry (host mode);
    otherwise ``{"type": "network", "path": netns_path}``.
    """

    netns_path: str | None
    share_host: bool = False


def runtime_network(
    mode: NetworkMode,
    own_sandbox_netns: str | None,
    netns_of_container: Callable[[str], str],
) -> RuntimeNetwork:
    """The namespace a container runs in, given its mode and the sandboxes that exist.

    ``netns_of_container(id)`` returns another container's netns path (raising NotFound).
    """
    if mode.kind is ModeKind.HOST:
        return RuntimeNetwork(None, share_host=True)
    if mode.kind is ModeKind.CONTAINER:
        assert mode.target is not None
        return RuntimeNetwork(netns_of_container(mode.target))
    if own_sandbox_netns is None:
        raise InvalidNetworkConfig(
            f"network mode {mode.kind.value}: the container has no sandbox; create one first"
        )
    return RuntimeNetwork(own_sandbox_netns)
