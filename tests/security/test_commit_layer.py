"""Attack: ``POST /commit`` of a container that planted links, a device node and a fifo in
its file system, through a real engine.

The engine (root) tars the container's overlay upper dir: a symlink to ``/etc/shadow`` or
to ``/`` must land in the layer as a symlink (never the host file it names, never a walk
of the host's root), a device node as a node (no bytes read from the device), a fifo as a
fifo (no blocking open), and what the runtime put there (Docker's init layer: mount points
such as ``/etc/hosts`` and ``/proc``, ``/.dockerenv``, ``/etc/mtab``) not at all.
"""

from __future__ import annotations

import io
import json
import tarfile

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

PLANT = (
    "ln -s /etc/shadow /shadow && ln -s / /root-link && ln -s ../../../../.. /up"
    " && mkfifo /fifo && mknod /null2 c 1 3 && rm /etc/group && mkdir /home"
    " && ln -s /etc /home/etc && touch /ready && sleep 600"
)
# meanwhile (pause=false) a file turns into a link to the host's /etc/shadow and back
SWAP = (
    "head -c 8192 /bin/busybox > /big; while :; do cp /big /swap.tmp; mv /swap.tmp /f;"
    " ln -s /etc/shadow /l.tmp; mv /l.tmp /f; done & "
)


async def _layer(client: EngineClient, image_id: str) -> dict[str, tarfile.TarInfo]:
    """The last layer of ``image_id`` (from ``docker save``), its members by name."""
    response = await client.request("GET", f"/images/{image_id}/get")
    with tarfile.open(fileobj=io.BytesIO(response.content)) as saved:
        files = {m.name: saved.extractfile(m).read() for m in saved if m.isfile()}  # type: ignore[union-attr]
    (manifest,) = json.loads(files["manifest.json"])
    with tarfile.open(fileobj=io.BytesIO(files[manifest["Layers"][-1]])) as layer:
        members = {m.name: m for m in layer}
        for member in layer:
            if member.isfile():
                data = layer.extractfile(member).read()  # type: ignore[union-attr]
                assert b"root:" not in data, f"{member.name} holds a host account file"
    return members


async def _attack(client: EngineClient, *, pause: bool) -> None:
    created = await client.container_create(
        ContainerCreate.model_validate(
            {"Image": "busybox", "Cmd": ["sh", "-c", ("" if pause else SWAP) + PLANT]}
        )
    )
    try:
        await client.container_start(created.Id)
        with anyio.fail_after(20):
            while True:
                response = await client.request("GET", f"/containers/{created.Id}/json")
                if not response.json()["State"]["Running"]:
                    logs = b"".join([d async for _, d in client.container_logs(created.Id)])
                    raise AssertionError(f"the container ended: {logs!r}")
                try:
                    await client.request(
                        "HEAD", f"/containers/{created.Id}/archive", params={"path": "/ready"}
                    )
                    break
                except errors.NotFound:
                    await anyio.sleep(0.1)
        image_id = await client.container_commit(created.Id, pause=pause)
        for _ in range(0 if pause else 5):  # more chances for the swap to race the walk
            await _layer(client, await client.container_commit(created.Id, pause=pause))
    finally:
        await client.container_remove(created.Id, force=True)
    members = await _layer(client, image_id)
    assert members["shadow"].issym() and members["shadow"].linkname == "/etc/shadow"
    assert members["root-link"].issym() and members["root-link"].linkname == "/"
    assert members["up"].issym()
    assert members["home/etc"].issym() and members["home/etc"].linkname == "/etc"
    # nothing beneath a link: the walk never entered one
    assert not any(
        name.startswith(("root-link/", "up/", "shadow/", "home/etc/")) for name in members
    )
    assert members["fifo"].isfifo() and members["fifo"].size == 0
    null = members["null2"]
    assert null.ischr() and (null.devmajor, null.devminor) == (1, 3) and null.size == 0
    # a deleted file of the image: a whiteout
    assert "etc/.wh.group" in members
    # the runtime's mount points are not the container's changes
    init = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "etc/mtab", ".dockerenv", "proc"}
    assert not init & set(members)


async def _run(daemon: Daemon) -> None:
    # one container paused while committed, one committed live (pause=false)
    async with engine_client(daemon) as client:
        await _attack(client, pause=True)
        await _attack(client, pause=False)


def test_commit_keeps_container_links_as_links_and_reads_nothing_of_the_host():
    with running_engine() as daemon:
        anyio.run(_run, daemon)
