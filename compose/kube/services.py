"""The Services of one Compose service and the NetworkPolicy of its published ports (for
:mod:`compose.kube.generate`): a Service named after it (headless when it has no port, so
that its name still resolves), one per network alias, and ingress from anywhere to the
ports it publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose.kube.names import dns_label, is_port_name
from compose.kube.workload import selector_labels

if TYPE_CHECKING:
    from compose.kube.workload import WorkloadBuilder


def service_ports(owner: WorkloadBuilder) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for index, port in enumerate(owner.service.ports or []):
        if port.target is None:
            continue
        protocol = (port.protocol or "tcp").upper()
        published = port.published
        number = port.target
        if published:
            first, _, last = published.partition("-")
            if last and last != first:
                owner.note(
                    ("ports", index, "published"),
                    "approximated",
                    f"a Service port per target: {first} only",
                )
            number = int(first)
        if (number, protocol) in seen:
            continue
        seen.add((number, protocol))
        entry: dict[str, Any] = {
            "name": port.name
            if port.name and is_port_name(port.name)
            else f"{protocol.lower()}-{number}",
            "port": number,
            "targetPort": port.target,
            "protocol": protocol,
        }
        if port.app_protocol:
            entry["appProtocol"] = port.app_protocol
        ports.append(entry)
    for number, protocol in owner.target_ports()[len(owner.service.ports or []) :]:
        if (number, protocol) not in seen:
            seen.add((number, protocol))
            ports.append(
                {
                    "name": f"{protocol.lower()}-{number}",
                    "port": number,
                    "targetPort": number,
                    "protocol": protocol,
                }
            )
    return ports


def service_objects(owner: WorkloadBuilder) -> list[dict[str, Any]]:
    if owner.service.network_mode and owner.service.network_mode != "host":
        return []
    ports = service_ports(owner)
    published = any(p.published for p in owner.service.ports or [])
    spec: dict[str, Any] = {"selector": selector_labels(owner.context, owner.kname)}
    endpoint_mode = owner.service.deploy.endpoint_mode if owner.service.deploy else None
    if not ports or endpoint_mode == "dnsrr":
        spec["clusterIP"] = "None"
    elif published and owner.context.options.service_type != "ClusterIP":
        spec["type"] = owner.context.options.service_type
    if ports:
        spec["ports"] = ports
    names = [owner.kname]
    for network, attached in owner.service.networks.items():
        for index, alias in enumerate(attached.aliases if attached and attached.aliases else []):
            label = dns_label(alias)
            if label in names or label in owner.context.names.values():
                owner.note(
                    ("networks", network, "aliases", index),
                    "dropped",
                    "the name is already a Service of the bundle",
                )
                continue
            names.append(label)
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": owner.context.metadata(name),
            "spec": spec,
        }
        for name in names
    ]


def published_policy(owner: WorkloadBuilder) -> list[dict[str, Any]]:
    """Ingress from anywhere to the published ports: the Compose networks' policies
    admit only their members."""
    targets = []
    for port in owner.service.ports or []:
        if port.published and port.target is not None:
            entry = {"port": port.target, "protocol": (port.protocol or "tcp").upper()}
            if entry not in targets:
                targets.append(entry)
    if not targets or owner.service.network_mode:
        return []
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": owner.context.metadata(
                f"published-{owner.kname}"[:63].rstrip("-"), owner=owner.kname
            ),
            "spec": {
                "podSelector": {"matchLabels": selector_labels(owner.context, owner.kname)},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": targets}],
            },
        }
    ]
