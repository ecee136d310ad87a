"""Bridge networks end to end, in a private host namespace, with busybox as the containers."""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path

import anyio
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from engine.api.errors import Conflict
from engine.network import coexist, netlink
from engine.network.errors import AddressInUse, BridgeFull, InvalidNetworkConfig
from engine.network.ipam import SubnetRequest
from engine.network.ports import PortRequest
from tests.engine.network.conftest import UPLINK_ADDRESS, UPLINK_ADDRESS6, in_ns, sh

pytestmark = [pytest.mark.root, pytest.mark.anyio]


async def run_in(netns: str, *args: str, timeout: float = 10):
    return await anyio.to_thread.run_sync(lambda: in_ns(netns, *args, timeout=timeout))


async def wget(netns: str, url: str, timeout: int = 2) -> str | None:
    """The body at ``url`` fetched from inside ``netns``, or None when it cannot be reached."""
    # busybox 1.35's wget -T crashes; coreutils timeout bounds it instead
    result = await run_in(netns, "timeout", str(timeout), "busybox", "wget", "-q", "-O", "-", url)
    return result.stdout if result.returncode == 0 else None


async def wait_http(netns: str, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if await wget(netns, url, timeout=1) is not None:
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"{url} did not answer from {netns}")


async def query(netns: str, name: str, rdtype: str = "A") -> dns.message.Message:
    """Ask the sandbox's resolver (127.0.0.11) from inside the sandbox."""

    def ask() -> dns.message.Message:
        sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            message = dns.message.make_query(name, rdtype)
            return dns.query.udp(message, "127.0.0.11", timeout=3, sock=sock)
        finally:
            sock.close()

    return await anyio.to_thread.run_sync(ask)


async def query_tcp(netns: str, name: str, rdtype: str = "A") -> dns.message.Message:
    """Ask the sandbox's resolver over TCP (what resolvers do after a truncated reply)."""

    def ask() -> dns.message.Message:
        sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(5)
            sock.connect(("127.0.0.11", 53))
            message = dns.message.make_query(name, rdtype)
            return dns.query.tcp(message, "127.0.0.11", timeout=5, sock=sock)
        finally:
            sock.close()

    return await anyio.to_thread.run_sync(ask)


def answers(message: dns.message.Message) -> list[str]:
    return sorted(item.to_text() for rrset in message.answer for item in rrset)


async def test_two_services_resolve_each_other_by_name_and_alias(engine):
    network = await engine.create_network("app_default")
    web = await engine.create_sandbox("c-web", name="app-web-1", hostname="webhost")
    db = await engine.create_sandbox("c-db", name="app-db-1", hostname="dbhost")
    web_endpoint = await engine.connect(web.id, network.id, aliases=["web", "frontend"])
    db_endpoint = await engine.connect(db.id, network.id, aliases=["db"])

    for name in ("db", "app-db-1", "dbhost"):
        result = await run_in(web.netns, "busybox", "nslookup", name, "127.0.0.11")
        assert f"Address: {db_endpoint.ipv4}" in result.stdout, (name, result.stdout)
    for name in ("web", "frontend", "app-web-1", "webhost"):
        result = await run_in(db.netns, "busybox", "nslookup", name, "127.0.0.11")
        assert f"Address: {web_endpoint.ipv4}" in result.stdout, (name, result.stdout)
    reverse = await query(web.netns, dns.reversename.from_address(str(db_endpoint.ipv4)), "PTR")
    assert answers(reverse) == [f"app-db-1.{network.name}."]

    files = engine.etc_files(
        web.id, extra_hosts=["gw:host-gateway"], dns_search=["svc.test"], dns_opt=["timeout:1"]
    )
    assert files["/etc/hostname"] == "webhost\n"
    assert files["/etc/resolv.conf"] == (
        "nameserver 127.0.0.11\nsearch svc.test\noptions timeout:1 ndots:0\n"
    )
    assert f"{web_endpoint.ipv4}\twebhost\n" in files["/etc/hosts"]
    assert f"{network.subnets[0].gateway}\tgw\n" in files["/etc/hosts"]


