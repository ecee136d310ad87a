"""Pushing to the real registry: skip existing blobs, monolithic and chunked uploads,
cross-repository mounts, manifests and tags; read back by skopeo and by a fresh pull."""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.images import ImageService

from .conftest import needs_tools

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


def skopeo_inspect(ref: str) -> dict:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{ref}"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("chunk_size", [None, 64 * 1024])
async def test_push_then_pull_back(pushed, data_root, tmp_path, chunk_size):
    repo = f"{pushed.host}/pushed/{'chunked' if chunk_size else 'monolithic'}:v1"
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/layered")
        images.tag(record.id, repo)
        # a fresh repository: blobs are mounted from test/layered, except when chunked
        events = []
        digest = await images.push(repo, progress=events.append, chunk_size=chunk_size)
        statuses = {e.status for e in events}
        assert "Mounted from test/layered" in statuses
        # again: everything is there already
        events.clear()
        assert await images.push(repo, progress=events.append) == digest
        assert {e.status for e in events if e.id} == {"Layer already exists"}
    manifest = skopeo_inspect(repo)
    assert [layer["digest"] for layer in manifest["layers"]] == [
        layer.digest for layer in record.layers
    ]
    async with ImageService(tmp_path / "other") as images:
        again = await images.pull(repo)
    assert again.id == record.id
    assert again.manifest_digest == digest


async def test_push_uploads_new_blobs_monolithic_and_chunked(pushed, data_root, tmp_path):
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/base")
        archive = tmp_path / "base.tar"
        await images.save([f"{pushed.host}/test/base"], archive)
    # a store that knows no other repository: no mounts, real uploads
    for name, chunk in (("mono", None), ("chunks", 100_000)):
        async with ImageService(tmp_path / name) as images:
            [loaded] = await images.load(archive, tag=f"{pushed.host}/upload/{name}:1")
            untagged = await images.remove(f"{pushed.host}/test/base")
            assert untagged == [{"Untagged": f"{pushed.host}/test/base:latest"}]
            events = []
            await images.push(
                f"{pushed.host}/upload/{name}:1", progress=events.append, chunk_size=chunk
            )
            assert {"Pushed"} <= {e.status for e in events}, [e.status for e in events]
        assert loaded.id == record.id
        async with ImageService(tmp_path / f"{name}-back") as images:
            back = await images.pull(f"{pushed.host}/upload/{name}:1")
        assert back.id == record.id
