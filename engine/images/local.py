"""The images held on this host, without a registry: lookup, inspect, tag, remove, prune,
garbage collection, and their overlay mounts (read-only, and containers' roots). Async where
it waits on a worker thread or a mount.

:class:`engine.images.manager.ImageService` extends :class:`LocalImages` with the transfers
(pull, push, load, save). Garbage collection removes blobs and layer dirs that no record
refers to; it skips while pulls or other writers run (:meth:`LocalImages.gc_paused`), and
the next collection catches up.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.errors import InvalidParameter
from engine.images import manifest as mf
from engine.images import overlay, unpack
from engine.images.errors import ImageInUse, ImageNotFound, InvalidImage, InvalidReference
from engine.images.progress import short_digest
from engine.images.pull import Added
from engine.images.reference import Reference, is_image_id, parse_reference
from engine.images.store import (
    DEFAULT_DATA_ROOT,
    BlobStore,
    ImageRecord,
    ImageRecords,
    check_digest,
)


class LocalImages:
    """The store under ``<data_root>/images``: blobs, image records, layer dirs, mounts.

    Args:
        data_root: the engine's data root (``/var/lib/pycompose`` by default).
        in_use: tells whether a container uses an image ID (refuses removal).
        platform: the platform images are for (the host's by default).
    """

    def __init__(
        self,
        data_root: Path = DEFAULT_DATA_ROOT,
        *,
        in_use: Callable[[str], bool] | None = None,
        platform: mf.Platform | None = None,
    ) -> None:
        self.root = Path(data_root) / "images"
        self.blobs = BlobStore(self.root)
        self.records = ImageRecords(self.root / "images.db")
        self.layers_root = self.root / "layers"
        self.links_root = self.root / "l"
        self.layers_root.mkdir(exist_ok=True)
        self.links_root.mkdir(exist_ok=True)
        self.platform = platform or mf.host()
        self._in_use = in_use or (lambda _image_id: False)
        self._active_pulls = 0

    async def aclose(self) -> None:
        self.records.close()

    # ---------------------------------------------------------------- lookup

    def images(self) -> list[ImageRecord]:
        return self.records.all()

    def resolve(self, name: str) -> ImageRecord:
        """The image named by a reference, a full ID or an unambiguous ID prefix."""
        records = self.records.all()
        if is_image_id(name):
            wanted = "sha256:" + name.removeprefix("sha256:")
            for record in records:
                if record.id == wanted:
                    return record
            raise ImageNotFound(f"No such image: {name}")
        ref: Reference | None = None
        with contextlib.suppress(InvalidReference):
            ref = parse_reference(name)
        if ref is not None:
            for record in records:
                if ref.digest is None and str(ref) in record.repo_tags:
                    return record
                if ref.digest is not None and (
                    f"{ref.name}@{ref.digest}" in record.repo_digests
                    or (
                        record.manifest_digest == ref.digest
                        and any(d.startswith(ref.name + "@") for d in record.repo_digests)
                    )
                ):
                    return record
        if re.fullmatch(r"(sha256:)?[0-9a-f]{4,64}", name):
            prefix = "sha256:" + name.removeprefix("sha256:")
            matches = [r for r in records if r.id.startswith(prefix)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"image ID prefix {name!r} is ambiguous; give more digits")
        if ref is None:
            parse_reference(name)  # raises the reason it is not a reference
        raise ImageNotFound(f"No such image: {name}", hint="pull it first: pycompose image pull")

    def config(self, record: ImageRecord) -> dict[str, Any]:
        return mf.parse_config(self.blobs.read_bytes(record.config_digest))

    def inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``GET /images/{name}/json`` shape."""
        record = self.resolve(name)
        config = self.config(record)
        chains = [layer.chain_id for layer in record.layers]
        lower = [str(unpack.layer_dir(self.layers_root, c) / "diff") for c in reversed(chains)]
        return {
            "Id": record.id,
            "RepoTags": [parse_reference(t).familiar() for t in record.repo_tags],
            "RepoDigests": [parse_reference(d).familiar() for d in record.repo_digests],
            "Parent": "",
            "Comment": config.get("comment", ""),
            "Created": config.get("created", record.created or ""),
            "Author": config.get("author", ""),
            "Config": config.get("config") or {},
            "Architecture": config.get("architecture", record.architecture),
            "Variant": config.get("variant"),
            "Os": config.get("os", record.os),
            "Size": record.size,
            "GraphDriver": {
                "Name": "overlay2",
                "Data": {"LowerDir": ":".join(lower[1:]), "UpperDir": lower[0] if lower else ""},
            },
            "RootFS": {"Type": "layers", "Layers": config["rootfs"]["diff_ids"]},
            "Metadata": {"LastTagTime": record.last_tag_time or "0001-01-01T00:00:00Z"},
            "History": config.get("history") or [],
        }

    # --------------------------------------------------------- tag, remove, gc

    def tag(self, source: str, target: str) -> ImageRecord:
        record = self.resolve(source)
        ref = parse_reference(target)
        if ref.digest:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        return self.records.tag(record.id, str(ref))

    async def remove(self, name: str, *, force: bool = False) -> list[dict[str, str]]:
        """Docker's ``DELETE /images/{name}``: untag, and delete when no tag is left.

        Refused (:class:`ImageInUse`) when a container uses the image, or when an ID
        names an image with several tags, unless ``force``. Forced removal of an image in
        use only untags it, as Docker does.
        """
        record = self.resolve(name)
        report: list[dict[str, str]] = []
        by_tag: str | None = None
        with contextlib.suppress(InvalidReference):
            ref = parse_reference(name)
            if str(ref) in record.repo_tags:
                by_tag = str(ref)
        short = short_digest(record.id)
        in_use = self._in_use(record.id) or self._is_mounted(record)
        if by_tag and len(record.repo_tags) > 1:
            await anyio.to_thread.run_sync(self.records.untag, record.id, by_tag)
            return [{"Untagged": parse_reference(by_tag).familiar()}]
        if not by_tag and len(record.repo_tags) > 1 and not force:
            raise ImageInUse(
                f"conflict: unable to delete {short} (must be forced) - image is referenced "
                "in multiple repositories"
            )
        if in_use:
            if not force:
                raise ImageInUse(
                    f"conflict: unable to remove repository reference {name!r} (must force) - "
                    f"image {short} is being used by a container or is mounted"
                )
            for tag in record.repo_tags:
                await anyio.to_thread.run_sync(self.records.untag, record.id, tag)
                report.append({"Untagged": parse_reference(tag).familiar()})
            return report
        for tag in record.repo_tags:
            report.append({"Untagged": parse_reference(tag).familiar()})
        for digest in record.repo_digests:
            report.append({"Untagged": parse_reference(digest, default_tag=False).familiar()})
        await anyio.to_thread.run_sync(self.records.remove, record.id)
        report.append({"Deleted": record.id})
        deleted = await anyio.to_thread.run_sync(self.collect_garbage)
        report += [{"Deleted": chain} for chain in deleted if chain != record.id]
        return report

    async def prune(self, *, all_images: bool = False) -> list[dict[str, str]]:
        """Remove dangling images (no tag), or with ``all_images`` every unused image."""
        report: list[dict[str, str]] = []
        for record in self.records.all():
            if record.repo_tags and not all_images:
                continue
            if self._in_use(record.id) or self._is_mounted(record):
                continue
            for tag in record.repo_tags:
                report.append({"Untagged": parse_reference(tag).familiar()})
            await anyio.to_thread.run_sync(self.records.remove, record.id)
            report.append({"Deleted": record.id})
        await anyio.to_thread.run_sync(self.collect_garbage)
        return report

    def _referenced(self) -> tuple[set[str], set[str]]:
        blobs: set[str] = set()
        chains: set[str] = set()
        for record in self.records.all():
            blobs.add(record.config_digest)
            if record.manifest_digest:
                blobs.add(record.manifest_digest)
            for layer in record.layers:
                blobs.add(layer.digest)
                chains.add(layer.chain_id)
        return blobs, chains

    @contextlib.contextmanager
    def gc_paused(self) -> Iterator[None]:
        """Hold garbage collection off (as a running pull does): for writers such as a build
        that add blobs and layers before the record that refers to them."""
        self._active_pulls += 1
        try:
            yield
        finally:
            self._active_pulls -= 1

    def collect_garbage(self) -> list[str]:
        """Delete blobs and layer dirs no image refers to; return the removed chain IDs."""
        if self._active_pulls:
            return []
        blobs, chains = self._referenced()
        for digest in list(self.blobs.digests()):
            if digest not in blobs:
                self.blobs.delete(digest)
        removed = []
        for entry in os.scandir(self.layers_root):
            chain_id = "sha256:" + entry.name
            if entry.name.startswith(".unpack-"):
                shutil.rmtree(entry.path, ignore_errors=True)
            elif chain_id not in chains:
                self._remove_layer(chain_id)
                removed.append(chain_id)
        return removed

    def _remove_layer(self, chain_id: str) -> None:
        with contextlib.suppress(InvalidImage):
            check_digest(chain_id)
            with contextlib.suppress(FileNotFoundError):
                unpack.short_link(self.links_root, chain_id).unlink()
            path = unpack.layer_dir(self.layers_root, chain_id)
            if path.is_dir():
                shutil.rmtree(path)

    def _forget(self, added: Added) -> None:
        """Undo a failed pull or load: drop what it added that no record refers to."""
        if self._active_pulls:
            return
        blobs, chains = self._referenced()
        for kind, digest in added:
            if kind == "blob" and digest not in blobs:
                self.blobs.delete(digest)
            elif kind == "layer" and digest not in chains:
                self._remove_layer(digest)

    # ---------------------------------------------------------------- mounts

    def _mount_point(self, record: ImageRecord) -> Path:
        return self.root / "mounts" / check_digest(record.id) / "merged"

    def _is_mounted(self, record: ImageRecord) -> bool:
        return overlay.is_mounted(self._mount_point(record))

    async def mount(self, name: str) -> Path:
        """Mount the image read-only (as ``podman image mount``); return the path."""
        record = self.resolve(name)
        target = self._mount_point(record)
        if not overlay.is_mounted(target):
            spec = overlay.overlay_mount(self.root, [layer.chain_id for layer in record.layers])
            await overlay.mount(spec, target)
        return target

    async def umount(self, name: str) -> Path:
        record = self.resolve(name)
        target = self._mount_point(record)
        await overlay.umount(target)
        with contextlib.suppress(OSError):
            target.rmdir()
            target.parent.rmdir()
        return target

    def prepare_rootfs(self, container_id: str, image: str | ImageRecord) -> list[overlay.Mount]:
        """The container's root file system: one overlay mount (not made: see overlay.mount)."""
        record = image if isinstance(image, ImageRecord) else self.resolve(image)
        return overlay.prepare_rootfs(
            self.root, container_id, [layer.chain_id for layer in record.layers]
        )

    async def mount_rootfs(
        self, container_id: str, image: str | ImageRecord, target: Path | None = None
    ) -> list[overlay.Mount]:
        """Prepare the container's root; mount it on ``target`` too when given."""
        mounts = self.prepare_rootfs(container_id, image)
        if target is not None:
            for spec in mounts:
                await overlay.mount(spec, target)
        return mounts

    async def remove_rootfs(self, container_id: str, target: Path | None = None) -> None:
        if target is not None:
            await overlay.umount(target)
        await anyio.to_thread.run_sync(overlay.remove_rootfs, self.root, container_id)