async def test_three_replicas_all_appear_in_dns(engine):
    network = await engine.create_network("app_default")
    addresses = []
    for index in (1, 2, 3):
        sandbox = await engine.create_sandbox(f"c-worker-{index}", name=f"app-worker-{index}")
        endpoint = await engine.connect(sandbox.id, network.id, aliases=["worker"])
        addresses.append(str(endpoint.ipv4))
    client = await engine.create_sandbox("c-client", name="app-client-1")
    await engine.connect(client.id, network.id, aliases=["client"])

    reply = await query(client.netns, "worker")
    assert answers(reply) == sorted(addresses)
    assert answers(await query_tcp(client.netns, "worker")) == sorted(addresses)
    await engine.remove_sandbox("c-worker-2")
    reply = await query(client.netns, "worker.")
    assert answers(reply) == sorted([addresses[0], addresses[2]])


async def test_unknown_names_are_forwarded_from_the_host_side(engine, settings):
    """The host's resolver is on its loopback (as systemd-resolved is): forwarding still works."""
    host = settings.host_netns
    upstream = netlink.socket_in_netns(host, socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 53))
    upstream.setblocking(False)
    upstream_tcp = netlink.socket_in_netns(host, socket.AF_INET, socket.SOCK_STREAM)
    upstream_tcp.bind(("127.0.0.1", 53))
    upstream_tcp.listen(8)
    upstream_tcp.setblocking(False)

    def reply_to(wire: bytes) -> bytes:
        request = dns.message.from_wire(wire)
        reply = dns.message.make_response(request)
        reply.answer.append(
            dns.rrset.from_text(request.question[0].name, 60, "IN", "A", "192.0.2.77")
        )
        return reply.to_wire()

    async def fake_upstream() -> None:
        async with await anyio.abc.UDPSocket.from_socket(upstream) as udp:
            async for wire, client in udp:
                await udp.sendto(reply_to(wire), *client)

    async def fake_upstream_tcp() -> None:
        async def serve(stream) -> None:
            async with stream:
                reader = BufferedByteReceiveStream(stream)
                length = int.from_bytes(await reader.receive_exactly(2), "big")
                reply = reply_to(await reader.receive_exactly(length))
                await stream.send(len(reply).to_bytes(2, "big") + reply)

        async with await anyio.abc.SocketListener.from_socket(upstream_tcp) as listener:
            await listener.serve(serve)

    network = await engine.create_network("app_default")
    sandbox = await engine.create_sandbox("c-1", name="app-one-1")
    await engine.connect(sandbox.id, network.id)
    async with anyio.create_task_group() as tg:
        tg.start_soon(fake_upstream)
        tg.start_soon(fake_upstream_tcp)
        assert answers(await query(sandbox.netns, "example.org")) == ["192.0.2.77"]
        assert answers(await query_tcp(sandbox.netns, "example.org")) == ["192.0.2.77"]
        tg.cancel_scope.cancel()


