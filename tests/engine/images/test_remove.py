"""Removal and garbage collection: shared layers stay, unused ones go; images in use stay."""

from __future__ import annotations

import os

import pytest

from engine.images import ImageInUse, ImageNotFound, ImageService

from .conftest import needs_tools

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


def contents(images):
    return (
        sorted(os.listdir(images.blobs.blobs_dir)),
        sorted(os.listdir(images.layers_root)),
        sorted(os.listdir(images.links_root)),
    )


async def test_removal_frees_what_no_other_image_uses(pushed, data_root):
    async with ImageService(data_root) as images:
        base = await images.pull(f"{pushed.host}/test/base")
        layered = await images.pull(f"{pushed.host}/test/layered")
        report = await images.remove(f"{pushed.host}/test/layered")
        assert {"Deleted": layered.id} in report
        blobs, layers, links = contents(images)
        assert layers == [base.layers[0].chain_id[7:]]
        assert len(links) == 1
        assert set(blobs) == {
            base.config_digest[7:],
            base.manifest_digest[7:],
            base.layers[0].digest[7:],
        }
        await images.remove(base.id)
        assert contents(images) == ([], [], [])
        assert images.images() == []
        with pytest.raises(ImageNotFound):
            images.resolve(f"{pushed.host}/test/base")


async def test_tags_and_forced_removal(pushed, data_root):
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/base")
        images.tag(f"{pushed.host}/test/base", "example.com/other:1")
        with pytest.raises(ImageInUse, match="referenced in multiple repositories"):
            await images.remove(record.id)
        assert await images.remove("example.com/other:1") == [{"Untagged": "example.com/other:1"}]
        images.tag(record.id, "example.com/other:2")
        report = await images.remove(record.id[7:19], force=True)
        assert {"Deleted": record.id} in report
        assert images.images() == []


async def test_image_used_by_a_container_is_kept(pushed, data_root):
    used: set[str] = set()
    async with ImageService(data_root, in_use=used.__contains__) as images:
        record = await images.pull(f"{pushed.host}/test/base")
        used.add(record.id)
        with pytest.raises(ImageInUse, match="being used by a container"):
            await images.remove(f"{pushed.host}/test/base")
        assert await images.prune(all_images=True) == []
        # forced: untagged, as Docker does, but the layers stay for the container
        await images.remove(f"{pushed.host}/test/base", force=True)
        assert images.resolve(record.id).repo_tags == ()
        assert contents(images)[1] == [record.layers[0].chain_id[7:]]
        used.clear()
        assert {"Deleted": record.id} in await images.prune()
        assert contents(images) == ([], [], [])


async def test_prune_removes_dangling_images_only(pushed, data_root):
    async with ImageService(data_root) as images:
        base = await images.pull(f"{pushed.host}/test/base")
        layered = await images.pull(f"{pushed.host}/test/layered")
        images.tag(base.id, f"{pushed.host}/test/layered")  # the tag moves: layered dangles
        assert images.resolve(layered.id).repo_tags == ()
        report = await images.prune()
        assert report == [{"Deleted": layered.id}]
        assert [r.id for r in images.images()] == [base.id]


async def test_no_collection_while_paused(pushed, data_root):
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/base")
        images.records.remove(record.id)  # as if a writer had not yet recorded it
        with images.gc_paused():
            assert images.collect_garbage() == []
            assert images.blobs.has(record.layers[0].digest)
        assert images.collect_garbage() == [record.layers[0].chain_id]
        assert list(images.blobs.digests()) == []
