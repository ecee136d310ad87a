"""The daemon's networks and endpoints in Docker's JSON shapes (pure: records in, JSON out).

``Networking`` renders from the network engine's records only (``networks`` and
``sandboxes``), so these tests hand it records without a kernel behind them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from engine.daemon.networking import Networking
from engine.network import NetworkEngine
from engine.network.ipam import SubnetPlan
from engine.network.ports import PortBinding
from engine.network.records import Endpoint, Network, Sandbox

net = ipaddress.ip_network
addr = ipaddress.ip_address
iface = ipaddress.ip_interface

CONTAINER = "c" * 64


def _networking(tmp_path: Path) -> tuple[Networking, Network]:
    network = Network(
        id="n" * 64,
        name="app_default",
        bridge="pcbr-nnnnnnnnnn",
        internal=False,
        enable_ipv6=True,
        subnets=(
            SubnetPlan(net("10.208.0.0/24"), addr("10.208.0.1"), net("10.208.0.0/24")),
            SubnetPlan(net("fd00::/64"), addr("fd00::1"), net("fd00::/64")),
        ),
        labels={"com.docker.compose.project": "app"},
        created="2026-11-27T23:00:00Z",
    )
    endpoint = Endpoint(
        id="e" * 64,
        network_id=network.id,
        sandbox_id=CONTAINER,
        ifname="eth0",
        host_ifname="pcv123",
        mac_address="02:42:0a:d0:00:02",
        addresses=(iface("10.208.0.2/24"), iface("fd00::2/64")),
        aliases=("web", "cccccccccccc"),
        gateways=(addr("10.208.0.1"), addr("fd00::1")),
    )
    network.endpoints[CONTAINER] = endpoint
    sandbox = Sandbox(
        id=CONTAINER, netns="/run/netns/x", name="app-web-1", hostname="web", upstreams=()
    )
    sandbox.endpoints[network.id] = endpoint
    sandbox.ports.append((PortBinding(80, "tcp", 8080), (addr("10.208.0.2"),)))
    sandbox.ports.append((PortBinding(80, "tcp", 8081, addr("::1")), (addr("10.208.0.2"),)))
    engine: Any = SimpleNamespace(networks={network.id: network}, sandboxes={CONTAINER: sandbox})
    return Networking(cast(NetworkEngine, engine), tmp_path / "state.json"), network


def test_network_inspect_shape(tmp_path: Path) -> None:
    networking, network = _networking(tmp_path)
    view = networking.render(network).wire()
    assert view["Name"] == "app_default" and view["Driver"] == "bridge"
    assert view["EnableIPv6"] is True and view["Internal"] is False
    assert [(pool["Subnet"], pool["Gateway"]) for pool in view["IPAM"]["Config"]] == [
        ("10.208.0.0/24", "10.208.0.1"),
        ("fd00::/64", "fd00::1"),
    ]
    assert view["Containers"][CONTAINER] == {
        "Name": "app-web-1",
        "EndpointID": "e" * 64,
        "MacAddress": "02:42:0a:d0:00:02",
        "IPv4Address": "10.208.0.2/24",
        "IPv6Address": "fd00::2/64",
    }
    assert view["Labels"] == {"com.docker.compose.project": "app"}
    assert view["Created"] == "2026-11-27T23:00:00Z"


def test_endpoint_settings_shape(tmp_path: Path) -> None:
    networking, network = _networking(tmp_path)
    settings = networking.endpoints(CONTAINER)["app_default"]
    assert settings.IPAddress == "10.208.0.2" and settings.IPPrefixLen == 24
    assert settings.Gateway == "10.208.0.1"
    assert settings.GlobalIPv6Address == "fd00::2" and settings.IPv6Gateway == "fd00::1"
    assert settings.Aliases == ["web", "cccccccccccc"]
    assert settings.NetworkID == network.id
    assert networking.endpoints("unknown") == {}


def test_published_ports_shape(tmp_path: Path) -> None:
    networking, _ = _networking(tmp_path)
    summary, by_port = networking.ports(CONTAINER)
    assert [port.wire() for port in summary] == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::1", "PrivatePort": 80, "PublicPort": 8081, "Type": "tcp"},
    ]
    assert {key: [b.wire() for b in value or []] for key, value in by_port.items()} == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::1", "HostPort": "8081"}]
    }
