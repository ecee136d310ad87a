"""The example stack's Kubernetes manifests, played on pycompose's engine: the same checks
that pass after ``pycompose up`` (the page served, names resolved, health-gated order)
pass after ``kube generate`` then ``kube play``; ``kube down`` leaves nothing behind."""

from __future__ import annotations

import shutil
import socket
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_helpers import EngineAPI, wait_for
from tests.e2e.conftest import ROOT, Engine

pytestmark = [pytest.mark.root]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exec_output(api: EngineAPI, container: str, *command: str) -> tuple[int, str]:
    """Run ``command`` in ``container`` through the engine's API; its exit code and output."""
    created = api.client.post(
        f"/containers/{container}/exec",
        json={"Cmd": list(command), "AttachStdout": True, "AttachStderr": True, "Tty": True},
    )
    created.raise_for_status()
    exec_id = created.json()["Id"]
    started = api.client.post(f"/exec/{exec_id}/start", json={"Detach": False, "Tty": True})
    started.raise_for_status()
    code = api.client.get(f"/exec/{exec_id}/json").json()["ExitCode"]
    return int(code), started.text


def started_at(api: EngineAPI, container: str) -> datetime:
    """``State.StartedAt`` (RFC 3339 with nanoseconds) to the microsecond."""
    whole, _, fraction = api.state(container)["StartedAt"].rstrip("Z").partition(".")
    return datetime.fromisoformat(whole) + timedelta(microseconds=int((fraction + "000000")[:6]))


@pytest.mark.parametrize("engine", ["pycompose"], indirect=True)
def test_generated_manifests_play_like_the_stack(engine: Engine, tmp_path: Path) -> None:
    example = tmp_path / "webapp"
    shutil.copytree(ROOT / "examples" / "webapp", example)
    port = free_port()
    project = f"kube{port}"
    generated = engine.run(
        "kube",
        "generate",
        "--service-type",
        "LoadBalancer",
        "-o",
        "k8s",
        cwd=example,
        env={"WEB_PORT": str(port)},
    )
    manifests = sorted(str(p) for p in (example / "k8s").iterdir())
    assert len(manifests) == 14, generated.stderr
    api = EngineAPI(engine.socket)
    try:
        played = engine.run(
            "-p", project, "kube", "play", *manifests, cwd=tmp_path, check=False, timeout=300
        )
        assert played.returncode == 0, played.stderr
        assert (
            "ServiceAccount pycompose-wait: nothing to run on one machine, skipped" in played.stderr
        )
        page = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/"),
            lambda text: text is not None and "pycompose demo" in text,
            "the page on the LoadBalancer port",
        )
        assert page is not None
        # names resolve as after `up`: the web container reaches the api by its Service name
        code, output = exec_output(
            api, f"{project}-web-1", "wget", "-qO-", "http://api:5000/cgi-bin/health"
        )
        assert code == 0 and "ok" in output, output
        # health-gated order: db, then api (after db is healthy), then web
        db, api_started, web = (started_at(api, f"{project}-{s}-1") for s in ("db", "api", "web"))
        assert db < api_started < web
        # the volume claim is a named volume of the played project
        assert f"volume {project}_notes" in api.project_resources(project)
    finally:
        down = engine.run(
            "-p", project, "kube", "down", "-v", *manifests, cwd=tmp_path, check=False
        )
        leftovers = api.project_resources(project)
        api.close()
    assert down.returncode == 0, down.stderr
    assert leftovers == []


def _get(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return None
