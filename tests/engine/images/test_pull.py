"""Pulling from the real registry: formats, platforms, auth, sharing, progress."""

from __future__ import annotations

import json
import math
import os
import stat

import anyio
import pytest

from engine.images import ImageService, parse_reference
from engine.images.auth import Credentials

from .conftest import needs_tools

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


async def test_pull_records_the_image_and_unpacks_each_layer(pushed, data_root):
    events = []
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/layered", progress=events.append)
        assert record.repo_tags == (f"{pushed.host}/test/layered:latest",)
        assert record.repo_digests[0].startswith(f"{pushed.host}/test/layered@sha256:")
        assert len(record.layers) == 3
        for layer in record.layers:
            assert images.blobs.has(layer.digest)
            assert (images.layers_root / layer.chain_id[7:] / "diff").is_dir()
        assert images.resolve(f"{pushed.host}/test/layered:latest").id == record.id
        assert images.resolve(record.id[7:19]).id == record.id
        inspect = images.inspect(f"{pushed.host}/test/layered")
        assert inspect["Config"]["Cmd"] == ["/bin/sh"]
        assert inspect["RootFS"]["Layers"] == [layer.diff_id for layer in record.layers]
    statuses = {(e.id, e.status) for e in events}
    for layer in record.layers:
        assert (layer.digest[7:19], "Pull complete") in statuses
    top = images.layers_root / record.layers[2].chain_id[7:] / "diff"
    assert stat.S_ISCHR(os.lstat(top / "data" / "gone").st_mode)
    assert os.getxattr(top / "opaque", "trusted.overlay.opaque") == b"y"


async def test_identical_layer_stacks_are_unpacked_once(pushed, data_root):
    async with ImageService(data_root) as images:
        base = await images.pull(f"{pushed.host}/test/base")
        layered = await images.pull(f"{pushed.host}/test/layered")
        events = []
        again = await images.pull(f"{pushed.host}/test/layered", progress=events.append)
        zstd = await images.pull(f"{pushed.host}/test/zstd")
    assert base.layers[0].chain_id == layered.layers[0].chain_id
    # same diff IDs, other compression: other blobs, the same unpacked layers
    assert zstd.layers[1].digest != layered.layers[1].digest
    assert zstd.layers[1].chain_id == layered.layers[1].chain_id
    assert again.id == layered.id
    assert sorted(os.listdir(images.layers_root)) == sorted(
        {layer.chain_id[7:] for layer in (*base.layers, *layered.layers)}
    )
    assert all(e.status == "Already exists" for e in events if e.id)


async def test_concurrent_pulls_fetch_each_blob_once_within_the_bound(pushed, data_root):
    requests = []
    running = 0
    most = 0

    async with ImageService(data_root, max_concurrent_downloads=2) as images:
        client = images.registry()
        original = client.fetch_blob

        async def counting(ref, descriptor, ingest, on_bytes=None):
            nonlocal running, most
            requests.append(descriptor.digest)
            running += 1
            most = max(most, running)
            try:
                await anyio.sleep(0.05)  # hold the slot: overlapping downloads would show
                await original(ref, descriptor, ingest, on_bytes)
            finally:
                running -= 1

        client.fetch_blob = counting  # type: ignore[method-assign]
        async with anyio.create_task_group() as task_group:
            for name in ("layered", "layered", "base", "zstd", "docker"):
                task_group.start_soon(images.pull, f"{pushed.host}/test/{name}")
    assert len(requests) == len(set(requests))
    assert most == 2


async def test_zstd_layers(pushed, data_root):
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/zstd")
    assert record.layers[1].media_type.endswith("+zstd")
    assert (images.layers_root / record.layers[1].chain_id[7:] / "diff/data/keep").is_file()


