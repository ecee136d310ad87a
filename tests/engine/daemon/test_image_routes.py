"""Image routes of the real daemon beyond pull/push: history, and what a client may send."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile

import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.daemon.backend.images import registry_auth
from engine.images.auth import Credentials


def with_history(archive: bytes, tag: str) -> bytes:
    """``archive`` (a one-image `docker save` tar) with a build history and another tag."""
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as source:
        for member in source.getmembers():
            if member.isfile():
                extracted = source.extractfile(member)
                assert extracted is not None
                members[member.name] = extracted.read()
    (manifest,) = json.loads(members.pop("manifest.json"))
    config = json.loads(members.pop(manifest["Config"]))
    config["history"] = [
        {"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs.tar /"},
        {
            "created": "2026-01-02T00:00:00Z",
            "created_by": 'CMD ["sh"]',
            "comment": "a setting, no layer",
            "empty_layer": True,
        },
    ]
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    members[config_name] = config_bytes
    members["manifest.json"] = json.dumps(
        [{**manifest, "Config": config_name, "RepoTags": [tag]}]
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as target:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.anyio
async def test_image_history_is_newest_first_with_layer_sizes(
    client: EngineClient, busybox_tar: bytes
) -> None:
    await client.request(
        "POST",
        "/images/load",
        content=with_history(busybox_tar, "historic:1"),
        headers={"Content-Type": "application/x-tar"},
    )
    image = await client.image_inspect("historic:1")
    history = (await client.request("GET", "/images/historic:1/history")).json()
    assert [(row["CreatedBy"], row["Comment"]) for row in history] == [
        ('CMD ["sh"]', "a setting, no layer"),
        ("ADD rootfs.tar /", ""),
    ]
    assert history[0]["Id"] == image.Id and history[0]["Tags"] == ["historic:1"]
    assert history[1]["Id"] == "<missing>" and history[1]["Tags"] is None
    assert history[0]["Size"] == 0 and history[1]["Size"] == image.Size > 0
    assert history[0]["Created"] == 1767312000
    with pytest.raises(errors.NotFound):
        await client.request("GET", "/images/nothing:here/history")


@pytest.mark.anyio
async def test_image_filters_and_what_the_engine_refuses(client: EngineClient) -> None:
    async def listed(filters: object) -> list[list[str]]:
        response = await client.request(
            "GET", "/images/json", params={"filters": json.dumps(filters)}
        )
        return [image["RepoTags"] for image in response.json()]

    assert await listed({"dangling": ["false"]}) == [["busybox:latest"]]
    assert await listed({"dangling": ["true"]}) == []
    assert await listed({"reference": ["busybox"]}) == [["busybox:latest"]]
    with pytest.raises(errors.InvalidParameter, match="invalid filter 'before'"):
        await listed({"before": ["busybox"]})
    with pytest.raises(errors.InvalidParameter, match="invalid filter 'label'"):
        await client.request(
            "POST", "/images/prune", params={"filters": json.dumps({"label": ["a=b"]})}
        )
    assert (await client.image_inspect("busybox")).RepoTags == ["busybox:latest"]
    with pytest.raises(errors.InvalidParameter, match="X-Registry-Auth"):
        await client.request(
            "POST",
            "/images/create",
            params={"fromImage": "127.0.0.1:9/none", "tag": "v1"},
            headers={"X-Registry-Auth": "%%% not base64 %%%"},
        )


def _header(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_registry_auth_headers_decode_as_docker_clients_send_them() -> None:
    assert registry_auth("") is None
    assert registry_auth("e30=") is None  # {}: what `docker` sends when not logged in
    assert registry_auth(_header({"serveraddress": "registry.example"})) is None
    assert registry_auth(_header({"username": "u", "password": "p:w"})) == Credentials("u", "p:w")
    basic = base64.b64encode(b"u:p:w").decode()
    assert registry_auth(_header({"auth": basic})) == Credentials("u", "p:w")
    with pytest.raises(errors.Unsupported, match="token"):
        registry_auth(_header({"identitytoken": "refresh"}))
    with pytest.raises(errors.InvalidParameter):
        registry_auth(_header(["not", "an", "object"]))
