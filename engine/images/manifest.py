"""Manifests, indexes and configs: media types, parsing, platform choice, chain IDs. Pure.

Glossary: a *descriptor* names a blob (mediaType, digest, size); a *manifest* lists
an image's config and layers; an *index* (OCI) or *manifest list* (Docker) lists
manifests per platform. A layer's *diff ID* is the digest of its uncompressed tar;
its *chain ID* identifies the whole stack below and including it:
``chain(1) = diff(1)``, ``chain(n) = sha256(chain(n-1) + " " + diff(n))``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform as host_platform
from collections.abc import Mapping
from typing import Any

from engine.images.errors import InvalidImage, UnsupportedMediaType
from engine.images.store import check_digest, load_json

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
LAYER_TYPES = {
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_TAR: "none",
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
}
CONFIG_TYPES = (DOCKER_CONFIG, OCI_CONFIG)
MAX_MANIFEST_SIZE = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


@dataclasses.dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = {"os": self.platform.os, "architecture": self.platform.architecture}
            if self.platform.variant:
                out["platform"]["variant"] = self.platform.variant
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]


_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm"}


def host() -> Platform:
    machine = host_platform.machine()
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = {"aarch64": "v8", "armv7l": "v7", "armv6l": "v6"}.get(machine)
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """``linux/arm64``, ``linux/arm/v7``, ``arm64`` (OS linux assumed)."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1 and parts[0]:
        return Platform("linux", _ARCH_ALIASES.get(parts[0], parts[0]))
    if 2 <= len(parts) <= 3 and all(parts):
        return Platform(
            parts[0], _ARCH_ALIASES.get(parts[1], parts[1]), parts[2] if len(parts) == 3 else None
        )
    raise InvalidImage(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64")


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidImage(f"{what} is not a descriptor object")
    try:
        media_type = str(raw["mediaType"])
        digest = str(raw["digest"])
        size = raw["size"]
    except KeyError as exc:
        raise InvalidImage(f"{what} lacks the field {exc.args[0]!r}") from None
    check_digest(digest)
    if not isinstance(size, int) or size < 0:
        raise InvalidImage(f"{what} has an invalid size {size!r}")
    plat = None
    if isinstance(raw.get("platform"), dict):
        p = raw["platform"]
        plat = Platform(str(p.get("os", "")), str(p.get("architecture", "")), p.get("variant"))
    annotations = raw.get("annotations") or {}
    return Descriptor(media_type, digest, size, plat, tuple(sorted(annotations.items())))


def parse(data: bytes, content_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or an index; the ``mediaType`` field wins over the HTTP content type."""
    doc = load_json(data, "the manifest")
    media_type = doc.get("mediaType") or content_type or ""
    media_type = media_type.split(";")[0].strip()
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if doc.get("schemaVersion") != 2:
        raise UnsupportedMediaType(
            f"manifest schemaVersion {doc.get('schemaVersion')!r} is not supported "
            "(only schema 2: Docker v2 schema 2 and OCI)"
        )
    if media_type in INDEX_TYPES:
        raw = doc.get("manifests")
        if not isinstance(raw, list):
            raise InvalidImage("the index has no 'manifests' list")
        return Index(
            media_type, tuple(_descriptor(m, f"index entry {i}") for i, m in enumerate(raw))
        )
    if media_type in MANIFEST_TYPES:
        config = _descriptor(doc.get("config"), "the manifest's config")
        raw_layers = doc.get("layers")
        if not isinstance(raw_layers, list):
            raise InvalidImage("the manifest has no 'layers' list")
        layers = tuple(_descriptor(m, f"layer {i}") for i, m in enumerate(raw_layers))
        for layer in layers:
            if layer.media_type not in LAYER_TYPES:
                raise UnsupportedMediaType(
                    f"layer {layer.digest} has media type {layer.media_type!r}, which this "
                    f"engine cannot unpack (supported: {', '.join(sorted(LAYER_TYPES))})"
                )
        if config.media_type not in CONFIG_TYPES:
            raise UnsupportedMediaType(
                f"image config media type {config.media_type!r} is not a container image config"
            )
        return Manifest(media_type, config, layers)
    raise UnsupportedMediaType(
        f"unsupported manifest media type {media_type!r} "
        "(supported: Docker v2 schema 2, manifest list, OCI manifest and index)"
    )


def choose(index: Index, wanted: Platform) -> Descriptor:
    """The index entry for ``wanted``; a missing variant matches any; arm64 prefers v8."""
    candidates = [
        m
        for m in index.manifests
        if m.platform
        and m.platform.os == wanted.os
        and m.platform.architecture == wanted.architecture
        and m.media_type in MANIFEST_TYPES
    ]
    if wanted.variant:
        exact = [m for m in candidates if m.platform and m.platform.variant == wanted.variant]
        loose = [m for m in candidates if m.platform and not m.platform.variant]
        candidates = exact or loose
    if not candidates:
        available = ", ".join(str(m.platform) for m in index.manifests if m.platform) or "none"
        raise InvalidImage(
            f"no image for platform {wanted} in the index (available: {available}); "
            "choose one with --platform"
        )
    return candidates[0]


def record_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an image record that come from its config: creation time, platform."""
    return {
        "created": config.get("created"),
        "os": config.get("os", "linux"),
        "architecture": config.get("architecture", "amd64"),
        "variant": config.get("variant"),
    }


def parse_config(data: bytes) -> dict[str, Any]:
    doc = load_json(data, "the image config")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise InvalidImage("the image config has no rootfs.diff_ids list")
    for diff_id in rootfs["diff_ids"]:
        check_digest(str(diff_id))
    return doc


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out
