"""Settings of a network engine: where it keeps its namespaces, how it names and numbers
host objects, and which namespace it treats as the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.network import nftables
from engine.network.ipam import DEFAULT_IPV4_POOLS, DEFAULT_IPV6_POOLS, AddressPool


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """Where the engine keeps its namespaces and how it names and numbers things."""

    run_dir: Path = Path("/run/pycompose/network")
    ipv4_pools: tuple[AddressPool, ...] = DEFAULT_IPV4_POOLS
    ipv6_pools: tuple[AddressPool, ...] = DEFAULT_IPV6_POOLS
    bridge_prefix: str = "pcbr-"
    veth_prefix: str = "pcv"
    # names of the engine's nftables tables; another engine on the same host needs others
    nft_tables: nftables.Tables = nftables.DEFAULT_TABLES
    # The namespace the engine treats as "the host" (None: its own). Tests point it at a
    # namespace they created, so nothing touches the real host's links or rules.
    host_netns: str | None = None
    resolv_conf: Path = Path("/etc/resolv.conf")


def settings_for_instance(instance: str, **fields: object) -> NetworkSettings:
    """Settings whose host objects (bridges, veths, nftables tables) carry ``instance`` in
    their names, so that several engines (one per data root) can share a host; the empty
    instance is the default engine's plain names."""
    if not instance:
        return NetworkSettings(**fields)  # type: ignore[arg-type]
    # five hex digits: two engines whose tags met would take each other's bridges for
    # orphans (remove_orphans goes by prefix); three made that 1 in 4096 per pair of engines
    tag = instance[:5]
    return NetworkSettings(
        bridge_prefix=f"pc{tag}-",
        veth_prefix=f"pv{tag}",
        nft_tables=nftables.Tables.for_instance(instance),
        **fields,  # type: ignore[arg-type]
    )
