"""Push an image's blobs to a registry: skip, mount or upload each. Async.

For each blob, in parallel within a bound: ``HEAD`` says it is there ("Layer already
exists"); else a cross-repository mount from a repository of the same registry that
has it ("Mounted from x"); else an upload, monolithic or in chunks ("Pushed"). The
manifest is put by the caller once every blob is in.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from engine.images import manifest as mf
from engine.images.progress import Progress, ProgressCallback, first_error, short_digest
from engine.images.reference import Reference
from engine.images.registry import RegistryClient
from engine.images.store import BlobStore


async def push_blobs(
    client: RegistryClient,
    ref: Reference,
    blobs: BlobStore,
    descriptors: Sequence[mf.Descriptor],
    *,
    mount_sources: Sequence[str],
    limiter: anyio.CapacityLimiter,
    emit: ProgressCallback,
    chunk_size: int | None,
) -> None:
    """Make every blob of ``descriptors`` present in the repository ``ref``."""

    async def push_blob(descriptor: mf.Descriptor) -> None:
        short = short_digest(descriptor.digest)
        size = descriptor.size
        async with limiter:
            if await client.blob_exists(ref, descriptor.digest):
                emit(Progress(short, "Layer already exists", size, size))
                return
            location = None
            for source in mount_sources:
                location = await client.mount_blob(ref, descriptor.digest, source)
                if location is None:
                    emit(Progress(short, f"Mounted from {source}", size, size))
                    return
            emit(Progress(short, "Pushing", 0, size))
            await client.upload_blob(
                ref,
                descriptor.digest,
                blobs.path(descriptor.digest),
                location=location,
                chunk_size=chunk_size,
                on_bytes=lambda count: emit(Progress(short, "Pushing", count, size)),
            )
            emit(Progress(short, "Pushed", size, size))

    with first_error():
        async with anyio.create_task_group() as task_group:
            for descriptor in descriptors:
                task_group.start_soon(push_blob, descriptor)
