"""Records in the Docker Engine API's shapes (pure)."""

import ipaddress

import pytest

from engine.network.docker_view import (
    endpoint_settings,
    ipam_requests,
    network_inspect,
    port_requests,
    ports_view,
)
from engine.network.errors import InvalidNetworkConfig
from engine.network.ipam import SubnetPlan, SubnetRequest
from engine.network.ports import PortBinding, PortRequest
from engine.network.records import Endpoint, Network

net = ipaddress.ip_network
addr = ipaddress.ip_address
iface = ipaddress.ip_interface


def _network() -> Network:
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
    network.endpoints["c" * 64] = Endpoint(
        id="e" * 64,
        network_id=network.id,
        sandbox_id="c" * 64,
        ifname="eth0",
        host_ifname="pcv123",
        mac_address="02:42:0a:d0:00:02",
        addresses=(iface("10.208.0.2/24"), iface("fd00::2/64")),
        aliases=("web", "cccccccccccc"),
    )
    return network


def test_network_inspect_shape():
    view = network_inspect(_network(), {"c" * 64: "app-web-1"})
    assert view["Name"] == "app_default" and view["Driver"] == "bridge"
    assert view["IPAM"]["Config"] == [
        {"Subnet": "10.208.0.0/24", "Gateway": "10.208.0.1"},
        {"Subnet": "fd00::/64", "Gateway": "fd00::1"},
    ]
    assert view["Containers"]["c" * 64] == {
        "Name": "app-web-1",
        "EndpointID": "e" * 64,
        "MacAddress": "02:42:0a:d0:00:02",
        "IPv4Address": "10.208.0.2/24",
        "IPv6Address": "fd00::2/64",
    }
    assert view["Options"]["com.docker.network.bridge.name"] == "pcbr-nnnnnnnnnn"
    assert view["Labels"] == {"com.docker.compose.project": "app"}
    assert view["Created"] == "2026-11-27T23:00:00Z"


def test_endpoint_settings_shape():
    network = _network()
    settings = endpoint_settings(network.endpoints["c" * 64], network)
    assert settings["IPAddress"] == "10.208.0.2" and settings["IPPrefixLen"] == 24
    assert settings["Gateway"] == "10.208.0.1"
    assert settings["GlobalIPv6Address"] == "fd00::2" and settings["IPv6Gateway"] == "fd00::1"
    assert settings["Aliases"] == ["web", "cccccccccccc"]
    assert settings["NetworkID"] == network.id


def test_ipam_requests():
    assert ipam_requests([{"Subnet": "172.28.0.0/16", "IPRange": "", "Gateway": "172.28.0.9"}]) == [
        SubnetRequest("172.28.0.0/16", None, "172.28.0.9")
    ]
    assert ipam_requests(None) == []


def test_port_requests_and_view():
    requests = port_requests(
        {
            "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "::1", "HostPort": ""}],
            "53/udp": [{"HostPort": "5300-5310"}],
            "9000": None,
        },
        exposed_ports=["80/tcp", "443/tcp"],
        publish_all=True,
    )
    assert requests == [
        PortRequest(80, "tcp", None, 8080),
        PortRequest(80, "tcp", "::1"),
        PortRequest(53, "udp", None, 5300, 5310),
        PortRequest(9000, "tcp"),
        PortRequest(443, "tcp"),
    ]
    with pytest.raises(InvalidNetworkConfig):
        port_requests({"80/sctp": []})
    with pytest.raises(InvalidNetworkConfig):
        port_requests({"80/tcp": [{"HostPort": "http"}]})
    view = ports_view([PortBinding(80, "tcp", 8080), PortBinding(80, "tcp", 8081, addr("::1"))])
    assert view == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::1", "HostPort": "8081"}]
    }
