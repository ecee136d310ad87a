"""Images read from an archive (``docker save`` tar, OCI layout) put into the store: the
config and layer blobs verified and written, the layers unpacked, the manifest kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.images import archive, unpack
from engine.images import manifest as mf
from engine.images.errors import InvalidImage
from engine.images.pull import Added
from engine.images.reference import parse_reference
from engine.images.store import BlobStore, ImageRecord, LayerRecord, sha256_digest


async def ingest_image(
    image: archive.ArchiveImage,
    names: list[str],
    added: Added,
    *,
    blobs: BlobStore,
    layers_root: Path,
    links_root: Path,
) -> ImageRecord:
    """Store an archive's image (config, layer blobs, unpacked layers, manifest) and return
    its record, not yet written; what it stored is listed in ``added``."""
    config = mf.parse_config(image.config)
    tags = tuple(str(parse_reference(n)) for n in names)
    added.append(("blob", sha256_digest(image.config)))
    config_digest = await anyio.to_thread.run_sync(blobs.write_bytes, image.config)
    diff_ids: list[str] = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(image.layers):
        raise InvalidImage(
            f"archive image {config_digest}: {len(image.layers)} layers but "
            f"{len(diff_ids)} diff IDs in its config"
        )
    chains = mf.chain_ids(diff_ids)
    layers = []
    for i, (expected, opener) in enumerate(image.layers):
        digest, size, media_type = await anyio.to_thread.run_sync(
            _ingest_file, blobs, opener, expected, added
        )
        added.append(("layer", chains[i]))
        await anyio.to_thread.run_sync(
            unpack.unpack_layer,
            blobs.path(digest),
            layers_root,
            links_root,
            chains[i],
            diff_ids[i],
        )
        layers.append(
            LayerRecord(
                digest=digest,
                media_type=media_type,
                size=size,
                diff_id=diff_ids[i],
                chain_id=chains[i],
            )
        )
    manifest_digest = None
    manifest_media_type = None
    if image.manifest is not None:
        added.append(("blob", sha256_digest(image.manifest)))
        manifest_digest = await anyio.to_thread.run_sync(blobs.write_bytes, image.manifest)
        manifest_media_type = mf.parse(image.manifest).media_type
    record = ImageRecord(
        id=config_digest,
        repo_tags=tags,
        manifest_digest=manifest_digest,
        manifest_media_type=manifest_media_type,
        config_digest=config_digest,
        layers=tuple(layers),
        **mf.record_fields(config),
    )
    return record


def _ingest_file(
    blobs: BlobStore, opener: Callable[[], Any], expected: str | None, added: Added
) -> tuple[str, int, str]:
    """A layer blob from the archive; its digest, size and media type (from its first bytes)."""
    with opener() as source, blobs.ingest() as ingest:
        head = b""
        while chunk := source.read(1 << 20):
            if not head:
                head = chunk[:4]
            ingest.write(chunk)
        added.append(("blob", ingest.digest))
        digest = ingest.commit(expected)
    if head[:2] == b"\x1f\x8b":
        media_type = mf.OCI_LAYER_GZIP
    elif head == b"\x28\xb5\x2f\xfd":
        media_type = mf.OCI_LAYER_ZSTD
    else:
        media_type = mf.OCI_LAYER
    return digest, blobs.size(digest), media_type
