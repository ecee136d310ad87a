"""The image service: what the daemon and engine.images.cli call. Async.

Lifecycle: ``async with ImageService(data_root) as images:`` opens the store under
``<data_root>/images`` and a registry client; ``pull`` -> ``mount_rootfs`` for
containers; ``remove``/``prune`` collect what no image uses any more.

Invariants:

1. A blob is in the store only if it verified; a layer dir exists only if complete.
2. Every blob and layer is fetched/unpacked once, even when pulls race (pull.py).
3. An image record is written last, when everything it refers to is in place. A
   pull that fails removes what it added that no image refers to: the store is
   as it was.
4. Layers unpack in parallel, while they download: a layer dir holds only its own
   diff, and chain IDs come from the config, so no layer waits for another.
5. Garbage collection removes blobs and layer dirs that no record refers to; it
   skips while pulls are running (the next collection catches up).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.errors import InvalidParameter
from engine.images import archive, overlay, unpack
from engine.images import manifest as mf
from engine.images.auth import Credentials, load_credentials
from engine.images.distribution import inspect_distribution
from engine.images.errors import ImageInUse, ImageNotFound, InvalidImage, InvalidReference
from engine.images.ingest import ingest_image
from engine.images.progress import (
    Progress,
    ProgressCallback,
    ignore_progress,
    short_digest,
)
from engine.images.pull import Added, Fetcher
from engine.images.push import push_blobs
from engine.images.reference import Reference, is_image_id, parse_reference
from engine.images.registry import RegistryClient
from engine.images.store import (
    DEFAULT_DATA_ROOT,
    BlobStore,
    ImageRecord,
    ImageRecords,
    check_digest,
)

DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3
DEFAULT_MAX_CONCURRENT_UNPACKS = 3


class ImageService:
    """Images under ``<data_root>/images``.

    Args:
        data_root: the engine's data root (``/var/lib/pycompose`` by default).
        docker_config: the Docker ``config.json`` holding registry credentials.
        insecure_registries: hosts (``host:port``) to reach over plain HTTP.
        max_concurrent_downloads, max_concurrent_unpacks: bounds of the pull pipeline.
        in_use: tells whether a container uses an image ID (refuses removal).
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        data_root: Path = DEFAULT_DATA_ROOT,
        *,
        docker_config: Path | None = None,
        credentials: dict[str, Credentials] | None = None,
        insecure_registries: Iterable[str] = (),
        max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT_DOWNLOADS,
        max_concurrent_unpacks: int = DEFAULT_MAX_CONCURRENT_UNPACKS,
        in_use: Callable[[str], bool] | None = None,
        platform: mf.Platform | None = None,
        transport: Any = None,
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
        self._docker_config = docker_config
        self._credentials = credentials
        self._insecure = tuple(insecure_registries)
        self._transport = transport
        self._registry: RegistryClient | None = None
        self.fetcher = Fetcher(
            self.blobs,
            self.layers_root,
            self.links_root,
            self.registry,
            max_concurrent_downloads=max_concurrent_downloads,
            max_concurrent_unpacks=max_concurrent_unpacks,
        )
        self._push_limiter = anyio.CapacityLimiter(max_concurrent_downloads)
        self._active_pulls = 0

    async def __aenter__(self) -> ImageService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._registry is not None:
            await self._registry.aclose()
            self._registry = None
        self.records.close()

    async def _open_registry(self) -> RegistryClient:
        """The registry client, its credentials read in a worker thread (helpers run)."""
        if self._registry is None and self._credentials is None:
            self._credentials = await anyio.to_thread.run_sync(
                load_credentials, self._docker_config
            )
        return self.registry()

    async def _client_for(self, ref: Reference, credentials: Credentials | None) -> RegistryClient:
        """The engine's registry client, or a view of it with only the request's own
        ``credentials`` for ``ref``'s registry (and tokens of its own)."""
        client = await self._open_registry()
        if credentials is None:
            return client
        return client.with_credentials({ref.domain: credentials})

    def registry(self) -> RegistryClient:
        if self._registry is None:
            credentials = self._credentials
            if credentials is None:
                credentials = load_credentials(self._docker_config)
            self._registry = RegistryClient(
                credentials=credentials,
                insecure_registries=self._insecure,
                transport=self._transport,
            )
        return self._registry

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

    async def distribution(
        self, reference: str, credentials: Credentials | None
    ) -> dict[str, Any]:
        """What the registry holds under ``reference`` (``GET /distribution/{name}/json``)."""
        ref = parse_reference(reference)
        return await inspect_distribution(await self._client_for(ref, credentials), ref)

    # ------------------------------------------------------------------ pull

    async def pull(
        self,
        reference: str,
        *,
        platform: mf.Platform | str | None = None,
        progress: ProgressCallback | None = None,
        credentials: Credentials | None = None,
    ) -> ImageRecord:
        """Pull ``reference`` for ``platform`` (the host's by default); return its record.

        ``credentials`` (an API client's ``X-Registry-Auth``) are used for this pull only,
        with a token cache of its own; without them the engine's own Docker config's.

        Error handling: :class:`ImageNotFound` (no such repository/tag), :class:`AuthError`,
        :class:`DigestMismatch`, :class:`InvalidImage`, :class:`UnsupportedMediaType`,
        :class:`RegistryError`. On error the store is left as it was.
        """
        emit = progress or ignore_progress
        ref = parse_reference(reference)
        wanted = mf.parse_platform(platform) if isinstance(platform, str) else platform
        wanted = wanted or self.platform
        client = await self._client_for(ref, credentials)
        emit(Progress("", f"Pulling from {ref.familiar_name}"))
        data, media_type, top_digest = await client.get_manifest(ref)
        parsed = mf.parse(data, media_type)
        manifest_digest = top_digest
        if isinstance(parsed, mf.Index):
            chosen = mf.choose(parsed, wanted)
            data, media_type, manifest_digest = await client.get_manifest(ref, chosen.digest)
            parsed = mf.parse(data, media_type or chosen.media_type)
            if not isinstance(parsed, mf.Manifest):
                raise InvalidImage(f"{ref}: an index inside an index is not supported")
        added: Added = []
        self._active_pulls += 1
        try:
            record = await self.fetcher.pull_manifest(
                ref, parsed, data, manifest_digest, emit=emit, added=added, client=client
            )
            record = record.model_copy(
                update={
                    "repo_tags": (str(ref),) if ref.tag and not ref.digest else (),
                    "repo_digests": (f"{ref.name}@{top_digest}",),
                }
            )
            record = await anyio.to_thread.run_sync(self.records.add, record)
        except BaseException:
            with anyio.CancelScope(shield=True):
                self._active_pulls -= 1
                await anyio.to_thread.run_sync(self._forget, added)
            raise
        self._active_pulls -= 1
        emit(Progress("", f"Digest: {top_digest}"))
        emit(Progress("", f"Status: Downloaded image for {ref.familiar()}"))
        return record

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

    # ------------------------------------------------------------------ push

    async def push(
        self,
        reference: str,
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int | None = None,
        credentials: Credentials | None = None,
    ) -> str:
        """Push the local image named ``reference`` to its registry; return the manifest
        digest. ``credentials``: as for :meth:`pull`."""
        emit = progress or ignore_progress
        ref = parse_reference(reference)
        record = self.resolve(reference)
        manifest_bytes, media_type = await anyio.to_thread.run_sync(self._manifest_for, record)
        manifest = mf.parse(manifest_bytes, media_type)
        assert isinstance(manifest, mf.Manifest)
        client = await self._client_for(ref, credentials)
        sources = [
            parse_reference(d, default_tag=False).path
            for d in (*record.repo_digests, *record.repo_tags)
            if parse_reference(d, default_tag=False).domain == ref.domain
        ]
        sources = [s for s in dict.fromkeys(sources) if s != ref.path]
        emit(Progress("", f"The push refers to repository [{ref.name}]"))

        await push_blobs(
            client,
            ref,
            self.blobs,
            (*manifest.layers, manifest.config),
            mount_sources=sources,
            limiter=self._push_limiter,
            emit=emit,
            chunk_size=chunk_size,
        )
        tag = ref.tag or ref.digest or "latest"
        digest = await client.put_manifest(ref, tag, manifest_bytes, media_type)
        await anyio.to_thread.run_sync(
            self.records.add,
            record.model_copy(update={"repo_digests": (f"{ref.name}@{digest}",), "repo_tags": ()}),
        )
        emit(Progress("", f"{tag}: digest: {digest} size: {len(manifest_bytes)}"))
        return digest

    def _manifest_for(self, record: ImageRecord) -> tuple[bytes, str]:
        """The stored manifest, or one made from the record (images loaded from archives)."""
        if record.manifest_digest and self.blobs.has(record.manifest_digest):
            return (
                self.blobs.read_bytes(record.manifest_digest),
                record.manifest_media_type or mf.OCI_MANIFEST,
            )
        config_size = self.blobs.size(record.config_digest)
        doc = {
            "schemaVersion": 2,
            "mediaType": mf.OCI_MANIFEST,
            "config": {
                "mediaType": mf.OCI_CONFIG,
                "digest": record.config_digest,
                "size": config_size,
            },
            "layers": [
                {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                for layer in record.layers
            ],
        }
        data = json.dumps(doc, indent=2).encode()
        digest = self.blobs.write_bytes(data)
        self.records.add(
            record.model_copy(
                update={"manifest_digest": digest, "manifest_media_type": mf.OCI_MANIFEST}
            )
        )
        return data, mf.OCI_MANIFEST

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

    # ------------------------------------------------------- import / export

    async def load(self, path: Path, *, tag: str | None = None) -> list[ImageRecord]:
        """Load a ``docker save`` tar or an OCI layout (dir or tar); return the images.

        All or nothing: on error the store is left as it was.
        """
        images, close = await anyio.to_thread.run_sync(archive.read_archive, path, self.platform)
        loaded = []
        added: Added = []
        try:
            for image in images:
                names = list(image.names)
                if tag:
                    names.append(tag)
                loaded.append(
                    await ingest_image(
                        image,
                        names,
                        added,
                        blobs=self.blobs,
                        layers_root=self.layers_root,
                        links_root=self.links_root,
                    )
                )
            # records last: a failing archive leaves no image behind
            loaded = [await anyio.to_thread.run_sync(self.records.add, r) for r in loaded]
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._forget, added)
            raise
        finally:
            close()
        return loaded

    async def save(self, names: list[str], target: Path) -> None:
        """Write the images to a tar that ``docker load`` and OCI tools both read."""
        entries = []
        for name in names:
            record = self.resolve(name)
            manifest_bytes, media_type = await anyio.to_thread.run_sync(self._manifest_for, record)
            tags = [parse_reference(t).familiar() for t in record.repo_tags]
            with contextlib.suppress(InvalidReference):
                ref = parse_reference(name)
                if str(ref) in record.repo_tags:
                    tags = [ref.familiar()]
            entries.append(
                (
                    tags,
                    record.config_digest,
                    [layer.digest for layer in record.layers],
                    manifest_bytes,
                    media_type,
                )
            )
        tmp = target.with_name(f".{target.name}.tmp")

        def write() -> None:
            try:
                with tmp.open("wb") as handle:
                    archive.write_archive(handle, self.blobs, entries)
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        await anyio.to_thread.run_sync(write)