async def test_docker_schema2_manifest_and_manifest_list(pushed, data_root):
    async with ImageService(data_root) as images:
        docker = await images.pull(f"{pushed.host}/test/docker")
        oci = await images.pull(f"{pushed.host}/test/layered")
        arm = await images.pull(f"{pushed.host}/test/docker-multi", platform="linux/arm64")
    assert docker.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert docker.layers[0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert [x.chain_id for x in docker.layers] == [x.chain_id for x in oci.layers]
    assert arm.architecture == "arm64"
    assert arm.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"


@pytest.mark.parametrize(
    ("platform", "expected"), [(None, b"amd64\n"), ("linux/arm64", b"arm64\n")]
)
async def test_platform_is_chosen_from_the_index(pushed, data_root, platform, expected):
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/multi", platform=platform)
        top = images.layers_root / record.layers[-1].chain_id[7:] / "diff"
        assert (top / "arch").read_bytes() == expected
        assert record.architecture == ("arm64" if platform else "amd64")
        # the repo digest is the index's: pulling by it gives the same image
        by_digest = await images.pull(record.repo_digests[0], platform=platform)
        assert by_digest.id == record.id


async def test_pull_unknown_platform_is_a_clear_error(pushed, data_root):
    async with ImageService(data_root) as images:
        with pytest.raises(Exception, match="no image for platform linux/s390x"):
            await images.pull(f"{pushed.host}/test/multi", platform="linux/s390x")
        assert images.images() == []


async def test_pull_unknown_image_is_not_found(pushed, data_root):
    from engine.images import ImageNotFound

    async with ImageService(data_root) as images:
        with pytest.raises(ImageNotFound):
            await images.pull(f"{pushed.host}/test/nothing-here:v1")


async def test_basic_auth_with_credentials_from_docker_config(
    basic_registry, busybox_layout, data_root, tmp_path
):
    basic_registry.push_layout(busybox_layout, "base", "private/base:1")
    config = tmp_path / "config.json"
    import base64

    config.write_text(
        json.dumps(
            {
                "auths": {
                    f"http://{basic_registry.host}": {
                        "auth": base64.b64encode(b"alice:s3cret").decode()
                    }
                }
            }
        )
    )
    async with ImageService(data_root, docker_config=config) as images:
        record = await images.pull(f"{basic_registry.host}/private/base:1")
        assert record.layers
    from engine.images import AuthError

    async with ImageService(data_root, credentials={}) as images:
        with pytest.raises(AuthError, match="user name and password"):
            await images.pull(f"{basic_registry.host}/private/base:1")
    wrong = {basic_registry.host: Credentials("alice", "wrong")}
    async with ImageService(data_root, credentials=wrong) as images:
        with pytest.raises(AuthError):
            await images.pull(f"{basic_registry.host}/private/base:1")


async def test_credentials_from_a_credential_helper(
    basic_registry, busybox_layout, data_root, tmp_path, monkeypatch
):
    basic_registry.push_layout(busybox_layout, "base", "private/helped:1")
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\nread server\n"
        f'[ "$server" = "{basic_registry.host}" ] || {{ echo "not found" >&2; exit 1; }}\n'
        'echo \'{"ServerURL": "x", "Username": "alice", "Secret": "s3cret"}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {basic_registry.host: "fake"}}))
    async with ImageService(data_root, docker_config=config) as images:
        record = await images.pull(f"{basic_registry.host}/private/helped:1")
    assert record.layers
    config.write_text(json.dumps({"auths": {basic_registry.host: {}}, "credsStore": "fake"}))
    async with ImageService(data_root / "2", docker_config=config) as images:
        assert (await images.pull(f"{basic_registry.host}/private/helped:1")).id == record.id


async def test_bearer_token_flow(token_registry, busybox_layout, data_root):
    token_registry.push_layout(busybox_layout, "layered", "team/layered:1")
    creds = {token_registry.host: Credentials("bob", "t0ken")}
    async with ImageService(data_root, credentials=creds) as images:
        record = await images.pull(f"{token_registry.host}/team/layered:1")
        digest = await images.push(f"{token_registry.host}/team/layered:1")
        images.tag(record.id, f"{token_registry.host}/team/copy:2")
        await images.push(f"{token_registry.host}/team/copy:2")
    assert digest == record.manifest_digest
    # anonymous callers get pull-only tokens: pull works, push does not
    async with ImageService(data_root / "anon", credentials={}) as images:
        again = await images.pull(f"{token_registry.host}/team/copy:2")
        assert again.id == record.id
        from engine.images import AuthError

        images.tag(again.id, f"{token_registry.host}/team/anon:1")
        with pytest.raises(AuthError):
            await images.push(f"{token_registry.host}/team/anon:1")


def test_reference_of_pulled_image_is_normalised():
    assert str(parse_reference("127.0.0.1:5000/test/base")) == "127.0.0.1:5000/test/base:latest"


async def test_progress_as_an_async_event_stream(pushed, data_root):
    from engine.images import Progress, into_stream

    send, receive = anyio.create_memory_object_stream[Progress](math.inf)
    statuses = []

    async def consume():
        async with receive:
            async for event in receive:
                statuses.append(event.status)

    async with ImageService(data_root) as images, anyio.create_task_group() as task_group:
        task_group.start_soon(consume)
        async with send:
            await images.pull(f"{pushed.host}/test/layered", progress=into_stream(send))
    assert statuses[0].startswith("Pulling from")
    assert statuses.count("Pull complete") == 3
    assert statuses[-1].startswith("Status: Downloaded image")
