"""Networking.save: concurrent saves share writes, each returns with its change on disk, and
the file is always ``NetworkEngine.export_state()`` (a sandbox's text is reused only until a
save names it as changed).

A unit test of the write scheduling: the NetworkEngine is a stand-in holding real records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.daemon.networking import Networking
from engine.network.records import (
    STATE_VERSION,
    Network,
    Sandbox,
    network_to_dict,
    sandbox_to_dict,
)

pytestmark = pytest.mark.anyio


class RecordsEngine:
    def __init__(self) -> None:
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}

    def export_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "networks": [network_to_dict(n) for n in self.networks.values()],
            "sandboxes": [sandbox_to_dict(s) for s in self.sandboxes.values()],
        }


def networking_on(tmp_path: Path) -> tuple[RecordsEngine, Networking, list[dict[str, Any]]]:
    engine = RecordsEngine()
    networking = Networking(engine, tmp_path / "network-state.json")  # type: ignore[arg-type]
    writes: list[dict[str, Any]] = []
    write = networking._write_state

    def counting_write(text: str) -> None:
        write(text)
        writes.append(json.loads(text))

    networking._write_state = counting_write  # type: ignore[method-assign]
    return engine, networking, writes


def on_disk(tmp_path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((tmp_path / "network-state.json").read_text())
    return state


async def test_concurrent_saves_share_writes_and_each_change_is_on_disk(tmp_path: Path) -> None:
    engine, networking, writes = networking_on(tmp_path)

    async def add_and_save(number: int) -> None:
        sandbox_id = f"c{number:03d}"
        engine.sandboxes[sandbox_id] = Sandbox(sandbox_id, f"/run/x/{sandbox_id}", "", "", ())
        await networking.save(sandbox_id)
        # the change this caller made is on disk when save returns
        assert sandbox_id in {s["id"] for s in on_disk(tmp_path)["sandboxes"]}

    async with anyio.create_task_group() as task_group:
        for number in range(50):
            task_group.start_soon(add_and_save, number)
    assert len(writes) < 10  # not one write per change
    assert on_disk(tmp_path) == engine.export_state()


async def test_a_changed_sandbox_is_written_anew_and_a_removed_one_goes(tmp_path: Path) -> None:
    engine, networking, writes = networking_on(tmp_path)
    for name in ("a", "b"):
        engine.sandboxes[name] = Sandbox(name, f"/run/x/{name}", name, name, ("192.0.2.53",))
        await networking.save(name)
    engine.sandboxes["a"].embedded_dns = False
    await networking.save("a")
    assert on_disk(tmp_path) == engine.export_state()
    assert on_disk(tmp_path)["sandboxes"][0]["embedded_dns"] is False
    del engine.sandboxes["b"]
    await networking.save("b")
    assert on_disk(tmp_path) == engine.export_state()
    assert len(writes) == 4
