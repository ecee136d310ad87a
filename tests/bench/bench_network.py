"""Network benchmarks (run by hand as root): ``.venv/bin/python tests/bench/bench_network.py``.

Everything runs in a network namespace this script creates and removes (it plays the host),
with traffic only to 127.0.0.1 or to addresses inside namespaces made here.

1. endpoint set-up: NetworkEngine.connect (veth, addresses, routes, DNS record), median and
   spread, next to the same veth/address/route set-up done with ``ip`` commands (reference).
2. throughput of a 1 MiB HTTP download loop through a published port on 127.0.0.1, next to
   the same loop against the container's own address (reference). Target: >= 95 %.
3. DNS from inside a container: queries/s and median latency for a service name and for a
   forwarded name (to a fake upstream on the host's 127.0.0.1), next to the fake upstream
   asked directly (reference).
4. 1100 containers across networks: the bridge's 1023-port limit is met with BridgeFull.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.abc
import dns.message
import dns.query
import dns.rrset

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.network import netlink
from engine.network.errors import BridgeFull
from engine.network.ipam import SubnetRequest
from engine.network.manager import NetworkEngine, NetworkSettings, open_network_engine
from engine.network.ports import PortRequest

MiB = 1 << 20


def spread(samples: list[float]) -> str:
    ordered = sorted(samples)
    p10 = ordered[len(ordered) // 10]
    p90 = ordered[(len(ordered) * 9) // 10]
    return (
        f"median {statistics.median(ordered):.2f}  p10 {p10:.2f}  p90 {p90:.2f}  (n={len(ordered)})"
    )


def in_ns(netns: str, *args: str) -> None:
    subprocess.run(["nsenter", f"--net={netns}", *args], check=True, capture_output=True)


# --- 1. endpoint set-up ------------------------------------------------------------------------


async def bench_endpoint_setup(engine: NetworkEngine, run_dir: Path, count: int) -> None:
    network = await engine.create_network("bench_setup")
    engine_ms: list[float] = []
    cpu_ms: list[float] = []  # CPU time of this process (user + kernel), less load-dependent
    for index in range(count):
        sandbox = await engine.create_sandbox(f"setup-{index}", name=f"setup-{index}")
        start, cpu_start = time.perf_counter(), time.process_time()
        await engine.connect(sandbox.id, network.id, aliases=["setup"])
        engine_ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu_start) * 1000)

    # reference: the same work with iproute2 commands (what a shell script would do)
    host = engine.settings.host_netns
    assert host is not None
    gateway = network.subnets[0].gateway
    reference_ms: list[float] = []
    for index in range(count):
        netns = str(run_dir / f"ref-{index}.ns")
        await anyio.to_thread.run_sync(netlink.create_netns, netns)
        address = network.subnets[0].subnet[200 + index % 50]
        start = time.perf_counter()
        in_ns(
            host,
            "ip",
            "link",
            "add",
            f"ref{index}",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            netns,
        )
        in_ns(host, "ip", "link", "set", f"ref{index}", "master", network.bridge, "up")
        in_ns(netns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        in_ns(netns, "ip", "link", "set", "eth0", "up")
        in_ns(netns, "ip", "route", "add", "default", "via", str(gateway))
        reference_ms.append((time.perf_counter() - start) * 1000)
        in_ns(host, "ip", "link", "del", f"ref{index}")
        await anyio.to_thread.run_sync(netlink.remove_netns, netns)

    print("1. endpoint set-up (ms)")
    print(f"   NetworkEngine.connect      {spread(engine_ms)}   target < 10 ms")
    print(f"   ... its CPU time           {spread(cpu_ms)}")
    print(f"   reference: ip commands     {spread(reference_ms)}")
    for index in range(count):
        await engine.remove_sandbox(f"setup-{index}")
    await engine.remove_network(network.id)


# --- 2. throughput -----------------------------------------------------------------------------


def http_get(netns: str, host: str, port: int) -> int:
    sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.connect((host, port))
        sock.sendall(f"GET /blob HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        received = 0
        buffer = bytearray(256 * 1024)
        while True:
            n = sock.recv_into(buffer)
            if n == 0:
                return received
            received += n
    finally:
        sock.close()


def download_rate(netns: str, host: str, port: int, downloads: int) -> float:
    """MiB/s over ``downloads`` sequential 1 MiB downloads."""
    start = time.perf_counter()
    for _ in range(downloads):
        if http_get(netns, host, port) < MiB:
            raise RuntimeError(f"short download from {host}:{port}")
    return downloads / (time.perf_counter() - start)


async def bench_throughput(engine: NetworkEngine, run_dir: Path, rounds: int) -> None:
    network = await engine.create_network("bench_http")
    sandbox = await engine.create_sandbox("http-server", name="http-server")
    endpoint = await engine.connect(sandbox.id, network.id)
    www = run_dir / "www"
    www.mkdir()
    (www / "blob").write_bytes(b"x" * MiB)
    server = subprocess.Popen(
        ["nsenter", f"--net={sandbox.netns}", "busybox", "httpd", "-f", "-p", "80", "-h", str(www)]
    )
    host = engine.settings.host_netns
    assert host is not None
    try:
        (binding,) = await engine.publish_ports(sandbox.id, [PortRequest(80)])
        await anyio.sleep(0.3)
        published: list[float] = []
        direct: list[float] = []
        ratios: list[float] = []
        for _ in range(rounds):  # paired rounds: both paths see the same machine load
            direct.append(
                await anyio.to_thread.run_sync(download_rate, host, str(endpoint.ipv4), 80, 20)
            )
            published.append(
                await anyio.to_thread.run_sync(
                    download_rate, host, "127.0.0.1", binding.host_port, 20
                )
            )
            ratios.append(published[-1] / direct[-1] * 100)
        print("2. 1 MiB HTTP downloads (MiB/s, 20 per round, rounds paired)")
        print(f"   published port 127.0.0.1:{binding.host_port:<6} {spread(published)}")
        print(f"   reference: direct {endpoint.ipv4}:80  {spread(direct)}")
        print(f"   published / direct per round (%)  {spread(ratios)}   target >= 95 %")
    finally:
        server.kill()
        server.wait()
    await engine.remove_sandbox(sandbox.id)
    await engine.remove_network(network.id)


# --- 3. DNS ------------------------------------------------------------------------------------


def query_loop(netns: str, server: str, name: str, count: int) -> list[float]:
    sock = netlink.socket_in_netns(netns, socket.AF_INET, socket.SOCK_DGRAM)
    latencies: list[float] = []
    try:
        for _ in range(count):
            message = dns.message.make_query(name, "A")
            start = time.perf_counter()
            reply = dns.query.udp(message, server, timeout=3, sock=sock)
            latencies.append((time.perf_counter() - start) * 1000)
            if not reply.answer:
                raise RuntimeError(f"no answer for {name}")
    finally:
        sock.close()
    return latencies


async def fake_upstream(sock: socket.socket) -> None:
    async with await anyio.abc.UDPSocket.from_socket(sock) as udp:
        async for wire, client in udp:
            request = dns.message.from_wire(wire)
            reply = dns.message.make_response(request)
            reply.answer.append(
                dns.rrset.from_text(request.question[0].name, 60, "IN", "A", "192.0.2.77")
            )
            await udp.sendto(reply.to_wire(), *client)


async def bench_dns(engine: NetworkEngine, count: int) -> None:
    host = engine.settings.host_netns
    upstream = netlink.socket_in_netns(host, socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 53))
    upstream.setblocking(False)
    network = await engine.create_network("bench_dns")
    for index in range(3):
        replica = await engine.create_sandbox(f"dns-web-{index}", name=f"app-web-{index}")
        await engine.connect(replica.id, network.id, aliases=["web"])
    client = await engine.create_sandbox("dns-client", name="app-client-1")
    await engine.connect(client.id, network.id)
    async with anyio.create_task_group() as tg:
        tg.start_soon(fake_upstream, upstream)
        results = {}
        for label, netns, server, name in (
            ("service name 'web' (3 replicas)", client.netns, "127.0.0.11", "web"),
            ("forwarded name", client.netns, "127.0.0.11", "example.org"),
            ("reference: fake upstream direct", host, "127.0.0.1", "example.org"),
        ):
            latencies = await anyio.to_thread.run_sync(query_loop, netns, server, name, count)
            results[label] = latencies
        tg.cancel_scope.cancel()
    print(f"3. DNS from inside a container ({count} sequential queries; latency in ms)")
    for label, latencies in results.items():
        qps = len(latencies) / (sum(latencies) / 1000)
        print(f"   {label:34} {qps:8.0f} q/s   {spread(latencies)}")
    for index in range(3):
        await engine.remove_sandbox(f"dns-web-{index}")
    await engine.remove_sandbox(client.id)
    await engine.remove_network(network.id)


# --- 4. many containers --------------------------------------------------------------------------


async def bench_many(engine: NetworkEngine, total: int) -> None:
    def big(index: int) -> list[SubnetRequest]:  # a /24 holds 253: give each network a /21
        return [SubnetRequest(subnet=f"10.{100 + index}.0.0/21")]

    network = await engine.create_network("bench_many_0", ipam=big(0))
    networks = [network]
    placed = 0
    message = ""
    start = time.perf_counter()
    connect_ms: list[float] = []
    for index in range(total):
        sandbox = await engine.create_sandbox(f"many-{index}", name=f"many-{index}")
        t0 = time.perf_counter()
        try:
            await engine.connect(sandbox.id, network.id)
        except BridgeFull as exc:
            message = str(exc)
            network = await engine.create_network(
                f"bench_many_{len(networks)}", ipam=big(len(networks))
            )
            networks.append(network)
            await engine.connect(sandbox.id, network.id)
        connect_ms.append((time.perf_counter() - t0) * 1000)
        placed += 1
    elapsed = time.perf_counter() - start
    print(f"4. {placed} containers on {len(networks)} networks in {elapsed:.1f} s")
    print(f"   connect at scale (ms)      {spread(connect_ms)}")
    print(f"   limit met with BridgeFull: {message or 'NOT MET'}")
    start = time.perf_counter()
    for index in range(total):
        await engine.remove_sandbox(f"many-{index}")
    for created in networks:
        await engine.remove_network(created.id)
    print(f"   teardown of all of it: {time.perf_counter() - start:.1f} s")


async def main(arguments: argparse.Namespace) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="pycompose-netbench-"))
    host = str(run_dir / "host.ns")
    await anyio.to_thread.run_sync(netlink.create_netns, host)
    resolv = run_dir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    settings = NetworkSettings(run_dir=run_dir, host_netns=host, resolv_conf=resolv)
    try:
        async with open_network_engine(settings) as engine:
            try:
                sections: list[Callable[[], object]] = [
                    lambda: bench_endpoint_setup(engine, run_dir, arguments.endpoints),
                    lambda: bench_throughput(engine, run_dir, arguments.rounds),
                    lambda: bench_dns(engine, arguments.queries),
                ]
                if not arguments.skip_many:
                    sections.append(lambda: bench_many(engine, arguments.containers))
                for section in sections:
                    await section()  # type: ignore[misc]
            finally:
                await engine.teardown()
    finally:
        for path in (run_dir / "netns").glob("*") if (run_dir / "netns").exists() else []:
            await anyio.to_thread.run_sync(netlink.remove_netns, str(path))
        await anyio.to_thread.run_sync(netlink.remove_netns, host)
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--containers", type=int, default=1100)
    parser.add_argument("--skip-many", action="store_true")
    anyio.run(main, parser.parse_args())
