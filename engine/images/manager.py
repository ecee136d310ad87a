"""The image service: what the daemon and engine.images.cli call. Async.

Lifecycle: ``async with ImageService(data_root) as images:`` opens the store under
``<data_root>/images`` and a registry client; ``pull`` -> ``mount_rootfs`` for
containers; ``remove``/``prune`` collect what no image uses any more.

:class:`ImageService` is the images held on this host (:class:`engine.images.local.LocalImages`:
lookup, tag, remove, prune, garbage collection, mounts) and the ways images come and go:
the registry (pull, push, distribution) and archives (load, save).

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.images import archive
from engine.images import manifest as mf
from engine.images.auth import Credentials, load_credentials
from engine.images.distribution import inspect_distribution
from engine.images.errors import InvalidImage, InvalidReference
from engine.images.ingest import ingest_image
from engine.images.local import LocalImages
from engine.images.progress import Progress, ProgressCallback, ignore_progress
from engine.images.pull import Added, Fetcher
from engine.images.push import push_blobs
from engine.images.reference import Reference, parse_reference
from engine.images.registry import RegistryClient
from engine.images.store import DEFAULT_DATA_ROOT, ImageRecord

DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3
DEFAULT_MAX_CONCURRENT_UNPACKS = 3


class ImageService(LocalImages):
    """Images under ``<data_root>/images``, pulled, pushed, loaded and saved.

    Args:
        data_root, in_use, platform: as for :class:`LocalImages`.
        docker_config: the Docker ``config.json`` holding registry credentials.
        insecure_registries: hosts (``host:port``) to reach over plain HTTP.
        max_concurrent_downloads, max_concurrent_unpacks: bounds of the pull pipeline.
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
        super().__init__(data_root, in_use=in_use, platform=platform)
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

    async def __aenter__(self) -> ImageService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._registry is not None:
            await self._registry.aclose()
            self._registry = None
        await super().aclose()

    # -------------------------------------------------------------- registry

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

    async def distribution(self, reference: str, credentials: Credentials | None) -> dict[str, Any]:
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
