"""The pull pipeline: fetch an image's blobs and unpack its layers, each once. Async.

Given a parsed manifest, :meth:`Fetcher.pull_manifest` fetches the config, then runs
one task per layer in a task group. A layer whose blob and unpacked dir are both
there is skipped ("Already exists"); a new one is downloaded and unpacked at the
same time (the extractor reads the blob file as it grows, see
:class:`~engine.images.unpack.GrowingFile`); otherwise the missing half is done.

Rules:

1. Each blob is downloaded once and each chain ID unpacked once, even when pulls
   race: the first registers an ``anyio.Event`` per digest (per chain ID), the
   others wait for it and then find the result in the store.
2. Downloads and unpacks each have a bound (``CapacityLimiter``); blocking work
   runs in worker threads.
3. Everything the pipeline adds is listed in ``added`` (("blob", digest) or
   ("layer", chain ID)) *before* it is made, so that a failed or cancelled pull
   can be undone by the caller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread

from engine.images import manifest as mf
from engine.images import unpack
from engine.images.errors import InvalidImage
from engine.images.progress import Progress, ProgressCallback, first_error, short_digest
from engine.images.reference import Reference
from engine.images.registry import RegistryClient
from engine.images.store import BlobStore, ImageRecord, LayerRecord

Added = list[tuple[str, str]]


class Fetcher:
    """Fetches and unpacks into one store; shared by every pull of an ImageService."""

    def __init__(
        self,
        blobs: BlobStore,
        layers_root: Path,
        links_root: Path,
        registry: Callable[[], RegistryClient],
        *,
        max_concurrent_downloads: int,
        max_concurrent_unpacks: int,
    ) -> None:
        self.blobs = blobs
        self.layers_root = layers_root
        self.links_root = links_root
        self._registry = registry
        self._limiter = anyio.CapacityLimiter(max_concurrent_downloads)
        self._unpack_limiter = anyio.CapacityLimiter(max_concurrent_unpacks)
        self._downloads: dict[str, anyio.Event] = {}
        self._unpacks: dict[str, anyio.Event] = {}

    async def pull_manifest(
        self,
        ref: Reference,
        manifest: mf.Manifest,
        data: bytes,
        manifest_digest: str,
        *,
        emit: ProgressCallback,
        added: Added,
        client: RegistryClient | None = None,
    ) -> ImageRecord:
        """Fetch and unpack what ``manifest`` names; ``client`` is the request's own (its
        credentials), else the service's."""
        client = client or self._registry()
        await self.ensure_blob(ref, manifest.config, emit, added, quiet=True, client=client)
        config = mf.parse_config(self.blobs.read_bytes(manifest.config.digest))
        diff_ids: list[str] = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest.layers):
            raise InvalidImage(
                f"{ref}: the manifest has {len(manifest.layers)} layers but the config "
                f"lists {len(diff_ids)} diff IDs"
            )
        chains = mf.chain_ids(diff_ids)
        with first_error():
            async with anyio.create_task_group() as task_group:
                for i, layer in enumerate(manifest.layers):
                    task_group.start_soon(
                        functools.partial(
                            self._pull_layer,
                            ref,
                            layer,
                            diff_id=diff_ids[i],
                            chain_id=chains[i],
                            emit=emit,
                            added=added,
                            client=client,
                        )
                    )
        added.append(("blob", manifest_digest))  # before: a cancelled wait may follow a done write
        await anyio.to_thread.run_sync(self.blobs.write_bytes, data, manifest_digest)
        return ImageRecord(
            id=manifest.config.digest,
            manifest_digest=manifest_digest,
            manifest_media_type=manifest.media_type,
            config_digest=manifest.config.digest,
            layers=tuple(
                LayerRecord(
                    digest=layer.digest,
                    media_type=layer.media_type,
                    size=layer.size,
                    diff_id=diff_ids[i],
                    chain_id=chains[i],
                )
                for i, layer in enumerate(manifest.layers)
            ),
            **mf.record_fields(config),
        )

    async def _pull_layer(
        self,
        ref: Reference,
        layer: mf.Descriptor,
        *,
        diff_id: str,
        chain_id: str,
        emit: ProgressCallback,
        added: Added,
        client: RegistryClient,
    ) -> None:
        short = short_digest(layer.digest)
        if self.blobs.has(layer.digest) and unpack.layer_dir(self.layers_root, chain_id).is_dir():
            emit(Progress(short, "Already exists", layer.size, layer.size))
            return
        if (
            self.blobs.has(layer.digest)
            or layer.digest in self._downloads
            or chain_id in self._unpacks
            or unpack.layer_dir(self.layers_root, chain_id).is_dir()
        ):
            await self.ensure_blob(ref, layer, emit, added, client=client)
            await self._ensure_unpacked(layer.digest, diff_id, chain_id, emit, added)
        else:
            await self._download_and_unpack(layer, ref, diff_id, chain_id, emit, added, client)
        emit(Progress(short, "Pull complete", layer.size, layer.size))

    async def _download_and_unpack(
        self,
        layer: mf.Descriptor,
        ref: Reference,
        diff_id: str,
        chain_id: str,
        emit: ProgressCallback,
        added: Added,
        client: RegistryClient,
    ) -> None:
        """Unpack the layer while it downloads: the extractor reads the blob as it grows.

        The layer dir appears only once the blob verified (the reader sees its end only
        after the commit) and its diff ID matched; on any failure both are discarded.
        """
        digest, short = layer.digest, short_digest(layer.digest)
        downloaded = self._downloads[digest] = anyio.Event()
        unpacked = self._unpacks[chain_id] = anyio.Event()
        started = anyio.Event()
        try:
            with (
                await anyio.to_thread.run_sync(self.blobs.ingest) as ingest,
                unpack.GrowingFile(ingest.path) as feed,
            ):
                download_done = anyio.Event()
                download_ok = False

                async def download() -> None:
                    nonlocal download_ok
                    try:
                        async with self._limiter:
                            started.set()
                            emit(Progress(short, "Downloading", 0, layer.size))

                            def on_bytes(count: int) -> None:
                                feed.advance(count)
                                emit(Progress(short, "Downloading", count, layer.size))

                            await client.fetch_blob(ref, layer, ingest, on_bytes)
                            emit(Progress(short, "Verifying Checksum", ingest.size, layer.size))
                            added.append(("blob", digest))
                            await anyio.to_thread.run_sync(ingest.commit, digest, layer.size)
                        download_ok = True
                        feed.finish()
                        emit(Progress(short, "Download complete", layer.size, layer.size))
                    except BaseException:
                        feed.fail()
                        started.set()
                        raise
                    finally:
                        download_done.set()

                async def extract() -> None:
                    await started.wait()
                    emit(Progress(short, "Extracting"))
                    added.append(("layer", chain_id))
                    try:
                        await anyio.to_thread.run_sync(
                            unpack.unpack_layer,
                            feed,
                            self.layers_root,
                            self.links_root,
                            chain_id,
                            diff_id,
                            limiter=self._unpack_limiter,
                        )
                    except Exception:
                        # bytes that did not verify say nothing: a corrupt blob is reported
                        # as such, not as the broken tar it unpacks to
                        await download_done.wait()
                        if download_ok:
                            raise

                with first_error():
                    async with anyio.create_task_group() as task_group:
                        task_group.start_soon(download)
                        task_group.start_soon(extract)
        finally:
            del self._downloads[digest]
            del self._unpacks[chain_id]
            downloaded.set()
            unpacked.set()

    async def ensure_blob(
        self,
        ref: Reference,
        descriptor: mf.Descriptor,
        emit: ProgressCallback,
        added: Added,
        *,
        quiet: bool = False,
        client: RegistryClient | None = None,
    ) -> None:
        digest = descriptor.digest
        client = client or self._registry()
        short = short_digest(digest)
        while True:
            if self.blobs.has(digest):
                return
            pending = self._downloads.get(digest)
            if pending is None:
                break
            emit(Progress(short, "Waiting", 0, descriptor.size))
            await pending.wait()
        event = self._downloads[digest] = anyio.Event()
        try:
            async with self._limiter:
                if not quiet:
                    emit(Progress(short, "Downloading", 0, descriptor.size))

                def on_bytes(count: int) -> None:
                    if not quiet:
                        emit(Progress(short, "Downloading", count, descriptor.size))

                with await anyio.to_thread.run_sync(self.blobs.ingest) as ingest:
                    await client.fetch_blob(ref, descriptor, ingest, on_bytes)
                    if not quiet:
                        emit(Progress(short, "Verifying Checksum", ingest.size, descriptor.size))
                    added.append(("blob", digest))
                    await anyio.to_thread.run_sync(ingest.commit, digest, descriptor.size)
            if not quiet:
                emit(Progress(short, "Download complete", descriptor.size, descriptor.size))
        finally:
            del self._downloads[digest]
            event.set()

    async def _unpack(
        self,
        blob_digest: str,
        diff_id: str,
        chain_id: str,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        await anyio.to_thread.run_sync(
            unpack.unpack_layer,
            self.blobs.path(blob_digest),
            self.layers_root,
            self.links_root,
            chain_id,
            diff_id,
            limiter=limiter,
        )

    async def _ensure_unpacked(
        self,
        blob_digest: str,
        diff_id: str,
        chain_id: str,
        emit: ProgressCallback,
        added: Added,
    ) -> None:
        while True:
            if unpack.layer_dir(self.layers_root, chain_id).is_dir():
                await self._unpack(blob_digest, diff_id, chain_id)  # makes the short link
                return
            pending = self._unpacks.get(chain_id)
            if pending is None:
                break
            await pending.wait()
        event = self._unpacks[chain_id] = anyio.Event()
        try:
            emit(Progress(short_digest(blob_digest), "Extracting"))
            added.append(("layer", chain_id))
            await self._unpack(blob_digest, diff_id, chain_id, limiter=self._unpack_limiter)
        finally:
            del self._unpacks[chain_id]
            event.set()
