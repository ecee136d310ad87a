"""Faults: each a clear error, and the store exactly as it was before."""

from __future__ import annotations

import json
import os

import pytest

from engine.images import (
    DigestMismatch,
    ImageService,
    InvalidImage,
    RegistryError,
    UnsafeLayer,
    UnsupportedMediaType,
)

from . import imagekit as kit
from .fakeregistry import FakeRegistry, Route

pytestmark = [pytest.mark.anyio, pytest.mark.root]

GOOD = [kit.tar_bytes([kit.d("etc"), kit.f("etc/hostname", b"good\n")])]
SECOND = kit.tar_bytes([kit.f("second", b"2" * 100_000)])


@pytest.fixture
def fake():
    registry = FakeRegistry()
    yield registry
    registry.close()


def snapshot(data_root):
    out = set()
    for dirpath, dirnames, filenames in os.walk(data_root / "images"):
        for name in dirnames + filenames:
            path = os.path.relpath(os.path.join(dirpath, name), data_root)
            if not name.startswith("images.db"):
                out.add(path)
    return out


@pytest.fixture
async def service(fake, data_root):
    fake.serve_image("ok/image", "1", GOOD)
    async with ImageService(data_root) as images:
        await images.pull(f"{fake.host}/ok/image:1")
        before = (snapshot(data_root), [r.id for r in images.images()])
        yield images
        after = (snapshot(data_root), [r.id for r in images.images()])
        assert after[0] ^ before[0] == set()
        assert after == before


def corrupt(route: Route) -> None:
    route.body = bytes([route.body[0] ^ 0xFF]) + route.body[1:]


async def test_corrupt_blob(fake, service):
    image = fake.serve_image("bad/corrupt", "1", [GOOD[0], SECOND])
    corrupt(fake.routes[f"/v2/bad/corrupt/blobs/{image['descs'][1]['digest']}"])
    with pytest.raises(DigestMismatch, match=r"corrupt or different content\. Nothing was stored"):
        await service.pull(f"{fake.host}/bad/corrupt:1")


async def test_corrupt_blob_is_reported_even_when_its_bytes_fail_to_unpack_first(fake, service):
    honest = kit.tar_bytes([kit.f("big", b"\0" * 2_000_000)])
    evil = kit.tar_bytes([kit.f("../evil", b"x")])
    evil += b"\0" * (len(honest) - len(evil))  # same size, other bytes: a tar that escapes
    image = fake.serve_image("bad/evil", "1", [honest], compression="none")
    fake.routes[f"/v2/bad/evil/blobs/{image['descs'][0]['digest']}"].body = evil
    with pytest.raises(DigestMismatch, match="corrupt or different content"):
        await service.pull(f"{fake.host}/bad/evil:1")


async def test_blob_longer_than_announced(fake, service):
    image = fake.serve_image("bad/long", "1", [SECOND])
    fake.routes[f"/v2/bad/long/blobs/{image['descs'][0]['digest']}"].body += b"extra"
    with pytest.raises(DigestMismatch, match="more than"):
        await service.pull(f"{fake.host}/bad/long:1")


async def test_truncated_download(fake, service):
    image = fake.serve_image("bad/truncated", "1", [GOOD[0], SECOND], compression="none")
    fake.routes[f"/v2/bad/truncated/blobs/{image['descs'][1]['digest']}"].truncate_at = 5000
    with pytest.raises((RegistryError, DigestMismatch), match=r"broke off|truncated"):
        await service.pull(f"{fake.host}/bad/truncated:1")


async def test_bad_manifest(fake, service):
    fake.routes["/v2/bad/manifest/manifests/1"] = Route(b"{not json", kit.OCI_MANIFEST)
    with pytest.raises(InvalidImage, match="not valid JSON"):
        await service.pull(f"{fake.host}/bad/manifest:1")
    fake.routes["/v2/bad/manifest/manifests/2"] = Route(
        json.dumps({"schemaVersion": 2, "mediaType": kit.OCI_MANIFEST, "layers": []}).encode(),
        kit.OCI_MANIFEST,
    )
    with pytest.raises(InvalidImage, match="config"):
        await service.pull(f"{fake.host}/bad/manifest:2")


