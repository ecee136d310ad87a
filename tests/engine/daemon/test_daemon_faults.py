"""The engine killed at any instant: what the next start finds, repairs and keeps."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import anyio
import pytest
from daemon_helpers import Daemon, skip_reason

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from engine.state import StateStore

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]
REGISTRY = "/usr/bin/docker-registry"


def mounts_under(path: Path) -> list[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[1].startswith(str(path))]


@pytest.mark.parametrize("kill_after", [0.3, 0.8])
def test_killed_during_twenty_creates_then_up_again_converges(
    daemon: Daemon, busybox_tar: bytes, kill_after: float
) -> None:
    names = [f"stack-svc{i}-1" for i in range(20)]
    labels = {"com.docker.compose.project": "stack"}

    async def create_all(client: EngineClient) -> None:
        async def one(name: str) -> None:
            with contextlib.suppress(errors.EngineError):
                created = await client.container_create(
                    ContainerCreate(Image="busybox", Cmd=["sleep", "60"], Labels=labels), name=name
                )
                await client.container_start(created.Id)

        async with anyio.create_task_group() as task_group:
            for name in names:
                task_group.start_soon(one, name)

    async def first_run() -> None:
        async with EngineClient(daemon.socket, timeout=60) as client:
            await client.request("POST", "/images/load", content=busybox_tar)
            with anyio.move_on_after(kill_after):
                await create_all(client)
            daemon.kill(signal.SIGKILL)  # in the middle of the creates

    anyio.run(first_run)
    daemon.start()

    async def second_run() -> None:
        async with EngineClient(daemon.socket, timeout=60) as client:
            listed = await client.container_list(
                all=True, filters={"label": ["com.docker.compose.project=stack"]}
            )
            found = {c.Names[0].lstrip("/"): c for c in listed}
            assert len(found) == len(listed)  # nothing duplicated
            for name, summary in found.items():  # nothing half-made: each one works
                inspect = await client.container_inspect(summary.Id)
                assert inspect.Name == "/" + name
                await client.container_start(summary.Id)
            await create_all(client)  # "up" again
            again = await client.container_list(
                filters={"label": ["com.docker.compose.project=stack"]}
            )
            assert sorted(c.Names[0].lstrip("/") for c in again) == sorted(names)
            assert all(c.State == "running" for c in again)

    anyio.run(second_run)
    store = StateStore(daemon.data_root / "engine.db")
    try:
        assert store.unfinished() == []
        ids = {record.id for record in store.containers()}
    finally:
        store.close()
    bundles = {p.name for p in (daemon.data_root / "containers").iterdir() if len(p.name) == 64}
    assert bundles <= ids  # no bundle without a record (leaked)
    rootfs_mounts = {Path(m).name for m in mounts_under(daemon.data_root / "rootfs")}
    assert rootfs_mounts == ids
    netns_dir = daemon.exec_root / "network" / "netns"
    assert {p.name for p in netns_dir.iterdir()} == ids  # one sandbox per container


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path):
    if not Path(REGISTRY).exists():
        pytest.skip("docker-registry is not installed (scripts/install.sh)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            pytest.fail(f"the registry did not listen on 127.0.0.1:{port} within 60 s")
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


@pytest.mark.anyio
async def test_push_and_pull_through_the_api(client: EngineClient, registry: str) -> None:
    reference = f"{registry}/pycompose/busybox"
    await client.image_tag("busybox", reference, "v1")
    pushed = [m async for m in client.image_push(reference, "v1")]
    (aux,) = [m["aux"] for m in pushed if "aux" in m]
    assert aux["Tag"] == "v1" and aux["Digest"].startswith("sha256:") and aux["Size"] > 0
    digest_lines = [m["status"] for m in pushed if ": digest: " in m.get("status", "")]
    assert digest_lines == [f"v1: digest: {aux['Digest']} size: {aux['Size']}"]
    local_id = (await client.image_inspect(f"{reference}:v1")).Id
    await client.image_remove(f"{reference}:v1")
    await client.image_remove("busybox")
    with pytest.raises(errors.NotFound):
        await client.image_inspect(f"{reference}:v1")
    pulled = [m async for m in client.image_pull(reference, "v1")]
    statuses = [m.get("status", "") for m in pulled]
    assert statuses[-1] == f"Status: Downloaded newer image for {reference}:v1"
    assert [s for s in statuses if s.startswith(("Digest: ", "Status: "))] == [
        f"Digest: {aux['Digest']}",
        f"Status: Downloaded newer image for {reference}:v1",
    ]
    assert (await client.image_inspect(f"{reference}:v1")).Id == local_id
    with pytest.raises(errors.NotFound):
        async for _ in client.image_pull(reference, "missing"):
            pass
    # a request's own credentials are used for it (an anonymous registry never asks)
    strangers = base64.urlsafe_b64encode(b'{"username": "someone", "password": "x"}').decode()
    answer = await client.request(
        "POST",
        "/images/create",
        params={"fromImage": reference, "tag": "v1"},
        headers={"X-Registry-Auth": strangers},
    )
    assert "errorDetail" not in answer.text
    created = await client.container_create(
        ContainerCreate(Image=f"{reference}:v1", Cmd=["echo", "pulled"])
    )
    await client.container_start(created.Id)
    assert (await client.container_wait(created.Id)).StatusCode == 0
    assert [d async for _, d in client.container_logs(created.Id)] == [b"pulled\n"]
    assert os.path.exists(client.socket_path)


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_docker_cli_push_pull_tag_rmi(
    daemon: Daemon, busybox_tar: bytes, registry: str, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "DOCKER_HOST": f"unix://{daemon.socket}",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }

    def docker(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", *args], capture_output=True, env=environment, timeout=60, check=False
        )

    (tmp_path / "busybox.tar").write_bytes(busybox_tar)
    assert docker("load", "-i", str(tmp_path / "busybox.tar")).returncode == 0
    reference = f"{registry}/cli/busybox:v1"
    assert docker("tag", "busybox", reference).returncode == 0
    pushed = docker("push", reference)
    assert pushed.returncode == 0, pushed.stderr
    assert b"digest: sha256:" in pushed.stdout
    assert docker("rmi", reference).returncode == 0
    assert reference.encode() not in docker("images").stdout
    pulled = docker("pull", reference)
    assert pulled.returncode == 0, pulled.stderr
    assert b"Downloaded newer image" in pulled.stdout
    missing = docker("pull", f"{registry}/cli/busybox:nope")
    assert missing.returncode == 1 and b"not found" in missing.stderr
