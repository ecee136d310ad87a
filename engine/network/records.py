"""The network engine's records: networks, sandboxes, endpoints, and their JSON form.

Plain mutable dataclasses owned by :class:`engine.network.manager.NetworkEngine` (which holds
its lock while changing them). :func:`network_to_dict` / :func:`sandbox_to_dict` and their
inverses give the JSON-able form that ``export_state``/``restore_state`` pass to the daemon's
store, so that a restarted engine adopts what the previous one made.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from engine.network.ipam import SubnetPlan
from engine.network.ports import PortBinding

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class Endpoint:
    id: str
    network_id: str
    sandbox_id: str
    ifname: str
    host_ifname: str
    mac_address: str
    addresses: tuple[IPInterface, ...]
    aliases: tuple[str, ...]
    gateways: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()

    @property
    def ipv4(self) -> ipaddress.IPv4Address | None:
        return next((a.ip for a in self.addresses if isinstance(a, ipaddress.IPv4Interface)), None)

    @property
    def ipv6(self) -> ipaddress.IPv6Address | None:
        return next((a.ip for a in self.addresses if isinstance(a, ipaddress.IPv6Interface)), None)


@dataclass(slots=True)
class Network:
    id: str
    name: str
    bridge: str
    internal: bool
    enable_ipv6: bool
    subnets: tuple[SubnetPlan, ...]
    mtu: int | None = None
    masquerade: bool = True
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    iptables_chain: str | None = None
    created: str = ""  # RFC 3339, as Docker's "Created"
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # by sandbox id


@dataclass(slots=True)
class Sandbox:
    id: str
    netns: str
    name: str
    hostname: str
    upstreams: tuple[str, ...]
    embedded_dns: bool = True
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # by network id, in order
    # each binding with the container addresses it is DNAT'ed to (IPv4, and IPv6 if any)
    ports: list[tuple[PortBinding, tuple[IPAddress, ...]]] = field(default_factory=list)
    resolver_scope: anyio.CancelScope | None = None

    @property
    def network_ids(self) -> list[str]:
        return list(self.endpoints)


# fields written as they are (the others need converting to and from JSON)
_NETWORK_FIELDS = ("id", "name", "bridge", "internal", "enable_ipv6", "mtu", "masquerade")
_SANDBOX_FIELDS = ("id", "netns", "name", "hostname", "embedded_dns")
_ENDPOINT_FIELDS = ("id", "network_id", "ifname", "host_ifname", "mac_address")


def _fields(record: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


def _values(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: data[name] for name in names}


STATE_VERSION = 1  # of NetworkEngine.export_state


def network_to_dict(network: Network) -> dict[str, Any]:
    return {
        **_fields(network, _NETWORK_FIELDS),
        "subnets": [
            {
                "subnet": str(p.subnet),
                "gateway": str(p.gateway),
                "ip_range": str(p.ip_range),
                "aux_addresses": [[name, str(address)] for name, address in p.aux_addresses],
            }
            for p in network.subnets
        ],
        "options": dict(network.options),
        "labels": dict(network.labels),
        "created": network.created,
    }


def network_from_dict(data: Mapping[str, Any]) -> Network:
    return Network(
        **_values(data, _NETWORK_FIELDS),
        subnets=tuple(
            SubnetPlan(
                ipaddress.ip_network(p["subnet"]),
                ipaddress.ip_address(p["gateway"]),
                ipaddress.ip_network(p["ip_range"]),
                tuple(
                    (str(name), ipaddress.ip_address(address))
                    for name, address in p.get("aux_addresses") or ()
                ),
            )
            for p in data["subnets"]
        ),
        options=dict(data["options"]),
        labels=dict(data["labels"]),
        created=data.get("created", ""),
    )


def sandbox_to_dict(sandbox: Sandbox) -> dict[str, Any]:
    return {
        **_fields(sandbox, _SANDBOX_FIELDS),
        "upstreams": list(sandbox.upstreams),
        "endpoints": [
            {
                **_fields(e, _ENDPOINT_FIELDS),
                "addresses": [str(a) for a in e.addresses],
                "aliases": list(e.aliases),
                "gateways": [str(g) for g in e.gateways],
            }
            for e in sandbox.endpoints.values()
        ],
        "ports": [
            {
                "container_port": b.container_port,
                "protocol": b.protocol,
                "host_port": b.host_port,
                "host_ip": str(b.host_ip) if b.host_ip else None,
                "targets": [str(t) for t in targets],
            }
            for b, targets in sandbox.ports
        ],
    }


def sandbox_from_dict(data: Mapping[str, Any]) -> Sandbox:
    sandbox = Sandbox(**_values(data, _SANDBOX_FIELDS), upstreams=tuple(data["upstreams"]))
    for e in data["endpoints"]:
        sandbox.endpoints[e["network_id"]] = Endpoint(
            **_values(e, _ENDPOINT_FIELDS),
            sandbox_id=sandbox.id,
            addresses=tuple(ipaddress.ip_interface(a) for a in e["addresses"]),
            aliases=tuple(e["aliases"]),
            gateways=tuple(ipaddress.ip_address(g) for g in e["gateways"]),
        )
    for p in data["ports"]:
        binding = PortBinding(
            p["container_port"],
            p["protocol"],
            p["host_port"],
            ipaddress.ip_address(p["host_ip"]) if p["host_ip"] else None,
        )
        sandbox.ports.append((binding, tuple(ipaddress.ip_address(t) for t in p["targets"])))
    return sandbox
