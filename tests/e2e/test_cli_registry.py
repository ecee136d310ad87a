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
from tests.e2e.conftest import IMAGE, Engine, Stack, docker_compose_binary

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


def test_publish_pushes_the_compose_files_as_an_oci_artifact(project: Stack, registry: str):
    text = f"services:\n  web:\n    image: {IMAGE}\n    command: [sleep, '1000']\n"
    project.write(text)
    reference = f"{registry}/e2e/{project.name}-app:v1"
    project.pycompose("publish", reference)
    response = httpx.get(
        f"http://{registry}/v2/e2e/{project.name}-app/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    response.raise_for_status()
    manifest = response.json()
    assert manifest["artifactType"] == "application/vnd.docker.compose.project"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.docker.compose.file+yaml"
    assert layer["annotations"]["com.docker.compose.file"] == "compose.yaml"
    blob = httpx.get(
        f"http://{registry}/v2/e2e/{project.name}-app/blobs/{layer['digest']}", timeout=10
    )
    assert blob.content == text.encode()


def test_publish_refuses_environment_values_without_with_env(project: Stack, registry: str):
    project.write(f"services:\n  web:\n    image: {IMAGE}\n    environment: {{TOKEN: s3cret}}\n")
    reference = f"{registry}/e2e/{project.name}-env:v1"
    refused = project.pycompose("publish", reference, check=False)
    assert refused.returncode == 1 and "--with-env" in refused.stderr, refused
    assert registry_tags(registry, f"e2e/{project.name}-env") == []
    project.pycompose("publish", "--with-env", reference)
    assert registry_tags(registry, f"e2e/{project.name}-env") == ["v1"]


def test_build_push_with_dependencies_and_pull_selection_flags(
    project: Stack, api: EngineAPI, registry: str
):
    base, app = (f"{registry}/e2e/{project.name}-{n}:v1" for n in ("base", "app"))
    ghost = f"{registry}/e2e/{project.name}-ghost:v1"
    for name in ("base", "app"):
        (project.directory / name).mkdir()
        (project.directory / name / "Dockerfile").write_text(
            f"FROM {IMAGE}\nRUN echo {name}-{project.name} > /which\n"
        )
    project.write(
        textwrap.dedent(f"""
        services:
          base:
            build: ./base
            image: {base}
          app:
            build: ./app
            image: {app}
            depends_on: [base]
          ghost:
            image: {ghost}
    """)
    )
    try:
        project.pycompose("build", "app")
        assert api.image(app) is not None and api.image(base) is None
        project.pycompose("build", "--with-dependencies", "--push", "app")
        assert api.image(base) is not None
        assert registry_tags(registry, f"e2e/{project.name}-base") == ["v1"]
        assert registry_tags(registry, f"e2e/{project.name}-app") == ["v1"]

        for reference in (base, app):
            api.remove_image(reference)
        # services with a build section are left alone
        project.pycompose("pull", "--ignore-buildable", "app", "base")
        assert api.image(app) is None and api.image(base) is None
        pulled = project.pycompose("pull", "-q", "--include-deps", "app")
        assert api.image(app) is not None and api.image(base) is not None
        assert "Pull" not in pulled.stderr + pulled.stdout, pulled

        # ghost is only local: a pull fails, --policy missing leaves the present image be
        ghost_id = api.image(IMAGE)
        assert ghost_id is not None
        tagged = api.client.post(
            f"/images/{IMAGE}/tag",
            params={"repo": ghost.rsplit(":", 1)[0], "tag": "v1"},
        )
        assert tagged.status_code == 201, tagged.text
        assert project.pycompose("pull", "ghost", check=False).returncode == 1
        project.pycompose("pull", "--policy", "missing", "ghost")
    finally:
        for reference in (base, app, ghost):
            api.remove_image(reference)


def _manifest_digest(registry: str, repository: str, tag: str) -> str:
    response = httpx.head(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.oci.image.index.v1+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json"
        },
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def test_config_resolves_and_locks_image_digests_from_the_registry(
    project: Stack, api: EngineAPI, registry: str
):
    """The digests come from the registry through the engine (GET /distribution), on
    pycompose's engine and on dockerd alike, and read as docker compose prints them."""
    repository = f"e2e/{project.name}-digest"
    reference = f"{registry}/{repository}:v1"
    pinned = f"{registry}/e2e/pinned@sha256:{'1' * 64}"
    app = project.directory / "app"
    app.mkdir()
    (app / "marker.txt").write_text(f"digest of {project.name}\n")
    (app / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY marker.txt /marker.txt\n")
    project.write(
        textwrap.dedent(f"""
        services:
          app:
            build: ./app
            image: {reference}
          pinned:
            image: {pinned.replace("@", ":v9@")}
          built:
            build: ./app
    """)
    )
    try:
        project.pycompose("build", "app")
        project.pycompose("push", "app")
        # the local image goes: the digest must come from the registry, not the engine's store
        api.remove_image(reference)
        digest = _manifest_digest(registry, repository, "v1")
        resolved = project.pycompose("config", "--resolve-image-digests").stdout
        assert f"    image: {reference}@{digest}\n" in resolved
        assert f"    image: {pinned}\n" in resolved  # its own digest kept, its tag dropped
        locked = project.pycompose("config", "--lock-image-digests").stdout
        assert locked == (
            f"services:\n  app:\n    image: {reference}@{digest}\n"
            f"  built: {{}}\n  pinned:\n    image: {pinned}\n"
        )
        project.write(f"services:\n  gone:\n    image: {registry}/e2e/absent-{project.name}:v1\n")
        absent = project.pycompose("config", "--resolve-image-digests", check=False)
        assert absent.returncode != 0
        assert f"failed to resolve digest for {registry}/e2e/absent-{project.name}:v1" in (
            absent.stderr
        )
        if docker_compose_binary() is not None:
            # docker compose, asking the same engine, prints the same
            theirs = Stack(project.engine, project.directory, tool="docker-compose")
            theirs.name = project.name
            project.write(
                f"services:\n  app:\n    image: {reference}\n  pinned:\n"
                f"    image: {pinned.replace('@', ':v9@')}\n"
            )
            for flag in ("--resolve-image-digests", "--lock-image-digests"):
                ours = project.pycompose("config", flag).stdout
                assert ours == theirs.pycompose("config", flag).stdout, flag
    finally:
        project.pycompose("down", "--rmi", "all", check=False)