async def test_published_port_answers_on_loopback_host_address_and_from_containers(
    engine, settings, processes, www
):
    network = await engine.create_network("app_default")
    other_network = await engine.create_network("other_default")
    web = await engine.create_sandbox("c-web", name="app-web-1")
    await engine.connect(web.id, network.id, aliases=["web"])
    processes.start(web.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
    bindings = await engine.publish_ports(
        web.id,
        [
            PortRequest(80, host_port=8080),
            PortRequest(80),
            PortRequest(80, host_ip="127.0.0.1", host_port=8081),
        ],
    )
    random_port = bindings[1].host_port
    assert 49153 <= random_port <= 60999

    host = settings.host_netns
    await wait_http(host, "http://127.0.0.1:8080/")
    assert await wget(host, "http://127.0.0.1:8080/") == "hello\n"
    assert await wget(host, f"http://{UPLINK_ADDRESS}:8080/") == "hello\n"
    assert await wget(host, f"http://127.0.0.1:{random_port}/") == "hello\n"
    assert await wget(host, "http://127.0.0.1:8081/") == "hello\n"
    # ::1 cannot be DNAT'ed: the engine's userland relay answers there
    assert await wget(host, "http://[::1]:8080/") == "hello\n"
    assert await wget(host, "http://[::1]:8081/", timeout=1) is None  # 127.0.0.1 only
    # published without an address: on every IPv6 address too (Docker binds :: as well)
    assert await wget(host, f"http://[{UPLINK_ADDRESS6}]:8080/") == "hello\n"
    assert await wget(host, f"http://[{UPLINK_ADDRESS6}]:{random_port}/") == "hello\n"
    assert await wget(host, f"http://[{UPLINK_ADDRESS6}]:8081/", timeout=1) is None
    assert await wget(host, f"http://{UPLINK_ADDRESS}:8081/", timeout=1) is None  # 127.0.0.1 only

    # from another container on the same network and from one on another network, via the host
    neighbour = await engine.create_sandbox("c-neighbour", name="app-neighbour-1")
    await engine.connect(neighbour.id, network.id)
    stranger = await engine.create_sandbox("c-stranger", name="other-stranger-1")
    await engine.connect(stranger.id, other_network.id)
    assert await wget(neighbour.netns, f"http://{UPLINK_ADDRESS}:8080/") == "hello\n"
    assert await wget(stranger.netns, f"http://{UPLINK_ADDRESS}:8080/") == "hello\n"
    # the container reaching its own published port through the host (hairpin)
    assert await wget(web.netns, f"http://{UPLINK_ADDRESS}:8080/") == "hello\n"

    await engine.unpublish_ports(web.id)
    assert await wget(host, "http://127.0.0.1:8080/", timeout=1) is None
    assert await wget(host, "http://[::1]:8080/", timeout=1) is None
    assert await wget(host, f"http://[{UPLINK_ADDRESS6}]:8080/", timeout=1) is None


async def test_udp_port_is_published(engine, settings):
    network = await engine.create_network("app_default")
    sandbox = await engine.create_sandbox("c-udp", name="app-udp-1")
    await engine.connect(sandbox.id, network.id)
    server = netlink.socket_in_netns(sandbox.netns, socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", 5353))
    server.settimeout(5)
    await engine.publish_ports(sandbox.id, [PortRequest(5353, "udp", host_port=15353)])

    def echo_once() -> None:
        data, client = server.recvfrom(100)
        server.sendto(b"pong:" + data, client)

    def ask() -> bytes:
        sock = netlink.socket_in_netns(settings.host_netns, socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(3)
        try:
            sock.sendto(b"ping", ("127.0.0.1", 15353))
            return sock.recv(100)
        finally:
            sock.close()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, echo_once)
            assert await anyio.to_thread.run_sync(ask) == b"pong:ping"
    finally:
        server.close()


async def test_outbound_nat_and_internal_network_has_no_route_out(
    engine, settings, run_dir, processes, www
):
    # an "outside" machine behind the host's uplink, which knows no route to container subnets
    outside = str(run_dir / "outside.ns")
    await anyio.to_thread.run_sync(netlink.create_netns, outside)
    host = settings.host_netns
    for command in (
        ["ip", "link", "add", "wan", "type", "veth", "peer", "name", "wan0", "netns", outside],
        ["ip", "addr", "add", "198.51.100.1/24", "dev", "wan"],
        ["ip", "link", "set", "wan", "up"],
    ):
        assert (await run_in(host, *command)).returncode == 0
    for command in (
        ["ip", "addr", "add", "198.51.100.2/24", "dev", "wan0"],
        ["ip", "link", "set", "wan0", "up"],
    ):
        assert (await run_in(outside, *command)).returncode == 0
    processes.start(outside, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))

    public = await engine.create_network("app_default")
    internal = await engine.create_network("app_private", internal=True)
    open_box = await engine.create_sandbox("c-open", name="app-open-1")
    await engine.connect(open_box.id, public.id)
    closed_box = await engine.create_sandbox("c-closed", name="app-closed-1")
    closed_endpoint = await engine.connect(closed_box.id, internal.id)

    await wait_http(open_box.netns, "http://198.51.100.2/")  # works only through masquerade
    # and the other way round: another machine reaches a published port on the host's address
    processes.start(open_box.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
    await engine.publish_ports(open_box.id, [PortRequest(80, host_port=8080)])
    await wait_http(outside, "http://198.51.100.1:8080/")
    routes = (await run_in(closed_box.netns, "ip", "route")).stdout
    assert "default" not in routes
    assert await wget(closed_box.netns, "http://198.51.100.2/", timeout=1) is None
    assert await wget(closed_box.netns, f"http://{UPLINK_ADDRESS}/", timeout=1) is None
    # the internal network still works inside itself
    peer = await engine.create_sandbox("c-peer", name="app-peer-1")
    peer_endpoint = await engine.connect(peer.id, internal.id)
    processes.start(peer.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
    assert answers(await query(closed_box.netns, "app-peer-1")) == [str(peer_endpoint.ipv4)]
    await wait_http(closed_box.netns, f"http://{peer_endpoint.ipv4}/")
    assert closed_endpoint.gateways == ()
    # only on an internal network: names outside are not resolved either (REFUSED at once)
    assert (await query(closed_box.netns, "example.org")).rcode() == dns.rcode.REFUSED


async def test_two_networks_are_isolated(engine, processes, www):
    first = await engine.create_network("one_default")
    second = await engine.create_network("two_default")
    a = await engine.create_sandbox("c-a", name="one-a-1")
    a_endpoint = await engine.connect(a.id, first.id)
    b = await engine.create_sandbox("c-b", name="two-b-1")
    b_endpoint = await engine.connect(b.id, second.id)
    both = await engine.create_sandbox("c-both", name="both-1")
    await engine.connect(both.id, first.id)
    await engine.connect(both.id, second.id)
    for sandbox in (a, b):
        processes.start(sandbox.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))

    await wait_http(both.netns, f"http://{a_endpoint.ipv4}/")
    await wait_http(both.netns, f"http://{b_endpoint.ipv4}/")
    assert await wget(a.netns, f"http://{b_endpoint.ipv4}/", timeout=1) is None
    assert await wget(b.netns, f"http://{a_endpoint.ipv4}/", timeout=1) is None
    # names do not leak across networks either
    assert answers(await query(a.netns, "two-b-1")) == []


async def test_connect_and_disconnect_while_running(engine, processes, www):
    first = await engine.create_network("one_default", internal=True)
    second = await engine.create_network("two_default")
    box = await engine.create_sandbox("c-box", name="box-1")
    processes.start(box.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
    eth0 = await engine.connect(box.id, first.id)
    eth1 = await engine.connect(box.id, second.id, mac_address="02:42:ac:11:00:99")
    assert (eth0.ifname, eth1.ifname) == ("eth0", "eth1")
    assert eth1.mac_address == "02:42:ac:11:00:99"
    # without mac_address, Docker's rule: 02:42 and the IPv4 address
    expected = "02:42:" + ":".join(f"{b:02x}" for b in eth0.ipv4.packed)
    assert eth0.mac_address == expected
    assert expected in (await run_in(box.netns, "ip", "link", "show", "eth0")).stdout
    links = (await run_in(box.netns, "ip", "-br", "link")).stdout
    assert "eth0" in links and "eth1" in links and "02:42:ac:11:00:99" in links
    assert (
        f"default via {second.subnets[0].gateway} dev eth1"
        in (await run_in(box.netns, "ip", "route")).stdout
    )

    await engine.disconnect(box.id, first.id)
    links = (await run_in(box.netns, "ip", "-br", "link")).stdout
    assert "eth0" not in links and "eth1" in links
    again = await engine.connect(box.id, first.id, ipv4_address=str(first.subnets[0].subnet[9]))
    assert again.ifname == "eth0"
    assert str(again.ipv4) == str(first.subnets[0].subnet[9])


async def test_bridge_name_mtu_and_user_subnet(engine, settings):
    network = await engine.create_network(
        "custom",
        ipam=[SubnetRequest(subnet="172.30.7.0/24", gateway="172.30.7.254")],
        options={
            "com.docker.network.bridge.name": "pcbr-custom",
            "com.docker.network.driver.mtu": "1400",
        },
    )
    box = await engine.create_sandbox("c-box", name="box-1")
    endpoint = await engine.connect(box.id, network.id)
    assert str(endpoint.ipv4) == "172.30.7.1"
    bridge = (await run_in(settings.host_netns, "ip", "-d", "link", "show", "pcbr-custom")).stdout
    assert "mtu 1400" in bridge
    assert "mtu 1400" in (await run_in(box.netns, "ip", "link", "show", "eth0")).stdout
    routes = (await run_in(box.netns, "ip", "route")).stdout
    assert "default via 172.30.7.254" in routes

    with pytest.raises(Conflict, match="used by another network"):
        await engine.create_network(
            "again", options={"com.docker.network.bridge.name": "pcbr-custom"}
        )
    (await run_in(settings.host_netns, "ip", "link", "add", "br-foreign", "type", "bridge"))
    with pytest.raises(Conflict, match="not created by this engine"):
        await engine.create_network(
            "foreign", options={"com.docker.network.bridge.name": "br-foreign"}
        )
    other = await engine.create_sandbox("c-other", name="other-1")
    with pytest.raises(InvalidNetworkConfig, match="MAC"):
        await engine.connect(other.id, network.id, mac_address="02:42:zz")
    with pytest.raises(InvalidNetworkConfig, match="MTU"):
        await engine.create_network("mtu", options={"com.docker.network.driver.mtu": "9x"})


async def test_ipv6_network(engine, settings, processes, www):
    network = await engine.create_network("v6", enable_ipv6=True)
    server = await engine.create_sandbox("c-server", name="v6-server-1")
    server_endpoint = await engine.connect(server.id, network.id, aliases=["server"])
    client = await engine.create_sandbox("c-client", name="v6-client-1")
    await engine.connect(client.id, network.id)
    assert server_endpoint.ipv6 is not None
    processes.start(server.netns, "busybox", "httpd", "-f", "-p", "[::]:80", "-h", str(www))
    await wait_http(client.netns, f"http://[{server_endpoint.ipv6}]/")
    assert answers(await query(client.netns, "server", "AAAA")) == [str(server_endpoint.ipv6)]
    assert "default via" in (await run_in(client.netns, "ip", "-6", "route")).stdout
    # published on all addresses: reachable on the host's IPv6 address too (ip6 DNAT)
    await engine.publish_ports(server.id, [PortRequest(80, host_port=8080)])
    await wait_http(settings.host_netns, f"http://[{UPLINK_ADDRESS6}]:8080/")
    await wait_http(settings.host_netns, f"http://{UPLINK_ADDRESS}:8080/")


async def test_bridge_port_limit_is_a_clear_error(engine, monkeypatch):
    monkeypatch.setattr(netlink, "MAX_BRIDGE_PORTS", 2)
    network = await engine.create_network("small")
    for index in range(2):
        box = await engine.create_sandbox(f"c-{index}", name=f"box-{index}")
        await engine.connect(box.id, network.id)
    extra = await engine.create_sandbox("c-extra", name="box-extra")
    with pytest.raises(BridgeFull) as info:
        await engine.connect(extra.id, network.id)
    assert "another network" in str(info.value) and "small" in str(info.value)


@pytest.mark.parametrize("docker_user_chain", [False, True])
async def test_forwarding_works_when_docker_set_forward_policy_drop(
    engine, settings, processes, www, docker_user_chain
):
    """Docker sets iptables FORWARD policy DROP with br_netfilter loaded; we still forward."""
    host = settings.host_netns
    chain = "DOCKER-USER" if docker_user_chain else "FORWARD"
    commands = [["iptables", "-P", "FORWARD", "DROP"]]
    if docker_user_chain:  # what dockerd sets up
        commands += [
            ["iptables", "-N", "DOCKER-USER"],
            ["iptables", "-A", "FORWARD", "-j", "DOCKER-USER"],
        ]
    for command in commands:
        assert (await run_in(host, *command)).returncode == 0
    network = await engine.create_network("app_default")
    a = await engine.create_sandbox("c-a", name="a-1")
    await engine.connect(a.id, network.id)
    b = await engine.create_sandbox("c-b", name="b-1")
    b_endpoint = await engine.connect(b.id, network.id)
    processes.start(b.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
    await wait_http(a.netns, f"http://{b_endpoint.ipv4}/")
    assert "pycompose" in (await run_in(host, "iptables", "-S", chain)).stdout
    assert network.iptables_chain == chain

    # the rules are what makes it work: without them iptables drops even same-bridge traffic
    await coexist.disallow_bridge(network.bridge, chain, host)
    assert await wget(a.netns, f"http://{b_endpoint.ipv4}/", timeout=1) is None
    await coexist.allow_bridge(network.bridge, host)
    await wait_http(a.netns, f"http://{b_endpoint.ipv4}/")

    await engine.remove_sandbox(a.id)
    await engine.remove_sandbox(b.id)
    await engine.remove_network(network.id)
    assert "pycompose" not in (await run_in(host, "iptables", "-S")).stdout


async def test_teardown_leaves_nothing_behind(engine, settings, run_dir):
    host = settings.host_netns
    network = await engine.create_network("app_default")
    internal = await engine.create_network("app_internal", internal=True)
    for index in range(2):
        box = await engine.create_sandbox(f"c-{index}", name=f"box-{index}")
        await engine.connect(box.id, network.id)
        await engine.connect(box.id, internal.id)
    await engine.publish_ports("c-0", [PortRequest(80, host_port=8080)])
    assert "pcbr-" in (await run_in(host, "ip", "-br", "link")).stdout

    await engine.teardown()
    links = (await run_in(host, "ip", "-br", "link")).stdout
    assert "pcbr-" not in links and "pcv" not in links
    assert (await run_in(host, "nft", "list", "ruleset")).stdout.strip() == ""
    assert list((run_dir / "netns").iterdir()) == []
    assert not any(
        str(run_dir) in line
        for line in Path("/proc/mounts").read_text().splitlines()
        if "netns" in line
    )
    # and nothing of this test ever appeared on the real host (other engines may run there)
    real_links = sh("ip", "-br", "link").stdout
    assert network.bridge not in real_links and internal.bridge not in real_links


async def test_removing_a_network_in_use_is_refused(engine):
    network = await engine.create_network("busy")
    box = await engine.create_sandbox("c-box", name="box-1")
    await engine.connect(box.id, network.id)
    with pytest.raises(Exception, match="active endpoints"):
        await engine.remove_network(network.id)


async def test_subnets_avoid_routes_on_the_host(engine, settings):
    host = settings.host_netns
    assert (
        await run_in(host, "ip", "route", "add", "10.208.0.0/23", "dev", "uplink")
    ).returncode == 0
    network = await engine.create_network("app_default")
    assert str(network.subnets[0].subnet) == "10.208.4.0/22"
    assert ipaddress.ip_network("10.208.4.0/22") == network.subnets[0].subnet


async def test_a_restarted_engine_adopts_its_objects_and_removes_orphans(settings, processes, www):
    from engine.network.manager import open_network_engine

    host = settings.host_netns
    async with open_network_engine(settings) as first:
        try:
            network = await first.create_network("app_default")
            web = await first.create_sandbox("c-web", name="app-web-1")
            web_endpoint = await first.connect(web.id, network.id, aliases=["web"])
            client = await first.create_sandbox("c-client", name="app-client-1")
            await first.connect(client.id, network.id)
            await first.publish_ports(web.id, [PortRequest(80, host_port=8080)])
            state = first.export_state()
        except BaseException:
            await first.teardown()
            raise
    # the daemon is gone: its resolvers stopped, the kernel objects stay
    assert "pcbr-" in (await run_in(host, "ip", "-br", "link")).stdout
    assert (
        await run_in(host, "ip", "link", "add", "pcbr-orphan", "type", "bridge")
    ).returncode == 0
    assert (await run_in(host, "ip", "link", "add", "br-user", "type", "bridge")).returncode == 0

    async with open_network_engine(settings) as second:
        try:
            await second.restore_state(state)
            assert await second.remove_orphans() == ["pcbr-orphan"]
            links = (await run_in(host, "ip", "-br", "link")).stdout
            assert "br-user" in links and "pcbr-orphan" not in links
            processes.start(web.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))
            await wait_http(host, "http://127.0.0.1:8080/")
            assert answers(await query(client.netns, "web")) == [str(web_endpoint.ipv4)]
            other = await second.create_sandbox("c-other", name="app-other-1")
            other_endpoint = await second.connect(other.id, network.id)
            assert other_endpoint.ipv4 not in (web_endpoint.ipv4, None)
            assert str(other_endpoint.ipv4) != str(web_endpoint.ipv4)
        finally:
            await second.teardown()
    assert "pcbr-" not in (await run_in(host, "ip", "-br", "link")).stdout


async def test_concurrent_connects_get_distinct_addresses_and_names(engine):
    network = await engine.create_network("busy")
    sandboxes = [await engine.create_sandbox(f"c-{i}", name=f"box-{i}") for i in range(12)]
    endpoints = {}

    async def attach(sandbox_id: str) -> None:
        endpoints[sandbox_id] = await engine.connect(sandbox_id, network.id, aliases=["pool"])

    async with anyio.create_task_group() as tg:
        for sandbox in sandboxes:
            tg.start_soon(attach, sandbox.id)
    addresses = {str(e.ipv4) for e in endpoints.values()}
    assert len(addresses) == 12
    assert len({e.host_ifname for e in endpoints.values()}) == 12
    assert answers(await query(sandboxes[0].netns, "pool")) == sorted(addresses)


async def test_network_mode_none_sandbox_has_only_loopback(engine):
    sandbox = await engine.create_sandbox("c-none", name="offline-1", embedded_dns=False)
    links = (await run_in(sandbox.netns, "ip", "-br", "link")).stdout.split()
    assert links[0] == "lo" and "eth0" not in links
    listening = (await run_in(sandbox.netns, "busybox", "netstat", "-lun")).stdout
    assert "127.0.0.11" not in listening
    files = engine.etc_files(sandbox.id, dns=["192.0.2.53"])
    assert files["/etc/resolv.conf"].startswith("nameserver 192.0.2.53\n")


async def test_a_dns_server_in_the_container_can_bind_port_53(engine):
    """The resolver listens on random ports; 127.0.0.11:53 reaches it through a DNAT rule."""
    network = await engine.create_network("dns_default")
    box = await engine.create_sandbox("c-dns", name="app-dns-1")
    endpoint = await engine.connect(box.id, network.id, aliases=["dns"])
    own_udp = netlink.socket_in_netns(box.netns, socket.AF_INET, socket.SOCK_DGRAM)
    own_tcp = netlink.socket_in_netns(box.netns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        own_udp.bind(("0.0.0.0", 53))
        own_tcp.bind(("0.0.0.0", 53))
        own_tcp.listen(1)
        assert answers(await query(box.netns, "dns")) == [str(endpoint.ipv4)]
        assert answers(await query_tcp(box.netns, "dns")) == [str(endpoint.ipv4)]
    finally:
        own_udp.close()
        own_tcp.close()


async def test_a_tcp_port_taken_on_ipv6_by_the_host_is_refused(engine, settings):
    network = await engine.create_network("app_default")
    sandbox = await engine.create_sandbox("c-taken", name="app-taken-1")
    await engine.connect(sandbox.id, network.id)
    squatter = netlink.socket_in_netns(settings.host_netns, socket.AF_INET6, socket.SOCK_STREAM)
    try:
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::", 18080))
        squatter.listen(1)
        with pytest.raises(AddressInUse, match=r"\[::\]:18080/tcp"):
            await engine.publish_ports(sandbox.id, [PortRequest(80, host_port=18080)])
        assert sandbox.ports == []
        # on an IPv4 address only, the IPv6 port is not needed
        await engine.publish_ports(
            sandbox.id, [PortRequest(80, host_ip="127.0.0.1", host_port=18080)]
        )
    finally:
        squatter.close()
