"""Union mounts: the image seen through overlayfs equals umoci's unpacking of it."""

from __future__ import annotations

import os
import subprocess

import pytest

from engine.images import ImageService
from engine.images.overlay import is_mounted

from . import imagekit as kit
from .conftest import needs_tools
from .treewalk import describe

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


def umoci_unpack(layout, tag, bundle):
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return bundle / "rootfs"


# umoci 0.4 cannot read zstd layers: the zstd image has the layered image's diffs
@pytest.mark.parametrize(
    ("tag", "same_as"), [("layered", "layered"), ("zstd", "two"), ("base", "base")]
)
async def test_image_mount_equals_umoci_unpack(
    pushed, busybox_layout, data_root, tmp_path, tag, same_as
):
    rootfs = umoci_unpack(busybox_layout, same_as, tmp_path / "bundle")
    expected = describe(str(rootfs))
    async with ImageService(data_root) as images:
        await images.pull(f"{pushed.host}/test/{tag}")
        path = await images.mount(f"{pushed.host}/test/{tag}")
        try:
            assert is_mounted(path)
            seen = describe(str(path))
        finally:
            await images.umount(f"{pushed.host}/test/{tag}")
        assert not is_mounted(path)
    assert seen == expected
    if tag == "layered":
        assert "data/gone" not in seen and "data/sub" not in seen
        assert "opaque/hidden" not in seen and "opaque/new" in seen
        assert seen["special/setuid"][1] == 0o4755
        assert seen["special/owned"][2:4] == (1234, 5678)


async def test_container_root_is_a_writable_overlay(pushed, data_root, tmp_path):
    target = tmp_path / "rootfs"
    async with ImageService(data_root) as images:
        record = await images.pull(f"{pushed.host}/test/layered")
        mounts = await images.mount_rootfs("c1", record, target)
        try:
            assert mounts[0].type == "overlay"
            assert any(o.startswith("upperdir=") for o in mounts[0].options)
            (target / "new-file").write_text("hello")
            os.unlink(target / "data" / "keep")
            upper = images.root / "containers" / "c1" / "upper"
            assert (upper / "new-file").read_text() == "hello"
            assert os.path.exists(target / "bin" / "busybox")
            out = subprocess.run(
                ["chroot", str(target), "/bin/cat", "/etc/passwd"], capture_output=True, check=True
            )
            assert out.stdout.startswith(b"root:")
        finally:
            await images.remove_rootfs("c1", target)
        assert not (images.root / "containers" / "c1").exists()
        # the image's own layer is untouched
        top = images.layers_root / record.layers[1].chain_id[7:] / "diff"
        assert (top / "data" / "keep").exists()


async def test_more_layers_than_one_mount_option_page(data_root, tmp_path):
    layout = kit.Layout(tmp_path / "many")
    layers = [kit.busybox_entries()] + [[kit.f(f"file{i}", f"{i}\n".encode())] for i in range(140)]
    layout.tag(layout.image(layers, compression="none"), "many")
    async with ImageService(data_root) as images:
        [record] = await images.load(tmp_path / "many", tag="example.com/many:1")
        assert len(record.layers) == 141
        path = await images.mount("example.com/many:1")
        try:
            assert sorted(os.listdir(path)) == sorted(
                ["bin", "etc", "tmp", *(f"file{i}" for i in range(140))]
            )
        finally:
            await images.umount("example.com/many:1")
