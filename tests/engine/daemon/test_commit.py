"""``POST /commit`` on the real daemon: the container's changes become an image layer, its
config takes the changes, and the new image runs with both."""

from __future__ import annotations

import time

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate


async def _run(client: EngineClient, image: str, command: list[str] | None = None) -> bytes:
    body: dict[str, object] = {"Image": image}
    if command is not None:
        body["Cmd"] = command
    created = await client.container_create(ContainerCreate.model_validate(body))
    try:
        await client.container_start(created.Id)
        await client.container_wait(created.Id)
        return b"".join([data async for _, data in client.container_logs(created.Id)])
    finally:
        await client.container_remove(created.Id, force=True)


async def _ready(client: EngineClient, container: str, path: str) -> None:
    with anyio.fail_after(20):
        while True:
            try:
                await client.request(
                    "HEAD", f"/containers/{container}/archive", params={"path": path}
                )
                return
            except errors.NotFound:
                await anyio.sleep(0.1)


@pytest.mark.anyio
async def test_commit_of_a_running_container(client: EngineClient) -> None:
    created = await client.container_create(
        ContainerCreate.model_validate(
            {
                "Image": "busybox",
                "Env": ["FROM_CONTAINER=1"],
                "Cmd": [
                    "sh",
                    "-c",
                    "echo written > /x && rm /etc/group && mkdir -p /d/e"
                    " && touch /ready && sleep 600",
                ],
            }
        )
    )
    try:
        await client.container_start(created.Id)
        await _ready(client, created.Id, "/ready")
        image_id = await client.container_commit(
            created.Id,
            repo="committed",
            tag="v1",
            author="Ann <ann@example.com>",
            comment="a message",
            changes=['CMD ["cat","/x"]', "ENV ADDED=yes", "LABEL made=commit", "EXPOSE 8080"],
        )
        # paused meanwhile (its events say so, as dockerd's), running again after
        inspected = await client.request("GET", f"/containers/{created.Id}/json")
        assert inspected.json()["State"]["Status"] == "running"
        events = [
            event.Action
            async for event in client.events(
                filters={"container": [created.Id]}, since=0, until=time.time() + 1
            )
        ]
        assert events[-3:] == ["pause", "commit", "unpause"], events
    finally:
        await client.container_remove(created.Id, force=True)

    image = (await client.request("GET", "/images/committed:v1/json")).json()
    assert image["Id"] == image_id
    config = image["Config"]
    assert config["Cmd"] == ["cat", "/x"]
    assert "FROM_CONTAINER=1" in config["Env"] and "ADDED=yes" in config["Env"]
    assert config["Labels"] == {"made": "commit"}
    assert "8080/tcp" in config["ExposedPorts"]
    assert image["Author"] == "Ann <ann@example.com>"
    base = (await client.request("GET", "/images/busybox/json")).json()
    assert len(image["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    history = (await client.request("GET", "/images/committed:v1/history")).json()
    assert history[0]["Comment"] == "a message"

    assert await _run(client, "committed:v1") == b"written\n"
    # the deletion is a whiteout; the directory made is there; no mount point placeholders
    listing = await _run(
        client,
        "committed:v1",
        ["sh", "-c", "ls /etc/group 2>&1; ls -d /d/e; ls -A /proc | head -1"],
    )
    assert b"No such file" in listing and b"/d/e" in listing


@pytest.mark.anyio
async def test_commit_refuses_instructions_it_cannot_apply(client: EngineClient) -> None:
    created = await client.container_create(
        ContainerCreate.model_validate({"Image": "busybox", "Cmd": ["true"]})
    )
    try:
        for change, word in (("RUN echo hi", "run"), ("COPY a b", "copy"), ("FROM x", "from")):
            with pytest.raises(errors.InvalidParameter, match=f"^{word} is not a valid change"):
                await client.container_commit(created.Id, changes=[change])
        with pytest.raises(errors.InvalidParameter, match="STOPSIGNAL"):
            await client.container_commit(created.Id, changes=["STOPSIGNAL NOPE"])
        before = {image.Id for image in await client.image_list()}
        # a container never started: still a new image (untagged without a repository)
        image_id = await client.container_commit(created.Id, changes=["USER 1000", "WORKDIR /w"])
        assert image_id not in before
        image = (await client.request("GET", f"/images/{image_id}/json")).json()
        assert image["Config"]["User"] == "1000" and image["Config"]["WorkingDir"] == "/w"
        assert image["RepoTags"] == []
    finally:
        await client.container_remove(created.Id, force=True)
    with pytest.raises(errors.NotFound):
        await client.container_commit("no-such-container")
