"""Image archives: ``docker save`` tars and OCI image layouts (dir or tar). Blocking.

Reading yields :class:`ArchiveImage` values (config bytes, layer opener per layer,
tags); engine.images.ingest puts them into the store. Writing produces one tar that is
both a ``docker load``-able archive (``manifest.json``) and an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/``), as Docker 25+ writes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from engine.images import manifest as mf
from engine.images.errors import ImageNotFound, InvalidImage
from engine.images.store import BlobStore, check_digest, load_json

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveImage:
    """One image found in an archive. ``layers``: (expected digest or None, opener)."""

    config: bytes
    layers: tuple[tuple[str | None, Callable[[], IO[bytes]]], ...]
    names: tuple[str, ...]
    manifest: bytes | None = None


class _Source:
    """Files of an archive: a directory or a tar (random access)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        if not path.is_dir():
            try:
                self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by close())
            except (tarfile.TarError, OSError) as exc:
                raise InvalidImage(
                    f"{path} is not an image archive (tar or directory): {exc}"
                ) from exc
            self._members = {m.name.removeprefix("./"): m for m in self._tar.getmembers()}

    def close(self) -> None:
        if self._tar:
            self._tar.close()

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        return name in self._members

    def open(self, name: str) -> IO[bytes]:
        name = os.path.normpath(name).removeprefix("./")
        if name.startswith(("../", "/")):
            raise InvalidImage(f"archive entry {name!r} points outside the archive")
        if self._tar is None:
            return (self.path / name).open("rb")
        member = self._members.get(name)
        if member is not None and member.issym():
            return self.open(os.path.join(os.path.dirname(name), member.linkname))
        handle = self._tar.extractfile(member) if member else None
        if handle is None:
            raise InvalidImage(f"{self.path}: the archive has no file {name!r}")
        return handle

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()


def read_archive(
    path: Path, platform: mf.Platform
) -> tuple[list[ArchiveImage], Callable[[], None]]:
    """The images in a ``docker save`` tar or an OCI layout; and a function to close it."""
    source = _Source(path)
    try:
        if source.exists("manifest.json"):
            images = _read_docker(source)
        elif source.exists("index.json"):
            images = _read_oci(source, platform)
        else:
            raise InvalidImage(
                f"{path} is neither a docker save archive (manifest.json) nor an OCI image "
                "layout (index.json)"
            )
    except BaseException:
        source.close()
        raise
    return images, source.close


def _read_docker(source: _Source) -> list[ArchiveImage]:
    entries = json.loads(source.read("manifest.json"))
    if not isinstance(entries, list):
        raise InvalidImage("manifest.json of the archive is not a list")
    images = []
    for entry in entries:
        config = source.read(entry["Config"])
        layers = tuple(
            (_blob_digest(name), _opener(source, name)) for name in entry.get("Layers", [])
        )
        images.append(ArchiveImage(config, layers, tuple(entry.get("RepoTags") or ())))
    return images


def _blob_digest(name: str) -> str | None:
    """``blobs/sha256/<hex>`` names carry their digest; ``<id>/layer.tar`` ones do not."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        digest = f"{parts[1]}:{parts[2]}"
        with contextlib.suppress(InvalidImage):
            check_digest(digest)
            return digest
    return None


def _opener(source: _Source, name: str) -> Callable[[], IO[bytes]]:
    return lambda: source.open(name)


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{check_digest(digest)}"


def _read_oci(source: _Source, platform: mf.Platform) -> list[ArchiveImage]:
    index = mf.parse(source.read("index.json"), mf.OCI_INDEX)
    if not isinstance(index, mf.Index):
        raise InvalidImage("index.json of the layout is not an image index")
    images = []
    for descriptor in index.manifests:
        annotations = dict(descriptor.annotations)
        # ref.name is often just a tag ("latest"): a name only when it has a repository
        name = annotations.get(CONTAINERD_NAME) or (
            annotations.get(REF_NAME) if "/" in annotations.get(REF_NAME, "") else None
        )
        chosen = descriptor
        data = source.read(_blob_name(chosen.digest))
        parsed = mf.parse(data, chosen.media_type)
        if isinstance(parsed, mf.Index):
            chosen = mf.choose(parsed, platform)
            data = source.read(_blob_name(chosen.digest))
            parsed = mf.parse(data, chosen.media_type)
        if not isinstance(parsed, mf.Manifest):
            raise InvalidImage("nested image indexes are not supported")
        config = source.read(_blob_name(parsed.config.digest))
        layers = tuple(
            (layer.digest, _opener(source, _blob_name(layer.digest))) for layer in parsed.layers
        )
        images.append(ArchiveImage(config, layers, (name,) if name else (), data))
    return images


def write_archive(
    target: IO[bytes], blobs: BlobStore, images: list[tuple[list[str], str, list[str], bytes, str]]
) -> None:
    """Write a docker-loadable tar that is also an OCI layout.

    ``images``: (familiar repo tags, config digest, layer digests, manifest bytes, media type).
    """
    written: set[str] = set()
    docker_manifest: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        for tags, config_digest, layer_digests, manifest_bytes, media_type in images:
            manifest_digest = blobs.write_bytes(manifest_bytes)
            for digest in (config_digest, *layer_digests, manifest_digest):
                if digest in written:
                    continue
                path = blobs.path(digest)
                if not path.is_file():
                    raise ImageNotFound(f"blob {digest} is missing from the content store")
                info = tar.gettarinfo(str(path), arcname=_blob_name(digest))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.mode = 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
                written.add(digest)
            docker_manifest.append(
                {
                    "Config": _blob_name(config_digest),
                    "RepoTags": tags or None,
                    "Layers": [_blob_name(d) for d in layer_digests],
                }
            )
            for tag in tags or [""]:
                descriptor: dict[str, Any] = {
                    "mediaType": media_type,
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                }
                if tag:
                    descriptor["annotations"] = {
                        CONTAINERD_NAME: tag,
                        REF_NAME: tag.rpartition(":")[2],
                    }
                index.append(descriptor)
        _add_bytes(
            tar,
            "index.json",
            json.dumps(
                {"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": index}
            ).encode(),
        )
        _add_bytes(tar, "manifest.json", json.dumps(docker_manifest).encode())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def iter_chunks(handle: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk


def parse_manifest_json(data: bytes) -> dict[str, Any]:
    return load_json(data, "the manifest")
