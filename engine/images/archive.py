"""Image archives: ``docker save`` tars and OCI image layouts (dir or tar). Blocking.

Reading yields :class:`ArchiveImage` values (config bytes, layer opener per layer,
tags); engine.images.ingest puts them into the store. An archive given as a tar is first
extracted by the engine's one extractor (:func:`engine.fs.extract_tar`: bounded, no
devices, no owners) into a private directory next to it; every file named by the archive
(``manifest.json``, ``blobs/...``) is then opened beneath that directory
(:func:`engine.fs.open_beneath`), so a symlink member resolves inside the archive, a loop
of them is a clear error, and nothing outside is ever read. Writing produces one tar that is
both a ``docker load``-able archive (``manifest.json``) and an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/``), as Docker 25+ writes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from engine.fs import ArchiveError, ExtractOptions, Limits, extract_tar_into, open_beneath
from engine.images import manifest as mf
from engine.images.errors import ImageNotFound, InvalidImage
from engine.images.store import BlobStore, check_digest, load_json

MIN_UNPACKED_BOUND = 1 << 30
UNPACKED_RATIO = 32
"""An archive unpacks to at most ``max(MIN_UNPACKED_BOUND, UNPACKED_RATIO * its size)``
bytes, and never to more than the free space where it is unpacked: a decompression bomb
stops there."""
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveImage:
    """One image found in an archive. ``layers``: (expected digest or None, opener)."""

    config: bytes
    layers: tuple[tuple[str | None, Callable[[], IO[bytes]]], ...]
    names: tuple[str, ...]
    manifest: bytes | None = None


def unpack_bound(path: Path, where: Path) -> int:
    """The most bytes the archive ``path`` may unpack to in ``where`` (see
    :data:`UNPACKED_RATIO`)."""
    free = shutil.disk_usage(where).free
    return min(free, max(MIN_UNPACKED_BOUND, UNPACKED_RATIO * path.stat().st_size))


class _Missing(InvalidImage):
    """A file the archive does not hold (or not as a regular file)."""


class _Source:
    """Files of an archive: a directory, or a tar unpacked into a private one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._unpacked: Path | None = None
        directory = path
        if not path.is_dir():
            self._unpacked = Path(tempfile.mkdtemp(prefix=".load-", dir=path.parent))
            directory = self._unpacked
            options = ExtractOptions(
                owner="none",
                no_devices=True,
                limits=Limits(max_total_bytes=unpack_bound(path, path.parent)),
            )
            try:
                with path.open("rb") as raw:
                    extract_tar_into(raw, directory, options)
            except ArchiveError as exc:
                self.close()
                raise InvalidImage(f"{path} is not an image archive: {exc}") from exc
            except BaseException:
                self.close()
                raise
        try:
            self._root = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            self.close()
            raise InvalidImage(f"{path} is not an image archive (tar or directory): {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._root)
            del self._root
        if self._unpacked is not None:
            shutil.rmtree(self._unpacked, ignore_errors=True)
            self._unpacked = None

    def _open_fd(self, name: str) -> int:
        """A read fd of the regular file ``name``, resolved beneath the archive's root."""
        name = os.path.normpath(name).removeprefix("./")
        if name.startswith(("../", "/")) or name == "..":
            raise InvalidImage(f"archive entry {name!r} points outside the archive")
        try:
            fd = open_beneath(self._root, name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidImage(f"{self.path}: {name!r} is a loop of symlinks") from exc
            raise _Missing(f"{self.path}: the archive has no file {name!r}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _Missing(f"{self.path}: {name!r} in the archive is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def exists(self, name: str) -> bool:
        try:
            os.close(self._open_fd(name))
        except _Missing:
            return False
        return True

    def open(self, name: str) -> IO[bytes]:
        return os.fdopen(self._open_fd(name), "rb")

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