async def test_manifest_by_digest_must_match(fake, service):
    image = fake.serve_image("bad/digest", "1", GOOD)
    wrong = kit.digest_of(b"something else")
    fake.routes[f"/v2/bad/digest/manifests/{wrong}"] = Route(image["manifest"], kit.OCI_MANIFEST)
    with pytest.raises(DigestMismatch):
        await service.pull(f"{fake.host}/bad/digest@{wrong}")


async def test_unknown_media_types(fake, service):
    fake.serve_image("bad/type", "1", GOOD, layer_type="application/vnd.example.weird")
    with pytest.raises(UnsupportedMediaType, match=r"vnd\.example\.weird"):
        await service.pull(f"{fake.host}/bad/type:1")
    fake.routes["/v2/bad/type/manifests/2"] = Route(
        json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.example.manifest"}).encode(),
        "application/vnd.example.manifest",
    )
    with pytest.raises(UnsupportedMediaType, match="unsupported manifest media type"):
        await service.pull(f"{fake.host}/bad/type:2")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([kit.f("../evil", b"x")], "climbs out of the destination"),
        ([kit.f("a/../../evil", b"x")], "climbs out of the destination"),
        ([kit.f("ok", b"x"), kit.hard("hl", "../../etc/passwd")], "climbs out of the destination"),
        ([kit.d("a"), kit.d("a/b"), kit.f("a/b/.wh...", b"")], "whiteout of '..'"),
        ([kit.d("a"), kit.f("a/.wh..", b"")], "whiteout of '.'"),
    ],
)
async def test_layer_escaping_its_root(fake, service, entries, message):
    fake.serve_image("bad/escape", "1", [GOOD[0], kit.tar_bytes(entries)])
    with pytest.raises(UnsafeLayer, match=message):
        await service.pull(f"{fake.host}/bad/escape:1")
    assert not os.path.exists("/etc/evil")


@pytest.mark.parametrize(
    ("entries", "inside"),
    [
        ([kit.f("/etc/evil", b"x")], "etc/evil"),
        ([kit.d("etc"), kit.sym("link", "/etc"), kit.f("link/evil", b"x")], "etc/evil"),
        ([kit.d("etc"), kit.sym("up", ".."), kit.f("up/etc/evil", b"x")], "etc/evil"),
    ],
)
async def test_layer_names_and_symlinks_resolve_inside_the_layer(fake, data_root, entries, inside):
    """An absolute name means the layer root, and a symlink the layer made earlier is
    followed inside the layer's directory (as a chroot would): never onto the host."""
    fake.serve_image("odd/names", "1", [GOOD[0], kit.tar_bytes(entries)])
    async with ImageService(data_root) as images:
        await images.pull(f"{fake.host}/odd/names:1")
        layers = [p for p in images.layers_root.iterdir() if (p / "diff" / inside).is_file()]
    assert not os.path.exists("/etc/evil")
    assert len(layers) == 1


async def test_hard_link_to_a_directory_is_an_invalid_layer(fake, service):
    fake.serve_image("bad/link", "1", [kit.tar_bytes([kit.d("dir"), kit.hard("x", "dir")])])
    with pytest.raises(InvalidImage, match="cannot unpack"):
        await service.pull(f"{fake.host}/bad/link:1")


async def test_diff_id_mismatch(fake, service):
    image = fake.serve_image("bad/diff", "1", [SECOND])
    other = kit.compress(kit.tar_bytes([kit.f("other")]), "gzip")
    # a consistent manifest whose layer does not unpack to the config's diff ID
    manifest = json.loads(image["manifest"])
    manifest["layers"][0].update(digest=kit.digest_of(other), size=len(other))
    data = json.dumps(manifest).encode()
    fake.routes["/v2/bad/diff/manifests/1"] = Route(data, kit.OCI_MANIFEST)
    fake.routes[f"/v2/bad/diff/blobs/{kit.digest_of(other)}"] = Route(other)
    with pytest.raises(DigestMismatch, match="uncompressed content"):
        await service.pull(f"{fake.host}/bad/diff:1")
