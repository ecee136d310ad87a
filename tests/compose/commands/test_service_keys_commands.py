"""Service keys that change what the commands ask of the engine: ``platform`` is pulled.

The commands run against the real route table on the fake engine of command_harness; the
engine's own platform choice is tested with real indexes in tests/engine/images.
"""

from __future__ import annotations

import pytest
from command_harness import Harness

pytestmark = pytest.mark.anyio

ARM = {
    "compose.yaml": """
services:
  arm:
    image: cache:arm
    platform: linux/arm64
    command: [sleep, "1000"]
  native:
    image: cache:native
    command: [sleep, "1000"]
"""
}


async def test_up_and_pull_ask_for_the_services_platform(harness: Harness) -> None:
    assert await harness.run("up", "-d", files=ARM) == 0
    pulls = [name for call, name in harness.backend.calls if call == "pull"]
    assert "cache:arm linux/arm64" in pulls
    assert "cache:native" in pulls
    harness.backend.calls.clear()
    assert await harness.run("pull", files=ARM) == 0
    pulls = [name for call, name in harness.backend.calls if call == "pull"]
    assert sorted(pulls) == ["cache:arm linux/arm64", "cache:native"]
