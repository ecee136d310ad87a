"""Port takeover (start-first updates): ports and service names move in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.network.errors import InvalidNetworkConfig
from engine.network.ports import PortRequest
from engine.network.takeover import take_over
from tests.engine.network.test_bridge_networks import query, wait_http, wget

pytestmark = [pytest.mark.root, pytest.mark.anyio]


def _root(run_dir: Path, text: str) -> Path:
    root = run_dir / text
    root.mkdir()
    (root / "index.html").write_text(f"{text}\n")
    return root


async def test_the_new_container_takes_over_ports_and_names(engine, settings, processes, run_dir):
    network = await engine.create_network("app_default")
    old = await engine.create_sandbox("c-old", name="app-web-1")
    new = await engine.create_sandbox("c-new", name="app-web-1-next")
    client = await engine.create_sandbox("c-client", name="app-client-1")
    old_endpoint = await engine.connect(old.id, network.id, aliases=["web"])
    new_endpoint = await engine.connect(new.id, network.id, aliases=["web"])
    await engine.connect(client.id, network.id)
    processes.start(
        old.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(_root(run_dir, "old"))
    )
    processes.start(
        new.netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(_root(run_dir, "new"))
    )
    await engine.publish_ports(old.id, [PortRequest(80, host_ip="127.0.0.1", host_port=8092)])
    host = settings.host_netns
    await wait_http(host, "http://127.0.0.1:8092/")
    assert await wget(host, "http://127.0.0.1:8092/") == "old\n"
    answer = await query(client.netns, "web")
    assert len(answer.answer[0]) == 2  # both serve the service's name side by side

    # a sandbox that publishes ports already takes nothing over
    with pytest.raises(InvalidNetworkConfig):
        await take_over(engine, new.id, old.id)

    moved = await take_over(engine, old.id, new.id)
    assert [(b.host_port, b.container_port) for b in moved] == [(8092, 80)]
    assert await wget(host, "http://127.0.0.1:8092/") == "new\n"
    addresses = {r.address for r in (await query(client.netns, "web")).answer[0]}
    assert addresses == {str(new_endpoint.ipv4)}
    # the old one keeps its own name, and no port
    old_name = {r.address for r in (await query(client.netns, "app-web-1")).answer[0]}
    assert old_name == {str(old_endpoint.ipv4)}
    assert not engine.sandbox(old.id).ports
    await engine.unpublish_ports(old.id)  # stopping the old one leaves the port alone
    assert await wget(host, "http://127.0.0.1:8092/") == "new\n"
    await engine.unpublish_ports(new.id)
    assert await wget(host, "http://127.0.0.1:8092/", timeout=1) is None
