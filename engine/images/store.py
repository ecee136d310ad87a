"""The content store and the image records, under the engine's data root.

Lifecycle of a blob: ``ingest()`` opens a temp file under ``ingest/``; the writer
hashes every chunk as it is written; ``commit(digest, size)`` checks both, fsyncs,
and renames the file to ``blobs/sha256/<hex>`` (atomic; a blob that does not
verify is deleted and :class:`DigestMismatch` raised, nothing is stored).

Image records live in ``images.db`` (stdlib sqlite3, WAL): one row per image ID
(the config digest) holding its JSON record (tags, repo digests, manifest,
layers). A tag names at most one image; tagging moves it.

Layout of the data root (``images/`` below the engine's data root)::

    blobs/sha256/<hex>        verified content (manifests, configs, compressed layers)
    ingest/<random>           blobs being written
    layers/<chain-hex>/diff   an unpacked layer, keyed by chain ID (see unpack.py)
    l/<short>                 short symlinks to layer dirs, for long overlay lowerdir lists
    mounts/<id-hex>/merged    read-only image mounts (overlay.py)
    images.db                 image records

All methods are blocking (files, fsync, sqlite): async callers use
``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict

from engine.file_modes import private_database
from engine.images.errors import DigestMismatch, ImageNotFound, InvalidImage

DEFAULT_DATA_ROOT = Path("/var/lib/pycompose")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")


def check_digest(digest: str) -> str:
    """Return the hex part of a sha256 digest; raise on anything else."""
    if not _DIGEST_RE.match(digest):
        raise InvalidImage(f"unsupported or malformed digest {digest!r} (expected sha256:<64 hex>)")
    return digest[len("sha256:") :]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LayerRecord(BaseModel):
    """One layer of an image: the blob as distributed and the diff it unpacks to."""

    model_config = ConfigDict(frozen=True)

    digest: str  # blob digest (compressed, as in the manifest)
    media_type: str
    size: int
    diff_id: str  # digest of the uncompressed tar (config rootfs.diff_ids)
    chain_id: str  # identity of the stack of layers up to and including this one


class ImageRecord(BaseModel):
    """What the store knows about one image. ``id`` is the config digest, as Docker's."""

    model_config = ConfigDict(frozen=True)

    id: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    manifest_digest: str | None = None
    manifest_media_type: str | None = None
    config_digest: str
    layers: tuple[LayerRecord, ...] = ()
    created: str | None = None
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    # when a pull, load, build or tag last gave it a tag (RFC 3339, nanoseconds): Docker's
    # Metadata.LastTagTime, which clients read to re-pull an image after an interval
    last_tag_time: str | None = None

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


