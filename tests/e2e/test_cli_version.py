"""`pycompose version` names the engine that answers, asked with the standard library only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Engine

# the CLI's code, then the heavy modules that were loaded: there must be none
PROBE = (
    "import sys\n"
    "from compose.cli import main\n"
    "status = main(['version'])\n"
    "heavy = ('httpx', 'pydantic', 'anyio', 'engine.api.models', 'engine.api.client')\n"
    "print('loaded:', *sorted(m for m in heavy if m in sys.modules))\n"
    "sys.exit(status)\n"
)


def test_version_names_the_engine_that_answers(engine: Engine, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        **engine.environment,
        # `version` asks DOCKER_HOST's engine first, as docker compose does
        "DOCKER_HOST": f"unix://{engine.socket}",
    }
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    version, engine_line, loaded = run.stdout.splitlines()
    assert version.startswith("pycompose version ")
    assert engine_line.startswith("engine: "), engine_line
    assert "not running" not in engine_line
    assert engine_line.endswith(f" at {engine.socket}")
    assert " (API 1." in engine_line
    assert loaded == "loaded:"
