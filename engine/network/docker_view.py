"""The network engine's records in the Docker Engine API's JSON shapes, and back.

Pure functions between this package's values and plain dicts keyed by Docker's field names
(``GET /networks/{id}``, a container's ``NetworkSettings``, ``IPAM.Config``,
``HostConfig.PortBindings``), so the daemon can validate them into its API models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.network.errors import InvalidNetworkConfig
from engine.network.ipam import SubnetRequest
from engine.network.ports import PortBinding, PortRequest
from engine.network.records import Endpoint, Network


def ipam_requests(config: Iterable[Mapping[str, Any]] | None) -> list[SubnetRequest]:
    """``IPAM.Config`` entries (``Subnet``, ``IPRange``, ``Gateway``) as subnet requests."""
    return [
        SubnetRequest(
            subnet=entry.get("Subnet") or None,
            ip_range=entry.get("IPRange") or None,
            gateway=entry.get("Gateway") or None,
        )
        for entry in config or []
    ]


def _container_port(key: str) -> tuple[int, str]:
    port, _, protocol = key.partition("/")
    protocol = protocol or "tcp"
    if not port.isdigit() or protocol not in ("tcp", "udp"):
        raise InvalidNetworkConfig(
            f"port {key!r} is not PORT/tcp or PORT/udp (sctp is not supported)"
        )
    return int(port), protocol


def port_requests(
    port_bindings: Mapping[str, Sequence[Mapping[str, str]] | None] | None,
    exposed_ports: Iterable[str] = (),
    publish_all: bool = False,
) -> list[PortRequest]:
    """``HostConfig.PortBindings`` (``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``).

    An empty ``HostPort`` asks for a random port, ``"8000-8010"`` for the first free one of
    the range; with ``publish_all`` every exposed port without a binding gets a random one.
    """
    requests: list[PortRequest] = []
    bound = set()
    for key, bindings in (port_bindings or {}).items():
        port, protocol = _container_port(key)
        bound.add((port, protocol))
        for binding in bindings or [{}]:
            host_ip = binding.get("HostIp") or None
            host_port_text = binding.get("HostPort") or ""
            first, _, last = host_port_text.partition("-")
            if host_port_text and not (first.isdigit() and (not last or last.isdigit())):
                raise InvalidNetworkConfig(f"HostPort {host_port_text!r} for {key} is not a port")
            requests.append(
                PortRequest(
                    port,
                    protocol,
                    host_ip,
                    int(first) if first else None,
                    int(last) if last else None,
                )
            )
    if publish_all:
        for key in sorted(exposed_ports):
            port, protocol = _container_port(key)
            if (port, protocol) not in bound:
                requests.append(PortRequest(port, protocol))
    return requests


def ports_view(bindings: Iterable[PortBinding]) -> dict[str, list[dict[str, str]]]:
    """``NetworkSettings.Ports``: ``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}``."""
    view: dict[str, list[dict[str, str]]] = {}
    for binding in bindings:
        key = f"{binding.container_port}/{binding.protocol}"
        host_ip = str(binding.host_ip) if binding.host_ip is not None else "0.0.0.0"
        view.setdefault(key, []).append({"HostIp": host_ip, "HostPort": str(binding.host_port)})
    return view


def endpoint_settings(endpoint: Endpoint, network: Network) -> dict[str, Any]:
    """A container's ``NetworkSettings.Networks[<name>]``."""
    ipv4 = next((a for a in endpoint.addresses if a.version == 4), None)
    ipv6 = next((a for a in endpoint.addresses if a.version == 6), None)
    gateway4 = next((p.gateway for p in network.subnets if p.version == 4), None)
    gateway6 = next((p.gateway for p in network.subnets if p.version == 6), None)
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": list(endpoint.aliases),
        "MacAddress": endpoint.mac_address,
        "NetworkID": network.id,
        "EndpointID": endpoint.id,
        "Gateway": str(gateway4) if gateway4 else "",
        "IPAddress": str(ipv4.ip) if ipv4 else "",
        "IPPrefixLen": ipv4.network.prefixlen if ipv4 else 0,
        "IPv6Gateway": str(gateway6) if gateway6 else "",
        "GlobalIPv6Address": str(ipv6.ip) if ipv6 else "",
        "GlobalIPv6PrefixLen": ipv6.network.prefixlen if ipv6 else 0,
        "DriverOpts": None,
    }


def network_inspect(
    network: Network, container_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``GET /networks/{id}``; ``container_names`` maps sandbox (container) ids to names."""
    names = container_names or {}
    containers = {}
    for sandbox_id, endpoint in network.endpoints.items():
        ipv4 = next((a for a in endpoint.addresses if a.version == 4), None)
        ipv6 = next((a for a in endpoint.addresses if a.version == 6), None)
        containers[sandbox_id] = {
            "Name": names.get(sandbox_id, ""),
            "EndpointID": endpoint.id,
            "MacAddress": endpoint.mac_address,
            "IPv4Address": str(ipv4) if ipv4 else "",
            "IPv6Address": str(ipv6) if ipv6 else "",
        }
    config = []
    for plan in network.subnets:
        entry = {"Subnet": str(plan.subnet), "Gateway": str(plan.gateway)}
        if plan.ip_range != plan.subnet:
            entry["IPRange"] = str(plan.ip_range)
        config.append(entry)
    return {
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": network.enable_ipv6,
        "IPAM": {"Driver": "default", "Options": None, "Config": config},
        "Internal": network.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": network.bridge, **network.options},
        "Labels": dict(network.labels),
    }
