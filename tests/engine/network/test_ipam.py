"""IPAM: subnets from the pool, never over host routes; addresses inside a subnet."""

import ipaddress

import pytest

from engine.network.errors import AddressInUse, AddressPoolExhausted, InvalidNetworkConfig
from engine.network.ipam import (
    DEFAULT_IPV4_POOLS,
    AddressPool,
    SubnetPlan,
    SubnetRequest,
    allocate_address,
    allocate_subnet,
    plan_subnets,
)

net = ipaddress.ip_network
addr = ipaddress.ip_address


def test_default_pool_avoids_docker_defaults_and_cgnat():
    docker = [net("172.16.0.0/12"), net("192.168.0.0/16"), net("100.64.0.0/10")]
    for pool in DEFAULT_IPV4_POOLS:
        assert pool.prefix_length == 22
        assert not any(pool.base.overlaps(d) for d in docker)
        assert 2 ** (22 - pool.base.prefixlen) >= 1024  # more networks than Docker's pools
        assert 2 ** (32 - 22) - 3 >= 1000  # `--scale` to 1000 on one default network


def test_first_subnet_is_the_start_of_the_pool():
    assert allocate_subnet(DEFAULT_IPV4_POOLS, [], []) == net("10.208.0.0/22")


def test_subnets_in_use_and_host_routes_are_skipped():
    in_use = [net("10.208.0.0/24"), net("10.208.1.0/24")]
    routes = [net("10.208.2.0/23"), net("0.0.0.0/0")]  # a VPN route; default route ignored
    assert allocate_subnet(DEFAULT_IPV4_POOLS, in_use, routes) == net("10.208.4.0/22")


def test_a_host_route_inside_a_candidate_blocks_it():
    routes = [net("10.208.0.128/25")]
    assert allocate_subnet(DEFAULT_IPV4_POOLS, [], routes) == net("10.208.4.0/22")


def test_a_route_covering_the_whole_pool_moves_to_the_next_pool():
    pools = [AddressPool.parse("10.1.0.0/16"), AddressPool.parse("10.2.0.0/16,size=26")]
    assert allocate_subnet(pools, [], [net("10.1.0.0/16")]) == net("10.2.0.0/26")


def test_exhausted_pool_says_what_to_do():
    pools = [AddressPool.parse("10.9.0.0/23")]
    in_use = [net("10.9.0.0/24"), net("10.9.1.0/24")]
    with pytest.raises(AddressPoolExhausted) as info:
        allocate_subnet(pools, in_use, [])
    message = str(info.value)
    assert "10.9.0.0/23" in message and "pycompose down" in message and "larger pool" in message


def test_many_networks_are_allocated_quickly_without_overlap():
    in_use: list = []
    for _ in range(1000):
        in_use.append(allocate_subnet(DEFAULT_IPV4_POOLS, in_use, []))
    assert len(set(in_use)) == 1000
    assert in_use[-1] == net("10.223.156.0/22")


def test_pool_parse_rejects_bad_input():
    with pytest.raises(InvalidNetworkConfig):
        AddressPool.parse("10.0.0.1/8")
    with pytest.raises(InvalidNetworkConfig):
        AddressPool.parse("10.0.0.0/8,size=31")
    assert AddressPool.parse("fd00::/48").prefix_length == 64


def test_plan_without_config_takes_ipv4_and_optionally_ipv6_from_pools():
    plans = plan_subnets("web", [], enable_ipv6=True, in_use=[], host_routes=[])
    assert [str(p.subnet) for p in plans] == ["10.208.0.0/22", "fd5c:a7c0:fe00::/64"]
    assert plans[0].gateway == addr("10.208.0.1")
    assert plans[1].gateway == addr("fd5c:a7c0:fe00::1")


def test_user_subnet_range_and_gateway():
    request = SubnetRequest(
        subnet="172.28.0.0/16", ip_range="172.28.5.0/24", gateway="172.28.5.254"
    )
    (plan,) = plan_subnets("n", [request], enable_ipv6=False, in_use=[], host_routes=[])
    assert plan == SubnetPlan(net("172.28.0.0/16"), addr("172.28.5.254"), net("172.28.5.0/24"))


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (SubnetRequest(subnet="10.0.0.0/24", gateway="10.0.1.1"), InvalidNetworkConfig),
        (SubnetRequest(subnet="10.0.0.0/24", ip_range="10.0.1.0/25"), InvalidNetworkConfig),
        (SubnetRequest(subnet="nonsense"), InvalidNetworkConfig),
        (SubnetRequest(gateway="10.0.0.1"), InvalidNetworkConfig),
        (SubnetRequest(subnet="10.208.0.0/16"), AddressInUse),
        (SubnetRequest(subnet="fd00::/64"), InvalidNetworkConfig),  # ipv6 not enabled
    ],
)
def test_bad_user_config_is_refused(request_, error):
    with pytest.raises(error):
        plan_subnets(
            "n", [request_], enable_ipv6=False, in_use=[net("10.208.3.0/24")], host_routes=[]
        )


def test_addresses_skip_network_gateway_broadcast_and_taken():
    plan = SubnetPlan(net("10.5.0.0/29"), addr("10.5.0.1"), net("10.5.0.0/29"))
    assert allocate_address(plan, []) == addr("10.5.0.2")
    assert allocate_address(plan, [addr("10.5.0.2"), addr("10.5.0.4")]) == addr("10.5.0.3")
    taken = [addr(f"10.5.0.{i}") for i in range(2, 7)]
    with pytest.raises(AddressPoolExhausted):
        allocate_address(plan, taken, network_name="n")


def test_addresses_come_from_the_ip_range():
    plan = SubnetPlan(net("10.5.0.0/16"), addr("10.5.0.1"), net("10.5.7.0/24"))
    assert allocate_address(plan, []) == addr("10.5.7.0")


def test_requested_address():
    plan = SubnetPlan(net("10.5.0.0/24"), addr("10.5.0.1"), net("10.5.0.0/24"))
    assert allocate_address(plan, [], "10.5.0.77") == addr("10.5.0.77")
    with pytest.raises(AddressInUse):
        allocate_address(plan, [addr("10.5.0.77")], "10.5.0.77")
    with pytest.raises(AddressInUse):
        allocate_address(plan, [], "10.5.0.1")
    with pytest.raises(InvalidNetworkConfig):
        allocate_address(plan, [], "10.6.0.7")


def test_ipv6_addresses():
    plan = SubnetPlan(net("fd00::/64"), addr("fd00::1"), net("fd00::/64"))
    assert allocate_address(plan, []) == addr("fd00::2")
