"""`pycompose build` over the fake engine's POST /build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from command_harness import Harness

pytestmark = pytest.mark.anyio


def project(directory: Path) -> dict[str, str]:
    context = directory / "src"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text("FROM scratch\n")
    return {
        "compose.yaml": f"""
services:
  app:
    build:
      context: {context}
      args: {{FROM_FILE: "1"}}
  db:
    image: db:1
"""
    }


async def test_build_builds_the_services_with_a_build_section(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_ENV", "e")
    files = project(tmp_path)
    code = await harness.run(
        "build", "--no-cache", "--build-arg", "X=1", "--build-arg", "FROM_ENV", files=files
    )
    assert code == 0
    [query] = harness.backend.builds
    assert query["t"] == ["demo-app"] and query["nocache"] == ["1"]
    assert json.loads(query["buildargs"][0]) == {"FROM_FILE": "1", "X": "1", "FROM_ENV": "e"}
    assert "Building app (demo-app)" in harness.err.getvalue()
    assert "Successfully tagged demo-app" in harness.out.getvalue()
    assert await harness.run("build", "-q", files=files) == 0
    assert harness.out.getvalue() == ""
    assert await harness.run("build", "db", files=files) == 0
    assert "no service to build" in harness.err.getvalue()
