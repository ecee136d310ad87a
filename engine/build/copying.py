"""COPY and ADD: what a step copies, gathered before the step (for its cache key), and
the copy itself into the mounted step root (blocking; run in a thread).

Kinds of source: a heredoc (a file made from its text), an ADD URL (downloaded first; a
file, never extracted), the build context (or an additional context; sources that are
links are followed inside it; ``.dockerignore`` filters directories), a stage or image
root mounted read-only (``COPY --from``: owners kept, links followed inside that root).
A local archive given to ADD is extracted (owners kept, or ``--chown``'s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import os
import posixpath
import secrets
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from engine.build import dockerfile as df
from engine.build import files
from engine.build.context import BuildContext, has_glob
from engine.fs import ArchiveError, ExtractOptions, Limits, extract_tar, open_beneath
from engine.fs.tar_reader import TarReader, open_decompressed


@dataclasses.dataclass(slots=True)
class CopyPlan:
    """What one COPY/ADD copies (``items``: host path, name at the destination, kind:
    heredoc, url, context or stage) and how."""

    keyword: str
    dest: str
    dest_is_dir: bool
    chown: str | None
    mode: int | None
    line: int
    file: str
    items: list[tuple[Path, str, str]] = dataclasses.field(default_factory=list)
    context: BuildContext | None = None

    def copy_into(self, root: Path) -> None:
        """Copy every item into the mounted step root. Blocking."""
        owner = (
            files.parse_chown(self.chown, root, line=self.line, file=self.file)
            if self.chown
            else None
        )
        multiple = self.dest_is_dir or len(self.items) > 1
        with files.open_root(root) as root_fd:
            for path, name, kind in self.items:
                self._copy_item(root_fd, path, name, kind, owner, multiple)

    def _copy_item(
        self, root_fd: int, path: Path, name: str, kind: str, owner: files.Owner | None, into: bool
    ) -> None:
        """One item, written beneath ``root_fd`` only (the destination's symlinks followed
        inside the root, its last component replaced, never followed, when it is a file)."""
        preserve = kind == "stage"  # COPY --from keeps owners; the context's are root's
        include = context_filter(self.context) if kind == "context" and self.context else None
        if path.is_dir() and not path.is_symlink():
            dest_fd = files.make_dirs_beneath(root_fd, self.dest, owner)
            try:
                files.copy_tree(
                    path,
                    dest_fd,
                    owner=owner,
                    mode=self.mode,
                    preserve_owner=preserve,
                    include=include,
                )
            finally:
                os.close(dest_fd)
            return
        if self.keyword == "ADD" and kind == "context" and is_archive(path):
            dest_fd = files.make_dirs_beneath(root_fd, self.dest, owner)
            try:
                extract_archive(path, dest_fd, owner, self.line, self.file)
            finally:
                os.close(dest_fd)
            return
        if not into:
            with contextlib.suppress(OSError):
                os.close(open_beneath(root_fd, self.dest, os.O_PATH | os.O_DIRECTORY))
                into = True  # an existing directory (or a link to one) receives the file
        if into:
            parent, target_name = self.dest, name
        else:
            parent, target_name = (
                posixpath.dirname(posixpath.normpath(self.dest)),
                (posixpath.basename(posixpath.normpath(self.dest))),
            )
        dir_fd = files.make_dirs_beneath(root_fd, parent, owner)
        try:
            files.copy_file(
                path, dir_fd, target_name, owner=owner, mode=self.mode, preserve_owner=preserve
            )
        finally:
            os.close(dir_fd)


async def download(url: str, tmpdir: Path, checksum: str | None, *, line: int, file: str) -> Path:
    """ADD's URL source, downloaded into ``tmpdir`` (mtime from Last-Modified)."""
    target = tmpdir / ("download-" + secrets.token_hex(6))
    digest = hashlib.sha256()
    try:
        async with (
            httpx.AsyncClient(follow_redirects=True, timeout=60) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise df.DockerfileError(
                    f"ADD {url}: the server answered {response.status_code}",
                    line=line,
                    file=file,
                    hint="check the URL",
                )
            with target.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    digest.update(chunk)
                    handle.write(chunk)
            modified = response.headers.get("last-modified")
    except httpx.HTTPError as exc:
        raise df.DockerfileError(
            f"ADD {url}: cannot download: {exc}", line=line, file=file
        ) from exc
    if checksum and checksum != "sha256:" + digest.hexdigest():
        raise df.DockerfileError(
            f"ADD {url}: checksum mismatch: expected {checksum}, got sha256:{digest.hexdigest()}",
            line=line,
            file=file,
        )
    if modified:
        with contextlib.suppress(ValueError, TypeError):
            stamp = parsedate_to_datetime(modified).timestamp()
            os.utime(target, (stamp, stamp))
    return target


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def context_filter(context: BuildContext) -> Callable[[Path], bool]:
    def include(path: Path) -> bool:
        relative = os.path.relpath(path, context.root)
        return not context.excluded(relative)

    return include


def is_archive(path: Path) -> bool:
    """Whether ``path`` (a context file) is a tar, plain or compressed: its first header is
    read within the extractor's limits (never a whole extended header of any size)."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        with path.open("rb") as raw:
            next(iter(TarReader(open_decompressed(raw), Limits())))
    except (ArchiveError, StopIteration, OSError, EOFError):
        return False
    return True


def extract_archive(
    path: Path, dest_fd: int, owner: files.Owner | None, line: int, file: str
) -> None:
    """ADD of a local archive: its entries beneath the directory ``dest_fd`` (in the step's
    root), with their owners (or ``owner`` for --chown).

    Through the engine's one extractor: an absolute member name means ``dest``, a name
    climbing out of it is refused, a symlink the archive made is followed inside ``dest``;
    every chown is made on what was just extracted, never by a path.
    """
    options = ExtractOptions(
        owner="preserve" if owner is None else (owner.uid, owner.gid), no_devices=True
    )
    try:
        with path.open("rb") as raw:
            extract_tar(raw, dest_fd, options)
    except (ArchiveError, OSError) as exc:
        raise df.DockerfileError(
            f"ADD {path.name}: cannot extract the archive: {exc}",
            line=line,
            file=file,
            hint="entries may not leave the destination (.., links out) nor be devices",
        ) from exc


def stage_sources(
    root: Path, source: str, line: int, file: str, ref: str
) -> list[tuple[Path, str]]:
    """(host path, name) of each source in a stage's root; links followed in the root."""
    cleaned = posixpath.normpath("/" + source)
    if has_glob(cleaned):
        parent = files.resolve_in_root(root, posixpath.dirname(cleaned))
        pattern = posixpath.basename(cleaned)
        names = (
            [name for name in sorted(os.listdir(parent)) if fnmatch.fnmatchcase(name, pattern)]
            if parent.is_dir()
            else []
        )
        inside = "/" + os.path.relpath(parent, root)
        found = [
            (files.resolve_in_root(root, posixpath.join(inside, name)), name) for name in names
        ]
    else:
        path = files.resolve_in_root(root, cleaned)
        found = [(path, posixpath.basename(cleaned) or path.name)] if os.path.lexists(path) else []
    if not found:
        raise df.DockerfileError(
            f'COPY --from={ref}: "{source}" not found in {ref}',
            line=line,
            file=file,
            hint="check the path in the source stage or image",
        )
    return found
