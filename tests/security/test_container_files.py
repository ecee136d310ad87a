"""Attack: ``docker cp`` (``GET``/``HEAD``/``PUT /containers/{id}/archive``) on a hostile
container, running and stopped, through a real engine.

The image names an ``evil`` NSS service in ``/etc/nsswitch.conf`` and ships
``libnss_evil.so.2``, whose constructor leaves a marker: a root process that resolves
owner names inside the container's root (a chroot and ``pwd.getpwuid``, CVE-2019-14271)
runs the container's code as host root. Its symlinks ``/evil -> /`` and ``/up ->
../../..`` must resolve inside the container: a GET never reads a host file, a PUT never
writes one.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.hostile_images import CONTAINER_MARKER, add_member, image_with_layers, nss_layer
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


async def _container(client: EngineClient, *, running: bool) -> str:
    created = await client.container_create(
        ContainerCreate.model_validate({"Image": "hostile", "Cmd": ["sleep", "600"]})
    )
    if running:
        await client.container_start(created.Id)
    return created.Id


async def _exists(client: EngineClient, container: str, path: str) -> bool:
    try:
        await client.request("HEAD", f"/containers/{container}/archive", params={"path": path})
    except errors.NotFound:
        return False
    return True


async def _get(client: EngineClient, container: str, path: str) -> tuple[dict, bytes]:
    response = await client.request(
        "GET", f"/containers/{container}/archive", params={"path": path}
    )
    stat = json.loads(base64.b64decode(response.headers["X-Docker-Container-Path-Stat"]))
    return stat, response.content


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            add_member(tar, name, data)
    return buffer.getvalue()


async def _put(client: EngineClient, container: str, path: str, data: bytes) -> None:
    await client.request(
        "PUT",
        f"/containers/{container}/archive",
        params={"path": path},
        content=data,
        headers={"Content-Type": "application/x-tar"},
    )


async def _attack(daemon_socket: str, host: Path, running: bool) -> None:
    host_marker = host / "host-marker"
    secret = host / "secret"
    secret.write_text("host secret")
    victim = host / "victim"
    victim.mkdir()
    image = image_with_layers("hostile:latest", [nss_layer(host_marker)])
    async with EngineClient(daemon_socket, timeout=60) as client:
        await client.request(
            "POST", "/images/load", content=image, headers={"Content-Type": "application/x-tar"}
        )
        container = await _container(client, running=running)
        try:
            # reading a tree with owners (uid 0, uid 1234) asks for their names
            stat, data = await _get(client, container, "/data")
            assert stat["name"] == "data"
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                members = {member.name: member for member in tar}
            await _get(client, container, "/etc/.")
            await _put(client, container, "/data", _tar({"new": b"x"}))
            assert not await _exists(client, container, CONTAINER_MARKER)
            assert not host_marker.exists()
            # names from the container's /etc/passwd read as data (busybox's: root only)
            assert members["data"].uname == "root" and members["data/file"].uname == ""

            # the container's symlinks to the root resolve inside it
            for path in (f"/evil{secret}", f"/up{secret}", f"/evil/{secret}/."):
                with pytest.raises(errors.NotFound):
                    await _get(client, container, path)
            for path in (f"/evil{victim}", f"/up{victim}"):
                with pytest.raises(errors.NotFound):
                    await _put(client, container, path, _tar({"pwned": b"x"}))
            # a member name climbing out, or through a container symlink, stays inside
            with pytest.raises(errors.InvalidParameter):
                await _put(client, container, "/", _tar({f"../../../..{victim}/pwned": b"x"}))
            await _put(client, container, "/", _tar({f"up{victim}/through-link": b"x"}))
            assert sorted(p.name for p in victim.iterdir()) == []
            assert await _exists(client, container, f"{victim}/through-link")
            # devices are refused
            device = io.BytesIO()
            with tarfile.open(fileobj=device, mode="w") as tar:
                add_member(tar, "mem", kind=tarfile.CHRTYPE)
            with pytest.raises(errors.InvalidParameter):
                await _put(client, container, "/data", device.getvalue())
            assert not await _exists(client, container, "/data/mem")
        finally:
            await client.container_remove(container, force=True)
    assert secret.read_text() == "host secret"


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_cp_never_runs_container_code_nor_leaves_its_root(tmp_path, running):
    with running_engine() as daemon:
        anyio.run(_attack, daemon.socket, tmp_path, running)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def _stalled_read(daemon: Daemon, engine_pid: int) -> None:
    size = 256 << 20
    async with engine_client(daemon) as client:
        created = await client.container_create(
            ContainerCreate.model_validate(
                {
                    "Image": "busybox",
                    "Cmd": [
                        "sh",
                        "-c",
                        f"head -c {size} /dev/zero > /big.tmp && mv /big.tmp /big && sleep 600",
                    ],
                }
            )
        )
        try:
            await client.container_start(created.Id)
            with anyio.fail_after(60):
                while not await _exists(client, created.Id, "/big"):
                    await anyio.sleep(0.2)
            before = _rss(engine_pid)
            url = f"/v{await client.negotiate()}/containers/{created.Id}/archive"
            got = 0
            async with client._http.stream("GET", url, params={"path": "/big"}) as response:
                async for chunk in response.aiter_raw():
                    got += len(chunk)
                    if got > 1 << 20:
                        break
                await anyio.sleep(2)  # the client stalls: the engine must wait, not buffer
                grown = _rss(engine_pid) - before
            assert got > 1 << 20
            assert grown < 48 << 20, f"the engine grew by {grown >> 20} MiB for a stalled read"
        finally:
            await client.container_remove(created.Id, force=True)


def test_a_stalled_reader_holds_the_engine_back_not_its_memory():
    with running_engine() as daemon:
        assert daemon.process is not None
        anyio.run(_stalled_read, daemon, daemon.process.pid)


async def _export_attack(daemon_socket: str, host: Path, running: bool) -> None:
    host_marker = host / "host-marker"
    image = image_with_layers("hostile:latest", [nss_layer(host_marker)])
    async with EngineClient(daemon_socket, timeout=60) as client:
        await client.request(
            "POST", "/images/load", content=image, headers={"Content-Type": "application/x-tar"}
        )
        container = await _container(client, running=running)
        try:
            data = b"".join([chunk async for chunk in client.container_export(container)])
        finally:
            await client.container_remove(container, force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {member.name.removeprefix("./"): member for member in tar}
    # the container's links to the root are kept as links, never followed to the host
    assert members["evil"].issym() and members["up"].issym()
    assert not any(name.startswith(("evil/", "up/")) for name in members)
    # only the container's own file system: no /proc of a running container, no host files
    assert not any(name.startswith("proc/") and name != "proc/" for name in members)
    assert not host_marker.exists()


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_export_never_follows_container_links_out_nor_runs_container_code(tmp_path, running):
    with running_engine() as daemon:
        anyio.run(_export_attack, daemon.socket, tmp_path, running)
