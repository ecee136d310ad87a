"""engine.images: content store, registry pull/push, layer unpack, union mounts.

ImageService(data_root)   pull, push, list, resolve, inspect, tag, remove, prune,
                          load, save, mount/umount (read-only), prepare_rootfs,
                          mount_rootfs, remove_rootfs
parse_reference           Docker reference parsing and normalisation
Mount                     an overlay mount for a container root (overlay.mount makes it)
"""

from engine.images.errors import (
    AuthError,
    DigestMismatch,
    ImageInUse,
    ImageNotFound,
    InvalidImage,
    InvalidReference,
    RegistryError,
    UnsafeLayer,
    UnsupportedMediaType,
)
from engine.images.manager import ImageService
from engine.images.overlay import Mount
from engine.images.progress import Progress, ProgressCallback, into_stream
from engine.images.reference import Reference, parse_reference
from engine.images.store import ImageRecord, LayerRecord

__all__ = [
    "AuthError",
    "DigestMismatch",
    "ImageInUse",
    "ImageNotFound",
    "ImageRecord",
    "ImageService",
    "InvalidImage",
    "InvalidReference",
    "LayerRecord",
    "Mount",
    "Progress",
    "ProgressCallback",
    "Reference",
    "RegistryError",
    "UnsafeLayer",
    "UnsupportedMediaType",
    "into_stream",
    "parse_reference",
]
