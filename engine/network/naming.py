"""Names and numbers of a network's host objects: bridge and veth names, endpoint ids, MAC
addresses and MTUs, from Docker's options or derived from the ids.

Derived names carry the engine's prefixes (so that only its own objects are ever removed)
and fit the kernel's 15-character interface names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from engine.network.errors import InvalidNetworkConfig
from engine.network.records import IPInterface

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"
IFNAME_MAX = 15
KNOWN_OPTIONS = frozenset({BRIDGE_NAME_OPTION, MTU_OPTION, MASQUERADE_OPTION})


def check_options(name: str, options: Mapping[str, str]) -> None:
    """Refuse driver options the bridge driver here does not implement (never ignored)."""
    unknown = sorted(set(options) - KNOWN_OPTIONS)
    if unknown:
        raise InvalidNetworkConfig(
            f"network {name!r}: driver option {unknown[0]!r} is not supported by this engine; "
            f"it implements {', '.join(sorted(KNOWN_OPTIONS))}"
        )


MAC_PATTERN = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def _short_hash(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def mac_for(addresses: Sequence[IPInterface]) -> str | None:
    """Docker's MAC for an endpoint: 02:42 followed by the four bytes of its IPv4 address."""
    ipv4 = next((a.ip for a in addresses if a.version == 4), None)
    if ipv4 is None:
        return None
    return "02:42:" + ":".join(f"{byte:02x}" for byte in ipv4.packed)


def bridge_name(name: str, network_id: str, options: Mapping[str, str], prefix: str) -> str:
    """The bridge of network ``name``: its ``com.docker.network.bridge.name`` option, checked,
    or the prefix and the start of its id."""
    bridge = options.get(BRIDGE_NAME_OPTION) or (prefix + network_id[: IFNAME_MAX - len(prefix)])
    if len(bridge) > IFNAME_MAX or not bridge.isprintable() or "/" in bridge or " " in bridge:
        raise InvalidNetworkConfig(
            f"network {name!r}: bridge name {bridge!r} is not a valid interface name "
            f"(at most {IFNAME_MAX} characters, no spaces or slashes)"
        )
    return bridge


def veth_name(prefix: str, sandbox_id: str, network_id: str) -> str:
    """The host side of the veth joining a sandbox to a network (stable across restarts)."""
    return prefix + _short_hash(sandbox_id, network_id, length=IFNAME_MAX - len(prefix))


def endpoint_id(sandbox_id: str, network_id: str) -> str:
    return _short_hash(sandbox_id, network_id, "endpoint", length=64)


def parse_mtu(name: str, text: str | None) -> int | None:
    """The MTU option of a network (None: the kernel's default)."""
    if text is None or text == "":
        return None
    if not text.isdigit() or not 68 <= int(text) <= 65535:
        raise InvalidNetworkConfig(
            f"network {name!r}: {MTU_OPTION}={text!r} is not an MTU between 68 and 65535"
        )
    return int(text)
