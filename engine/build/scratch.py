"""A build step's root: an overlay of the stage's layers with a fresh upper dir, and its layer.

A step mounts the current layers under a new upper dir (``scratch_root``), copies or runs
in it, and unmounts; the upper dir then becomes the step's layer (``commit_layer``): written
as a tar with whiteouts and moved into the store as the layer's unpacked directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.build import files
from engine.build.instructions import Scope
from engine.images import manifest as mf
from engine.images import overlay, unpack
from engine.images.manager import ImageService
from engine.images.store import LayerRecord

STALE_AFTER = 600.0  # seconds


def config_bytes(config: Mapping[str, Any]) -> bytes:
    """An image config as stored: its digest is the image ID."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()


@dataclasses.dataclass(slots=True)
class StageState:
    """Where a stage is: its image config, layers, cache key and declared ARGs."""

    config: dict[str, Any]
    layers: list[LayerRecord]
    key: str
    scope: Scope

    @property
    def run_config(self) -> dict[str, Any]:
        section: dict[str, Any] = self.config.setdefault("config", {})
        return section

    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(config_bytes(self.config)).hexdigest()


@dataclasses.dataclass(slots=True)
class Scratch:
    """A step's root: overlay of the current layers + a fresh upper dir."""

    container_id: str
    base: Path
    merged: Path
    upper: Path
    mounted: list[Path] = dataclasses.field(default_factory=list)

    async def unmount_all(self) -> None:
        with anyio.CancelScope(shield=True):
            while self.mounted:
                await overlay.umount(self.mounted.pop())


@contextlib.asynccontextmanager
async def scratch_root(images_root: Path, layers: Sequence[LayerRecord]) -> AsyncIterator[Scratch]:
    """A step's root over ``layers``, removed (unmounted first) when the step ends."""
    container_id = "build-" + secrets.token_hex(8)
    base, upper, work = overlay.container_dirs(images_root, container_id)
    scratch = Scratch(container_id, base, base / "merged", upper)
    try:
        upper.mkdir(parents=True)
        work.mkdir()
        chains = [layer.chain_id for layer in layers]
        if chains:
            lowers = overlay.lower_dirs(images_root, chains)
        else:
            (images_root / "empty").mkdir(exist_ok=True)
            lowers = ["empty"]
        mount = overlay.Mount(
            "overlay",
            "overlay",
            (
                "lowerdir=" + ":".join(lowers),
                f"upperdir={upper}",
                f"workdir={work}",
                "index=off",
            ),
            cwd=images_root,
        )
        await overlay.mount(mount, scratch.merged)
        scratch.mounted.append(scratch.merged)
        yield scratch
    finally:
        with anyio.CancelScope(shield=True):
            await scratch.unmount_all()
            await anyio.to_thread.run_sync(shutil.rmtree, base, True)


async def mount_source(images_root: Path, scratch: Scratch, layers: Sequence[LayerRecord]) -> Path:
    """A read-only view of ``layers`` (a COPY --from source) inside the scratch dir."""
    target = scratch.base / "source"
    if not layers:
        target.mkdir()
        return target
    mount = overlay.overlay_mount(images_root, [layer.chain_id for layer in layers])
    await overlay.mount(mount, target)
    scratch.mounted.append(target)
    return target


async def commit_layer(
    images: ImageService,
    upper: Path,
    parents: Sequence[LayerRecord],
    *,
    move: bool = True,
    skip: Callable[[str, os.stat_result], bool] | None = None,
) -> LayerRecord:
    """An upper dir as a layer of the store: a step's is moved in, not extracted again;
    with ``move=False`` (a container's, still in use) the layer is unpacked from the blob.
    ``skip``: entries left out of the layer (see ``files.write_layer``)."""

    def work() -> LayerRecord:
        if skip is None:
            digest, diff_id, size = files.write_layer(upper, images.blobs)
        else:
            digest, diff_id, size = files.write_layer(upper, images.blobs, skip)
        chain_id = (
            "sha256:" + hashlib.sha256(f"{parents[-1].chain_id} {diff_id}".encode()).hexdigest()
            if parents
            else diff_id
        )
        final = unpack.layer_dir(images.layers_root, chain_id)
        if move and not final.is_dir():
            tmp = Path(tempfile.mkdtemp(dir=images.layers_root, prefix=".unpack-build-"))
            try:
                os.chmod(upper, 0o755)
                os.rename(upper, tmp / "diff")
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        unpack.unpack_layer(
            images.blobs.path(digest), images.layers_root, images.links_root, chain_id, diff_id
        )
        return LayerRecord(
            digest=digest,
            media_type=mf.OCI_LAYER_GZIP,
            size=size,
            diff_id=diff_id,
            chain_id=chain_id,
        )

    return await anyio.to_thread.run_sync(work)


def remove_stale_steps(images_root: Path, now: float | None = None) -> list[str]:
    """Remove the step directories a killed build left (``containers/build-*``): those
    not mounted and untouched for ``STALE_AFTER`` seconds. Blocking. Returns their names."""
    removed: list[str] = []
    base = images_root / "containers"
    if not base.is_dir():
        return removed
    moment = time.time() if now is None else now
    for entry in base.glob("build-*"):
        try:
            age = moment - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        mounted = any(overlay.is_mounted(entry / name) for name in ("merged", "source"))
        if age < STALE_AFTER or mounted:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed
