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
        # a build in an empty store pulls its base image
        third_root = tmp_path / "third"
        third_root.mkdir()
        async with ImageService(third_root) as empty:
            events = []
            child = await build(
                BuildContext(context),
                BuildOptions(
                    dockerfile_inline=f"FROM {tag}\nRUN cat /data.txt > /copy.txt\n",
                    tags=["test/child"],
                    network="none",
                ),
                empty,
                runc,
                events.append,
            )
            assert f"Pulling {tag}\n" in [event.stream for event in events]
            assert [layer.diff_id for layer in child.layers[:-1]] == [
                layer.diff_id for layer in record.layers
            ]
            path = await empty.mount("test/child")
            try:
                assert (path / "copy.txt").read_text() == "payload\n"
            finally:
                await empty.umount("test/child")
    finally:
        _unmount_below(other_root)
        _unmount_below(tmp_path / "third")
