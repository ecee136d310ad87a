"""Pure parts: nftables rules, DNS answers, container files, ports."""

import ipaddress

import dns.message
import dns.rcode
import dns.reversename
import pytest

from engine.network.dns import DnsRecords, answer_locally
from engine.network.errors import AddressInUse, InvalidNetworkConfig
from engine.network.files import (
    ResolvConf,
    container_resolv_conf,
    parse_extra_hosts,
    parse_resolv_conf,
    render_hosts,
    render_resolv_conf,
    resolver_upstreams,
    write_container_files,
)
from engine.network.nftables import BridgeRules, PublishedPort, render_ruleset
from engine.network.ports import PortBinding, PortRequest, assign_host_ports, parse_port_spec

addr = ipaddress.ip_address


# --- nftables -------------------------------------------------------------------------------


def test_empty_ruleset_only_deletes_the_engines_tables():
    script = render_ruleset([], [])
    assert script.splitlines() == [
        "table inet pycompose {}",
        "delete table inet pycompose",
        "table ip pycompose_nat {}",
        "delete table ip pycompose_nat",
        "table ip6 pycompose_nat6 {}",
        "delete table ip6 pycompose_nat6",
    ]


def test_ipv6_nat_rules():
    bridges = [
        BridgeRules(
            "pcbr-6",
            ipaddress.IPv4Network("10.208.0.0/24"),
            internal=False,
            subnet6=ipaddress.IPv6Network("fd00:1::/64"),
        )
    ]
    ports = [
        PublishedPort("tcp", 8080, addr("10.208.0.2"), 80),
        PublishedPort("tcp", 8080, addr("fd00:1::2"), 80),
    ]
    script = render_ruleset(bridges, ports)
    v6 = script[script.index("table ip6 pycompose_nat6 {\n") :]
    assert "tcp dport 8080 dnat to [fd00:1::2]:80" in v6
    assert 'ip6 saddr fd00:1::/64 oifname != "pcbr-6" masquerade' in v6
    assert "10.208.0.2" not in v6 and "127.0.0.0/8" not in v6


def test_ruleset_isolates_masquerades_and_publishes():
    bridges = [
        BridgeRules("pcbr-a", ipaddress.IPv4Network("10.208.0.0/24"), internal=False),
        BridgeRules("pcbr-b", ipaddress.IPv4Network("10.208.1.0/24"), internal=True),
    ]
    ports = [
        PublishedPort("tcp", 8080, addr("10.208.0.2"), 80),
        PublishedPort("udp", 53, addr("10.208.0.3"), 5353, host_ip=addr("127.0.0.1")),
    ]
    script = render_ruleset(bridges, ports)
    assert 'elements = { "pcbr-a", "pcbr-b" }' in script
    assert 'iifname "pcbr-a" oifname @bridges oifname != "pcbr-a" drop' in script
    assert 'iifname "pcbr-b" oifname != "pcbr-b" drop' in script
    assert 'oifname "pcbr-b" iifname != "pcbr-b" drop' in script
    assert "tcp dport 8080 dnat to 10.208.0.2:80" in script
    assert "ip daddr 127.0.0.1 udp dport 53 dnat to 10.208.0.3:5353" in script
    assert 'ip saddr 10.208.0.0/24 oifname != "pcbr-a" masquerade' in script
    assert 'ip saddr 10.208.1.0/24 oifname != "pcbr-b" masquerade' not in script  # internal
    assert 'oifname "pcbr-a" ip saddr 127.0.0.0/8 masquerade' in script
    assert "table ip6 pycompose_nat6" in script
    # published traffic is accepted before isolation drops it
    assert script.index("ct status dnat accept") < script.index(
        'oifname @bridges oifname != "pcbr-a"'
    )


# --- DNS ------------------------------------------------------------------------------------


def _records() -> DnsRecords:
    records = DnsRecords()
    records.add_endpoint("net1", "e1", ["app-web-1", "web"], [addr("10.0.0.2")])
    records.add_endpoint("net1", "e2", ["app-web-2", "web"], [addr("10.0.0.3"), addr("fd00::3")])
    records.add_endpoint(
        "net2", "e3", ["app-db-1", "db"], [addr("10.0.1.2")], network_name="App_Back"
    )
    return records


def _ask(records, name, rdtype, networks=("net1",)):
    return answer_locally(dns.message.make_query(name, rdtype), records, list(networks))


def test_service_name_answers_every_replica_on_the_networks_of_the_asker():
    reply = _ask(_records(), "WEB.", "A")
    assert sorted(r.to_text() for r in reply.answer[0]) == ["10.0.0.2", "10.0.0.3"]
    assert _ask(_records(), "db", "A") is None  # not on net1: forwarded (and fails there)
    assert _ask(_records(), "db", "A", ("net1", "net2")).answer[0][0].to_text() == "10.0.1.2"


def test_aaaa_ptr_and_other_types():
    records = _records()
    assert [r.to_text() for r in _ask(records, "web", "AAAA").answer[0]] == ["fd00::3"]
    empty = _ask(records, "app-web-1", "AAAA")
    assert empty.answer == [] and empty.rcode() == dns.rcode.NOERROR
    assert _ask(records, "web", "MX").answer == []
    ptr = _ask(records, dns.reversename.from_address("10.0.0.3"), "PTR")
    assert ptr.answer[0][0].to_text() == "app-web-2."
    assert _ask(records, dns.reversename.from_address("10.9.9.9"), "PTR") is None
    # Docker's answer: <container>.<network>
    ptr = _ask(records, dns.reversename.from_address("10.0.1.2"), "PTR", ("net2",))
    assert ptr.answer[0][0].to_text() == "app-db-1.app_back."


