"""Sandboxes taken apart at once (a ``down``): in parallel, and without handing out an
address whose veth still exists.

The kernel work of a removal (deleting veths, unmounting the namespace) runs outside the
network engine's lock; these tests watch it through a wrapper around the real
``netlink.delete_link``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anyio
import pytest

from engine.network import netlink

pytestmark = [pytest.mark.root, pytest.mark.anyio]


async def test_sandboxes_are_taken_apart_in_parallel(engine, settings, monkeypatch):
    network = await engine.create_network("many")
    sandboxes = [await engine.create_sandbox(f"c-{i}", name=f"box-{i}") for i in range(6)]
    links = []
    for sandbox in sandboxes:
        links.append((await engine.connect(sandbox.id, network.id)).host_ifname)
    real_delete = netlink.delete_link
    guard = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    def slow_delete(name: str, netns: str | None = None) -> bool:
        with guard:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        try:
            time.sleep(0.2)  # a kernel that takes its time
            return real_delete(name, netns)
        finally:
            with guard:
                in_flight[0] -= 1

    monkeypatch.setattr(netlink, "delete_link", slow_delete)
    async with anyio.create_task_group() as tg:
        for sandbox in sandboxes:
            tg.start_soon(engine.remove_sandbox, sandbox.id)
    assert in_flight[1] >= 2, "the removals waited for each other"
    assert engine.sandboxes == {} and network.endpoints == {}
    for name in links:
        assert netlink.link_index(name, settings.host_netns) is None
    assert all(not Path(sandbox.netns).exists() for sandbox in sandboxes)


async def test_an_address_stays_taken_until_its_veth_is_gone(engine, settings, monkeypatch):
    network = await engine.create_network("reuse")
    leaving = await engine.create_sandbox("c-leaving", name="leaving")
    old = await engine.connect(leaving.id, network.id)
    real_delete = netlink.delete_link
    deleting = threading.Event()
    release = threading.Event()

    def held_delete(name: str, netns: str | None = None) -> bool:
        if name == old.host_ifname:
            deleting.set()
            release.wait(10)
        return real_delete(name, netns)

    monkeypatch.setattr(netlink, "delete_link", held_delete)
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.remove_sandbox, leaving.id)
        assert await anyio.to_thread.run_sync(deleting.wait, 10)
        # the old veth still carries old.ipv4 in a namespace that answers ARP for it
        arriving = await engine.create_sandbox("c-arriving", name="arriving")
        new = await engine.connect(arriving.id, network.id)
        release.set()
    assert new.ipv4 != old.ipv4
    assert netlink.link_index(old.host_ifname, settings.host_netns) is None
    # once the veth is gone, its address is free again
    later = await engine.create_sandbox("c-later", name="later")
    assert (await engine.connect(later.id, network.id)).ipv4 == old.ipv4
