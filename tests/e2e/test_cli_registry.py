"""`pycompose push` and `pycompose pull` against a real registry, checked through the engine.

The registry is the CNCF distribution registry (Debian package ``docker-registry``), started
for the session on 127.0.0.1 on a free port, with its storage in a temporary directory.
Engines reach 127.0.0.0/8 registries over plain HTTP, as Docker does.
"""

from __future__ import annotations

import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_helpers import EngineAPI, engine_api, pycompose_project, wait_for
from tests.e2e.conftest import IMAGE, Engine, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]

REGISTRY_BINARY = Path("/usr/bin/docker-registry")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of an anonymous registry, stopped at the end of the session."""
    if not REGISTRY_BINARY.exists():
        pytest.skip("docker-registry is not installed (scripts/install.sh)")
    directory = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        f"http:\n  addr: {address}\n  secret: e2e-secret\n"
    )
    log = open(directory / "registry.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"http://{address}/v2/"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the registry did not start (exit {process.poll()}):\n"
                    + (directory / "registry.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def api(engine: Engine) -> Iterator[EngineAPI]:
    with engine_api(engine) as client:
        yield client


@pytest.fixture
def project(engine: Engine, tmp_path: Path, api: EngineAPI) -> Iterator[Stack]:
    with pycompose_project(engine, tmp_path, api) as stack:
        yield stack


def registry_tags(registry: str, repository: str) -> list[str]:
    response = httpx.get(f"http://{registry}/v2/{repository}/tags/list", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return list(response.json().get("tags") or [])


def test_push_then_pull_brings_back_the_same_image(project: Stack, api: EngineAPI, registry: str):
    repository = f"e2e/{project.name}"
    reference = f"{registry}/{repository}:v1"
    app = project.directory / "app"
    app.mkdir()
    # a layer of its own, so that removing the image really removes what pull must fetch
    (app / "marker.txt").write_text(f"made for {project.name}\n")
    (app / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY marker.txt /marker.txt\n")
    project.write(
        textwrap.dedent(f"""
        services:
          app:
            build: ./app
            image: {reference}
            command: ["cat", "/marker.txt"]
    """)
    )
    try:
        project.pycompose("build")
        built = api.image(reference)
        assert built is not None
        assert registry_tags(registry, repository) == []

        project.pycompose("push")
        assert registry_tags(registry, repository) == ["v1"]

        api.remove_image(reference)
        assert api.image(reference) is None

        project.pycompose("pull")
        pulled = wait_for(lambda: api.image(reference), bool, f"{reference} in the engine")
        assert pulled is not None and pulled["Id"] == built["Id"]
        assert any(d.startswith(f"{registry}/{repository}@sha256:") for d in pulled["RepoDigests"])
        # the pulled image runs: its layers came back whole
        ran = project.pycompose("run", "--rm", "--no-deps", "app")
        assert ran.stdout == f"made for {project.name}\n"
    finally:
        api.remove_image(reference)


def test_pull_of_an_image_the_registry_lacks_fails_and_names_it(
    project: Stack, api: EngineAPI, registry: str
):
    reference = f"{registry}/e2e/absent-{project.name}:v1"
    project.write(
        textwrap.dedent(f"""
        services:
          present:
            image: {IMAGE}
          absent:
            image: {reference}
    """)
    )
    result = project.pycompose("pull", "absent", check=False)
    assert result.returncode == 1, result
    assert reference in result.stderr
    assert "Traceback" not in result.stderr
    assert api.image(reference) is None
    ignored = project.pycompose("pull", "--ignore-pull-failures", "absent", check=False)
    assert ignored.returncode == 0, ignored
    assert reference in ignored.stderr


def test_run_pull_always_and_quiet_pull(project: Stack, api: EngineAPI, registry: str):
    """`run --pull always` pulls even an image the engine has; `--quiet-pull` pulls without
    the per-layer progress lines a plain pull prints."""
    reference = f"{registry}/e2e/run-{project.name}:v1"
    app = project.directory / "app"
    app.mkdir()
    (app / "marker.txt").write_text(f"pulled for {project.name}\n")
    (app / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY marker.txt /marker.txt\n")
    project.write(
        textwrap.dedent(f"""
        services:
          app:
            build: ./app
            image: {reference}
            command: ["cat", "/marker.txt"]
    """)
    )
    layer_line = f" Image {reference}  Pulling "
    try:
        project.pycompose("build")
        project.pycompose("push")
        # from here on the service only names the image: a missing one is pulled, not built
        project.write(
            f"services:\n  app:\n    image: {reference}\n    command: [cat, /marker.txt]\n"
        )
        present = project.pycompose("run", "--rm", "app")
        assert "Pulled" not in present.stderr  # the image is there: no pull by default
        pulled = project.pycompose("run", "--rm", "--pull", "always", "app")
        assert pulled.stdout == f"pulled for {project.name}\n"
        assert f" Image {reference}  Pulled" in pulled.stderr, pulled.stderr
        assert layer_line in pulled.stderr, pulled.stderr  # layer by layer

        api.remove_image(reference)
        quiet = project.pycompose("run", "--rm", "--quiet-pull", "app")
        assert quiet.stdout == f"pulled for {project.name}\n"
        assert f" Image {reference}  Pulled" in quiet.stderr, quiet.stderr
        assert layer_line not in quiet.stderr, quiet.stderr
    finally:
        api.remove_image(reference)