def test_removed_endpoints_disappear():
    records = _records()
    records.remove_endpoint("net1", "e1")
    assert [r.to_text() for r in _ask(records, "web", "A").answer[0]] == ["10.0.0.3"]
    assert _ask(records, "app-web-1", "A") is None
    records.remove_network("net1")
    assert _ask(records, "web", "A") is None


# --- files ----------------------------------------------------------------------------------

HOST_RESOLV = """\
# generated by something
nameserver 127.0.0.53
nameserver 10.0.0.1
search corp.example lab.example
options edns0 trust-ad
"""


def test_resolv_conf_with_embedded_dns():
    host = parse_resolv_conf(HOST_RESOLV)
    assert host == ResolvConf(
        ("127.0.0.53", "10.0.0.1"), ("corp.example", "lab.example"), ("edns0", "trust-ad")
    )
    conf = container_resolv_conf(host, embedded_dns=True, dns_opt=["timeout:2"])
    assert render_resolv_conf(conf) == (
        "nameserver 127.0.0.11\nsearch corp.example lab.example\noptions timeout:2 ndots:0\n"
    )
    assert resolver_upstreams(host) == ("127.0.0.53", "10.0.0.1")
    assert resolver_upstreams(host, ["9.9.9.9"]) == ("9.9.9.9",)


def test_resolv_conf_without_embedded_dns_honours_dns_settings():
    host = parse_resolv_conf(HOST_RESOLV)
    conf = container_resolv_conf(
        host, embedded_dns=False, dns=["1.1.1.1"], dns_search=["svc.local"], dns_opt=["ndots:2"]
    )
    assert render_resolv_conf(conf) == "nameserver 1.1.1.1\nsearch svc.local\noptions ndots:2\n"


def test_hosts_file_with_extra_hosts():
    extra = parse_extra_hosts(
        ["somehost:162.242.195.82", "otherhost=50.31.209.229", "gw:host-gateway", "v6:[::1]"],
        host_gateway="10.208.0.1",
    )
    text = render_hosts("web", ["10.208.0.2"], extra)
    assert text.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert "162.242.195.82\tsomehost\n" in text
    assert "50.31.209.229\totherhost\n" in text
    assert "10.208.0.1\tgw\n" in text
    assert "::1\tv6\n" in text
    assert text.endswith("10.208.0.2\tweb\n")
    assert parse_extra_hosts({"a": "1.2.3.4", "b": ["5.6.7.8", "::2"]}) == [
        ("a", "1.2.3.4"),
        ("b", "5.6.7.8"),
        ("b", "::2"),
    ]
    with pytest.raises(InvalidNetworkConfig):
        parse_extra_hosts(["nocolon"])
    with pytest.raises(InvalidNetworkConfig):
        parse_extra_hosts(["gw:host-gateway"])


def test_container_files_are_written(tmp_path):
    paths = write_container_files(
        tmp_path / "c1", resolv_conf="nameserver 127.0.0.11\n", hosts="x\n", hostname="web\n"
    )
    assert paths["hostname"].read_text() == "web\n"
    assert paths["resolv.conf"].read_text() == "nameserver 127.0.0.11\n"
    assert sorted(p.name for p in (tmp_path / "c1").iterdir()) == [
        "hostname",
        "hosts",
        "resolv.conf",
    ]


# --- ports ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortRequest(80)]),
        ("8080:80", [PortRequest(80, host_port=8080)]),
        ("127.0.0.1:8080:80/udp", [PortRequest(80, "udp", "127.0.0.1", 8080)]),
        ("127.0.0.1::80", [PortRequest(80, "tcp", "127.0.0.1")]),
        ("8000-8001:80-81", [PortRequest(80, host_port=8000), PortRequest(81, host_port=8001)]),
        ("9090-9091:8080", [PortRequest(8080, host_port=9090, host_port_end=9091)]),
        ("3000-3001", [PortRequest(3000), PortRequest(3001)]),
        ("[::1]:80:80", [PortRequest(80, host_ip="::1", host_port=80)]),
    ],
)
def test_port_specs(spec, expected):
    assert parse_port_spec(spec) == expected


@pytest.mark.parametrize("spec", ["80/sctp", "0", "8000-8002:80-81", "a:b:c:d", "90-80"])
def test_bad_port_specs(spec):
    with pytest.raises(InvalidNetworkConfig):
        parse_port_spec(spec)


def test_host_port_assignment():
    taken = [PortBinding(80, "tcp", 8080), PortBinding(80, "tcp", 49153)]
    bindings = assign_host_ports(
        [
            PortRequest(80),
            PortRequest(81, host_port=9000),
            PortRequest(82, host_port=9000, host_port_end=9002),
        ],
        taken,
        host_port_free=lambda protocol, port: port != 49154,
    )
    assert [b.host_port for b in bindings] == [49155, 9000, 9001]
    with pytest.raises(AddressInUse, match="already published"):
        assign_host_ports([PortRequest(80, host_port=8080, host_ip="127.0.0.1")], taken)
    assert assign_host_ports([PortRequest(80, "udp", host_port=8080)], taken)[0].host_port == 8080
    (v6,) = assign_host_ports([PortRequest(80, host_ip="2001:db8::1", host_port=80)], [])
    assert v6.host_ip == addr("2001:db8::1")
    assert assign_host_ports([PortRequest(80, host_ip="::", host_port=80)], [])[0].host_ip is None
    with pytest.raises(InvalidNetworkConfig, match="not an IP address"):
        assign_host_ports([PortRequest(80, host_ip="localhost")], [])
