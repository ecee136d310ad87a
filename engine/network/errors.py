"""Errors raised by engine.network, each a kind of :mod:`engine.errors` error.

InvalidParameter
├── InvalidNetworkConfig   a subnet, range, gateway, port or option is malformed
Conflict
├── AddressPoolExhausted   no free subnet is left in the engine's pool
├── AddressInUse           a requested address / subnet / host port is taken
└── BridgeFull             a bridge already has the kernel's maximum of ports
EngineInternal
└── NetworkSetupFailed     the kernel (netlink) or nft refused something
"""

from __future__ import annotations

from engine.errors import Conflict, EngineInternal, InvalidParameter


class InvalidNetworkConfig(InvalidParameter):
    """A network, endpoint or port setting is malformed."""


class AddressPoolExhausted(Conflict):
    """Every subnet of the engine's pool is in use or overlaps a host route."""


class AddressInUse(Conflict):
    """A requested address, subnet or host port is already taken."""


class BridgeFull(Conflict):
    """A Linux bridge cannot take more ports."""


class NetworkSetupFailed(EngineInternal):
    """The kernel refused a change (netlink error or nft failure)."""
