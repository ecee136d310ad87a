"""Networking.save: concurrent saves share writes, and each returns with its change on disk.

A unit test of the write scheduling: the NetworkEngine is a stand-in whose state is a counter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.daemon.networking import Networking

pytestmark = pytest.mark.anyio


class CountingEngine:
    def __init__(self) -> None:
        self.changes = 0

    def export_state(self) -> dict[str, Any]:
        return {"version": 1, "changes": self.changes}


async def test_concurrent_saves_share_writes_and_each_change_is_on_disk(tmp_path: Path) -> None:
    engine = CountingEngine()
    networking = Networking(engine, tmp_path / "network-state.json")  # type: ignore[arg-type]
    writes: list[int] = []
    write = networking._write_state

    def counting_write(text: str) -> None:
        write(text)
        writes.append(json.loads(text)["changes"])

    networking._write_state = counting_write  # type: ignore[method-assign]

    async def change_and_save() -> None:
        engine.changes += 1
        mine = engine.changes
        await networking.save()
        on_disk = json.loads((tmp_path / "network-state.json").read_text())["changes"]
        assert on_disk >= mine  # the change this caller made is saved when save returns

    async with anyio.create_task_group() as task_group:
        for _ in range(50):
            task_group.start_soon(change_and_save)
    assert writes[-1] == 50
    assert len(writes) < 10  # not one write per change
    await change_and_save()  # a later change is written again
    assert writes[-1] == 51
