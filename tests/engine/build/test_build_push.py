"""A built image is an ordinary image: pushed to the real registry (127.0.0.1) and pulled
back into a fresh store, it has the same ID, layers and files."""

from __future__ import annotations

import pytest
from images.conftest import needs_tools, registry

from engine.build import BuildContext, BuildOptions, build
from engine.images import ImageService

from .conftest import _unmount_below, needs_root

__all__ = ["registry"]

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_root, needs_tools]


async def test_push_and_pull_back(images, busybox_image, runc, registry, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "data.txt").write_text("payload\n")
    tag = f"{registry.host}/built/app:1"
    record = await build(
        BuildContext(context),
        BuildOptions(
            dockerfile_inline='FROM test/busybox\nCOPY data.txt /\nRUN rm /bin/vi\nCMD ["cat", "/data.txt"]\n',
            tags=[tag],
            network="none",
        ),
        images,
        runc,
    )
    await images.push(tag)
    other_root = tmp_path / "other"
    other_root.mkdir()
    try:
        async with ImageService(other_root) as fresh:
            pulled = await fresh.pull(tag)
            assert pulled.id == record.id
            assert [layer.diff_id for layer in pulled.layers] == [
                layer.diff_id for layer in record.layers
            ]
            assert fresh.config(pulled)["config"]["Cmd"] == ["cat", "/data.txt"]
            path = await fresh.mount(tag)
            try:
                assert (path / "data.txt").read_text() == "payload\n"
                assert not (path / "bin/vi").exists() and (path / "bin/sh").exists()
            finally:
                await fresh.umount(tag)
    finally:
        _unmount_below(other_root)
