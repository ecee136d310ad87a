"""``python -m engine.build``: docker build's output and exit status."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import _unmount_below, needs_root

pytestmark = [pytest.mark.root, needs_root]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "engine.build", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_build_prints_steps_and_errors(tmp_path):
    data = tmp_path / "data"
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "x").write_text("x\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY x /x\nLABEL a=b\n")
    try:
        first = run("--data-root", str(data), "build", "-t", "cli/test", str(context))
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("Step 1/3 : FROM scratch\n")
        assert "Successfully tagged cli/test:latest\n" in first.stdout
        again = run("--data-root", str(data), "build", "-q", "-t", "cli/test", str(context))
        assert again.returncode == 0
        assert again.stdout.startswith("sha256:")
        assert again.stdout.strip()[7:19] in first.stdout
        (context / "Dockerfile").write_text("FROM scratch\nRUNN x\n")
        bad = run("--data-root", str(data), "build", str(context))
        assert bad.returncode == 1
        assert (
            bad.stderr
            == "Error: Dockerfile:2: unknown instruction: RUNN\n    hint: did you mean RUN?\n"
        )
        outside = tmp_path / "web.Dockerfile"
        outside.write_text("FROM scratch\nCOPY x /y\nBOGUS\n")
        named = run("--data-root", str(data), "build", "-f", str(outside), str(context))
        assert named.returncode == 1
        assert named.stderr.startswith("Error: web.Dockerfile:3: unknown instruction: BOGUS")
        pruned = run("--data-root", str(data), "prune")
        assert (pruned.returncode, pruned.stdout) == (0, "Build cache pruned\n")
    finally:
        _unmount_below(data)
