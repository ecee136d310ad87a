"""IP address management: which subnet a network gets and which address an endpoint gets.

Pure functions over values: the caller passes what is in use (the engine's own networks and
the host's routes, read elsewhere) and gets a decision back. Nothing here reads the system.

Rules:
1. A subnet handed out from the pool never overlaps a subnet of another engine network nor a
   route that exists on the host (VPN routes included); the default route is ignored.
2. The default pool is 10.208.0.0/12 cut into /22s: 1024 networks (more than Docker's
   default pools hold) of 1021 endpoints each, so that `--scale` to 1000 fits on a project's
   default network as it does on dockerd (whose pool subnets are /16s); away from Docker's
   defaults (172.17.0.0/16-172.31.0.0/16 and 192.168.0.0/16 in /20s) and from the
   100.64.0.0/10 carrier-grade NAT range that VPNs such as Tailscale use.
3. In a subnet the network address, the broadcast address (IPv4) and the gateway are never
   given to an endpoint; the gateway is the first host address unless the user gives one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.network.errors import AddressInUse, AddressPoolExhausted, InvalidNetworkConfig

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class AddressPool:
    """A block the engine cuts ``prefix_length`` subnets from (Docker: default-address-pools)."""

    base: IPNetwork
    prefix_length: int

    @classmethod
    def parse(cls, text: str) -> AddressPool:
        """``"10.208.0.0/12"`` (/24s for IPv4, /64s for IPv6) or ``"10.208.0.0/12,size=26"``."""
        base_text, _, size_text = text.partition(",")
        try:
            base = ipaddress.ip_network(base_text.strip(), strict=True)
        except ValueError as exc:
            raise InvalidNetworkConfig(
                f"address pool {text!r} is not a network in CIDR form ({exc}); "
                "write it as e.g. 10.208.0.0/12 or 10.208.0.0/12,size=24"
            ) from exc
        size = 24 if base.version == 4 else 64
        if size_text:
            key, _, value = size_text.strip().partition("=")
            if key != "size" or not value.isdigit():
                raise InvalidNetworkConfig(
                    f"address pool {text!r}: expected ',size=N' after the network"
                )
            size = int(value)
        if not base.prefixlen <= size <= base.max_prefixlen - 2:
            raise InvalidNetworkConfig(
                f"address pool {text!r}: size /{size} must lie between /{base.prefixlen} "
                f"and /{base.max_prefixlen - 2}"
            )
        return cls(base=base, prefix_length=size)

    def __str__(self) -> str:
        return f"{self.base},size={self.prefix_length}"


DEFAULT_IPV4_POOLS: tuple[AddressPool, ...] = (AddressPool.parse("10.208.0.0/12,size=22"),)
DEFAULT_IPV6_POOLS: tuple[AddressPool, ...] = (AddressPool.parse("fd5c:a7c0:fe00::/48"),)


@dataclass(frozen=True, slots=True)
class SubnetRequest:
    """One entry of a network's ``ipam.config`` as the user wrote it (all optional)."""

    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: tuple[tuple[str, str], ...] = ()  # (name, address): never given out


MAX_AUX_ADDRESSES = 1024


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    """A decided subnet of a network: where endpoints' addresses come from."""

    subnet: IPNetwork
    gateway: IPAddress
    ip_range: IPNetwork
    aux_addresses: tuple[tuple[str, IPAddress], ...] = ()

    @property
    def version(self) -> int:
        return self.subnet.version


def _interval(network: IPNetwork) -> tuple[int, int]:
    return int(network.network_address), int(network.broadcast_address)