class Ingest:
    """A blob being written: hash as we go, verify on commit. Use as a context manager."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
        self.path = Path(name)
        # unbuffered: a GrowingFile reader (unpack while downloading) sees every write
        self._file: IO[bytes] = os.fdopen(fd, "wb", buffering=0)
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes | memoryview) -> None:
        self._hash.update(chunk)
        view = memoryview(chunk)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        self.size += len(chunk)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, expected_digest: str | None = None, expected_size: int | None = None) -> str:
        """Verify and move into place; return the digest. On mismatch nothing is stored."""
        digest = self.digest
        try:
            if expected_size is not None and self.size != expected_size:
                raise DigestMismatch(
                    f"blob {expected_digest or digest}: got {self.size} bytes, expected "
                    f"{expected_size}; the download was truncated or the registry sent "
                    "other content. Nothing was stored; try again."
                )
            if expected_digest is not None and digest != expected_digest:
                raise DigestMismatch(
                    f"blob {expected_digest}: content has digest {digest}; the registry sent "
                    "corrupt or different content. Nothing was stored."
                )
            os.fsync(self._file.fileno())
            self._file.close()
            target = self._store.path(digest)
            os.rename(self.path, target)
            fsync_dir(target.parent)
            self._done = True
            return digest
        finally:
            if not self._done:
                self.abort()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._done = True

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.abort()


class BlobStore:
    """Verified blobs by sha256 digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blobs_dir / check_digest(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def read_bytes(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} is not in the content store") from None

    def ingest(self) -> Ingest:
        return Ingest(self)

    def write_bytes(self, data: bytes, expected_digest: str | None = None) -> str:
        digest = sha256_digest(data)
        if self.has(digest) and (expected_digest is None or expected_digest == digest):
            return digest
        with self.ingest() as ingest:
            ingest.write(data)
            return ingest.commit(expected_digest, len(data))

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> Iterator[str]:
        for entry in os.scandir(self.blobs_dir):
            yield "sha256:" + entry.name

    def clean_ingest(self) -> None:
        """Remove leftovers of interrupted writes (call at start-up, when nothing ingests)."""
        for entry in os.scandir(self.ingest_dir):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


class ImageRecords:
    """Image records in SQLite. Thread-safe (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        private_database(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives power loss
        self._db.execute("CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, record TEXT)")

    def close(self) -> None:
        self._db.close()

    def _all(self) -> list[ImageRecord]:
        rows = self._db.execute("SELECT record FROM images ORDER BY id").fetchall()
        return [ImageRecord.model_validate_json(row[0]) for row in rows]

    def _put(self, record: ImageRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO images (id, record) VALUES (?, ?)",
            (record.id, record.model_dump_json()),
        )

    def all(self) -> list[ImageRecord]:
        with self._lock:
            return self._all()

    def get(self, image_id: str) -> ImageRecord | None:
        with self._lock:
            return self._read(image_id)

    def _read(self, image_id: str) -> ImageRecord | None:
        """The record of ``image_id`` (the caller holds the lock)."""
        row = self._db.execute("SELECT record FROM images WHERE id = ?", (image_id,)).fetchone()
        return ImageRecord.model_validate_json(row[0]) if row else None

    def _existing(self, image_id: str) -> ImageRecord:
        record = self._read(image_id)
        if record is None:
            raise ImageNotFound(f"no such image: {image_id}")
        return record

    def add(self, record: ImageRecord) -> ImageRecord:
        """Store ``record``, merged with an existing one of the same ID; its tags move to it."""
        with self._lock, self._transaction():
            old = self._read(record.id)
            if record.repo_tags:
                record = record.model_copy(update={"last_tag_time": tag_time()})
            elif old is not None:
                record = record.model_copy(update={"last_tag_time": old.last_tag_time})
            if old is not None:
                record = record.model_copy(
                    update={
                        "repo_tags": _union(old.repo_tags, record.repo_tags),
                        "repo_digests": _union(old.repo_digests, record.repo_digests),
                        "manifest_digest": record.manifest_digest or old.manifest_digest,
                        "manifest_media_type": record.manifest_media_type
                        or old.manifest_media_type,
                    }
                )
            self._untag_others(record.id, record.repo_tags)
            self._put(record)
            return record

    def tag(self, image_id: str, tag: str) -> ImageRecord:
        with self._lock, self._transaction():
            record = self._existing(image_id)
            self._untag_others(image_id, (tag,))
            record = record.model_copy(
                update={"repo_tags": _union(record.repo_tags, (tag,)), "last_tag_time": tag_time()}
            )
            self._put(record)
            return record

    def untag(self, image_id: str, tag: str) -> ImageRecord:
        with self._lock, self._transaction():
            record = self._existing(image_id)
            record = record.model_copy(
                update={"repo_tags": tuple(t for t in record.repo_tags if t != tag)}
            )
            self._put(record)
            return record

    def remove(self, image_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def _untag_others(self, image_id: str, tags: tuple[str, ...]) -> None:
        if not tags:
            return
        for other in self._all():
            if other.id != image_id and set(other.repo_tags) & set(tags):
                kept = tuple(t for t in other.repo_tags if t not in tags)
                self._put(other.model_copy(update={"repo_tags": kept}))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def tag_time() -> str:
    """Now, as Go's RFC 3339 with nanoseconds in UTC (``2026-12-07T02:00:00.123456789Z``)."""
    nanoseconds = time.time_ns()
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def load_json(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object (manifest, config, index), or raise :class:`InvalidImage`."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidImage(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidImage(f"{what} is not a JSON object")
    return value
