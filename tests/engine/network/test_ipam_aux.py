"""IPAM ``aux_addresses``: addresses of a subnet kept from endpoints, kept across restarts."""

from __future__ import annotations

import ipaddress

import pytest

from engine.network.errors import InvalidNetworkConfig
from engine.network.ipam import (
    MAX_AUX_ADDRESSES,
    SubnetRequest,
    allocate_address,
    plan_subnets,
)
from engine.network.records import Network, network_from_dict, network_to_dict


def plan(*aux: tuple[str, str], subnet: str = "10.208.40.0/24"):
    [found] = plan_subnets(
        "net",
        [SubnetRequest(subnet=subnet, aux_addresses=aux)],
        enable_ipv6=False,
        in_use=[],
        host_routes=[],
    )
    return found


def test_aux_addresses_are_never_given_to_an_endpoint():
    decided = plan(("router", "10.208.40.2"), ("printer", "10.208.40.3"))
    assert allocate_address(decided, []) == ipaddress.ip_address("10.208.40.4")
    with pytest.raises(Exception, match="in use"):
        allocate_address(decided, [], "10.208.40.3")


@pytest.mark.parametrize(
    ("aux", "words"),
    [
        (("far", "10.208.41.9"), "no matching subnet for aux-address"),
        (("bad", "not-an-address"), "not a valid IP address"),
    ],
)
def test_an_aux_address_outside_the_subnet_is_refused(aux, words):
    with pytest.raises(InvalidNetworkConfig, match=words):
        plan(aux)


def test_aux_addresses_are_bounded_and_need_a_subnet():
    many = tuple((f"h{i}", "10.208.40.9") for i in range(MAX_AUX_ADDRESSES + 1))
    with pytest.raises(InvalidNetworkConfig, match="too many"):
        plan(*many)
    with pytest.raises(InvalidNetworkConfig, match="without a subnet"):
        plan_subnets(
            "net",
            [SubnetRequest(aux_addresses=(("x", "10.208.40.2"),))],
            enable_ipv6=False,
            in_use=[],
            host_routes=[],
        )


def test_aux_addresses_survive_the_network_record():
    decided = plan(("router", "10.208.40.2"))
    network = Network(
        id="n" * 64,
        name="net",
        bridge="pcbr-test",
        internal=False,
        enable_ipv6=False,
        subnets=(decided,),
    )
    again = network_from_dict(network_to_dict(network))
    assert again.subnets[0].aux_addresses == (("router", ipaddress.ip_address("10.208.40.2")),)


def test_unknown_bridge_driver_options_are_refused_not_ignored():
    from engine.network.naming import check_options

    check_options("net", {"com.docker.network.driver.mtu": "1400"})
    with pytest.raises(InvalidNetworkConfig, match="enable_icc"):
        check_options("net", {"com.docker.network.bridge.enable_icc": "false"})
