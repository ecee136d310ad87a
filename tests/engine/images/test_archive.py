"""docker save archives and OCI layouts: load, save, and what other tools make of them."""

from __future__ import annotations

import subprocess

import pytest

from engine.images import ImageService, InvalidImage

from .conftest import needs_tools
from .treewalk import describe

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


def skopeo_copy(source: str, dest: str) -> None:
    subprocess.run(
        ["skopeo", "copy", "--quiet", source, dest], check=True, capture_output=True, timeout=120
    )


async def mounted_tree(images, name):
    path = await images.mount(name)
    try:
        return describe(str(path))
    finally:
        await images.umount(name)


async def test_save_load_round_trip_and_other_tools_read_it(pushed, data_root, tmp_path):
    name = f"{pushed.host}/test/layered:latest"
    archive = tmp_path / "saved.tar"
    async with ImageService(data_root) as images:
        record = await images.pull(name)
        expected = await mounted_tree(images, name)
        await images.save([name], archive)
    async with ImageService(tmp_path / "fresh") as images:
        [loaded] = await images.load(archive)
        assert loaded.id == record.id
        assert loaded.repo_tags == (name,)
        assert await mounted_tree(images, name) == expected
    # skopeo reads it both as a docker archive and as an OCI archive; umoci unpacks that
    skopeo_copy(f"docker-archive:{archive}", f"oci:{tmp_path / 'from-docker'}:x")
    skopeo_copy(f"oci-archive:{archive}", f"oci:{tmp_path / 'from-oci'}:x")
    subprocess.run(
        ["umoci", "unpack", "--image", f"{tmp_path / 'from-oci'}:x", str(tmp_path / "bundle")],
        check=True,
        capture_output=True,
    )
    assert describe(str(tmp_path / "bundle" / "rootfs")) == expected


async def test_load_a_docker_archive_written_by_skopeo(busybox_layout, data_root, tmp_path):
    archive = tmp_path / "docker.tar"
    skopeo_copy(f"oci:{busybox_layout}:layered", f"docker-archive:{archive}:example.com/a/b:7")
    subprocess.run(
        ["umoci", "unpack", "--image", f"{busybox_layout}:layered", str(tmp_path / "bundle")],
        check=True,
        capture_output=True,
    )
    async with ImageService(data_root) as images:
        [record] = await images.load(archive)
        assert record.repo_tags == ("example.com/a/b:7",)
        assert await mounted_tree(images, "example.com/a/b:7") == describe(
            str(tmp_path / "bundle" / "rootfs")
        )


async def test_load_oci_layout_dir_and_tar_with_platform_choice(
    busybox_layout, data_root, tmp_path
):
    tar = tmp_path / "layout.tar"
    subprocess.run(["tar", "-C", str(busybox_layout), "-cf", str(tar), "."], check=True)
    async with ImageService(data_root) as images:
        loaded = await images.load(busybox_layout)
        assert len(loaded) == 5  # base, layered, zstd, two, multi (amd64 chosen)
        assert all(not r.repo_tags for r in loaded)  # ref.name is only a tag here
        from_tar = await images.load(tar)
        assert [r.id for r in from_tar] == [r.id for r in loaded]


async def test_not_an_archive(data_root, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar")
    async with ImageService(data_root) as images:
        with pytest.raises(InvalidImage):
            await images.load(junk)


async def test_load_with_an_escaping_layer_leaves_the_store_as_it_was(data_root, tmp_path):
    from engine.images import UnsafeLayer

    from . import imagekit as kit

    layout = kit.Layout(tmp_path / "evil")
    good = layout.image([[kit.f("a", b"a")]])
    layout.tag(good, "good")
    layout.tag(layout.image([[kit.f("b", b"b")], [kit.f("../../escape", b"x")]]), "evil")
    async with ImageService(data_root) as images:
        with pytest.raises(UnsafeLayer, match="climbs out of the destination"):
            await images.load(tmp_path / "evil")
        assert images.images() == []
        assert list(images.blobs.digests()) == []
        assert [p.name for p in images.layers_root.iterdir()] == []
    assert not (tmp_path / "escape").exists()