def _merged_intervals(networks: Iterable[IPNetwork], version: int) -> list[tuple[int, int]]:
    intervals = sorted(_interval(n) for n in networks if n.version == version)
    merged: list[tuple[int, int]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def allocate_subnet(
    pools: Sequence[AddressPool],
    in_use: Iterable[IPNetwork],
    host_routes: Iterable[IPNetwork],
) -> IPNetwork:
    """The first subnet of the pools that overlaps neither ``in_use`` nor a host route.

    Example: pools 10.208.0.0/12 in /24s, in use 10.208.0.0/24, a VPN route 10.208.1.0/23
    -> 10.208.3.0/24 (in /22s: 10.208.4.0/22).
    """
    in_use = list(in_use)
    routes = [r for r in host_routes if r.prefixlen > 0]
    for pool in pools:
        version = pool.base.version
        blocked = _merged_intervals([*in_use, *routes], version)
        step = 1 << (pool.base.max_prefixlen - pool.prefix_length)
        start, pool_end = _interval(pool.base)
        candidate = start
        index = 0
        while candidate + step - 1 <= pool_end:
            candidate_end = candidate + step - 1
            # skip blocked intervals that end before the candidate
            while index < len(blocked) and blocked[index][1] < candidate:
                index += 1
            if index < len(blocked) and blocked[index][0] <= candidate_end:
                # overlap: jump to the first aligned block after this interval
                after = blocked[index][1] + 1
                candidate = ((after - start + step - 1) // step) * step + start
                continue
            if version == 4:
                return ipaddress.IPv4Network((candidate, pool.prefix_length))
            return ipaddress.IPv6Network((candidate, pool.prefix_length))
    pools_text = ", ".join(str(p) for p in pools) or "(none configured)"
    raise AddressPoolExhausted(
        f"no free subnet is left in the address pool ({pools_text}): every candidate is used by "
        "another network or overlaps a route on this host; remove networks you no longer need "
        "(pycompose down, or docker network prune against the engine), give the network an "
        "explicit ipam subnet, or configure a larger pool (engine setting subnet_pools)"
    )


def _parse_network(text: str, what: str, network_name: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise InvalidNetworkConfig(
            f"network {network_name!r}: {what} {text!r} is not a valid CIDR network"
        ) from exc


def _parse_address(text: str, what: str, network_name: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise InvalidNetworkConfig(
            f"network {network_name!r}: {what} {text!r} is not a valid IP address"
        ) from exc


def plan_subnets(
    network_name: str,
    requests: Sequence[SubnetRequest],
    *,
    enable_ipv6: bool,
    in_use: Iterable[IPNetwork],
    host_routes: Iterable[IPNetwork],
    ipv4_pools: Sequence[AddressPool] = DEFAULT_IPV4_POOLS,
    ipv6_pools: Sequence[AddressPool] = DEFAULT_IPV6_POOLS,
) -> list[SubnetPlan]:
    """Decide the subnets of a new network from its ``ipam.config`` entries.

    Without an IPv4 entry, one IPv4 subnet comes from the pool; with ``enable_ipv6`` and no
    IPv6 entry, one IPv6 subnet comes from the IPv6 pool. A user subnet that overlaps another
    engine network is refused (as Docker does); overlapping a host route is allowed, since the
    user asked for it.
    """
    in_use = list(in_use)
    host_routes = list(host_routes)
    plans: list[SubnetPlan] = []
    for request in requests:
        if request.subnet is None:
            if request.ip_range or request.gateway or request.aux_addresses:
                raise InvalidNetworkConfig(
                    f"network {network_name!r}: ipam config gives ip_range/gateway without a "
                    "subnet; add the subnet they belong to"
                )
            continue
        subnet = _parse_network(request.subnet, "subnet", network_name)
        for other in in_use:
            if other.version == subnet.version and other.overlaps(subnet):
                raise AddressInUse(
                    f"network {network_name!r}: subnet {subnet} overlaps {other}, which another "
                    "network uses; choose a different subnet or remove the other network"
                )
        for plan in plans:
            if plan.subnet.version == subnet.version and plan.subnet.overlaps(subnet):
                raise InvalidNetworkConfig(
                    f"network {network_name!r}: subnets {plan.subnet} and {subnet} overlap"
                )
        ip_range = subnet
        if request.ip_range:
            ip_range = _parse_network(request.ip_range, "ip_range", network_name)
            if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):  # type: ignore[arg-type]
                raise InvalidNetworkConfig(
                    f"network {network_name!r}: ip_range {ip_range} is not inside subnet {subnet}"
                )
        if request.gateway:
            gateway = _parse_address(request.gateway, "gateway", network_name)
            if gateway not in subnet or gateway == subnet.network_address:
                raise InvalidNetworkConfig(
                    f"network {network_name!r}: gateway {gateway} is not a host address of "
                    f"subnet {subnet}"
                )
        else:
            gateway = subnet.network_address + 1
        if subnet.num_addresses < 4:
            raise InvalidNetworkConfig(
                f"network {network_name!r}: subnet {subnet} is too small for a gateway and an "
                "endpoint; use at most a /30 (IPv4) or /126 (IPv6)"
            )
        plans.append(
            SubnetPlan(
                subnet=subnet,
                gateway=gateway,
                ip_range=ip_range,
                aux_addresses=_aux_addresses(request, subnet, network_name),
            )
        )
        in_use.append(subnet)

    versions = {plan.version for plan in plans}
    if enable_ipv6 is False and 6 in versions:
        raise InvalidNetworkConfig(
            f"network {network_name!r}: an IPv6 subnet is configured but enable_ipv6 is not "
            "set; add enable_ipv6: true"
        )
    wanted = [(4, ipv4_pools)] + ([(6, ipv6_pools)] if enable_ipv6 else [])
    for version, pools in wanted:
        if version in versions:
            continue
        subnet = allocate_subnet(pools, in_use, host_routes)
        plans.append(SubnetPlan(subnet=subnet, gateway=subnet.network_address + 1, ip_range=subnet))
        in_use.append(subnet)
    return sorted(plans, key=lambda plan: plan.version)


def _aux_addresses(
    request: SubnetRequest, subnet: IPNetwork, network_name: str
) -> tuple[tuple[str, IPAddress], ...]:
    """``aux_addresses`` of one ipam entry: addresses of the subnet kept from endpoints."""
    if len(request.aux_addresses) > MAX_AUX_ADDRESSES:
        raise InvalidNetworkConfig(
            f"network {network_name!r}: too many aux_addresses (at most {MAX_AUX_ADDRESSES})"
        )
    found = []
    for name, text in request.aux_addresses:
        address = _parse_address(text, f"aux address {name!r}", network_name)
        if address not in subnet:
            raise InvalidNetworkConfig(
                f"network {network_name!r}: no matching subnet for aux-address {address} "
                f"({name}): it is not inside {subnet}"
            )
        found.append((name, address))
    return tuple(found)


def reserved_addresses(plan: SubnetPlan) -> set[IPAddress]:
    """Addresses of the subnet that no endpoint may have."""
    reserved: set[IPAddress] = {plan.subnet.network_address, plan.gateway}
    reserved.update(address for _, address in plan.aux_addresses)
    if plan.version == 4:
        reserved.add(plan.subnet.broadcast_address)
    return reserved


def allocate_address(
    plan: SubnetPlan,
    taken: Iterable[IPAddress],
    requested: str | None = None,
    *,
    network_name: str = "",
) -> IPAddress:
    """An endpoint address in ``plan``: ``requested`` when given and free, else the lowest free.

    Example: subnet 10.208.0.0/24 (gateway .1), taken {.2} -> 10.208.0.3.
    """
    taken_set = set(taken) | reserved_addresses(plan)
    if requested is not None:
        address = _parse_address(requested, "address", network_name)
        if address not in plan.subnet:
            raise InvalidNetworkConfig(
                f"network {network_name!r}: address {address} is not inside subnet "
                f"{plan.subnet}; pick one inside it or drop the fixed address"
            )
        if address in taken_set:
            raise AddressInUse(
                f"network {network_name!r}: address {address} is already in use (or reserved "
                "for the network/gateway); pick another address"
            )
        return address
    taken_ints = sorted(int(a) for a in taken_set if a in plan.ip_range)
    first, last = _interval(plan.ip_range)
    candidate = first
    for value in taken_ints:
        if value < candidate:
            continue
        if value > candidate:
            break
        candidate += 1
    if candidate > last:
        raise AddressPoolExhausted(
            f"network {network_name!r}: every address of {plan.ip_range} is in use; disconnect "
            "containers you no longer need or recreate the network with a larger subnet"
        )
    if plan.version == 4:
        return ipaddress.IPv4Address(candidate)
    return ipaddress.IPv6Address(candidate)
