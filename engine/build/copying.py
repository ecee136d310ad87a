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
import tarfile
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from engine.build import dockerfile as df
from engine.build import files
from engine.build.context import BuildContext, has_glob


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
        target = files.resolve_in_root(root, self.dest)
        multiple = self.dest_is_dir or len(self.items) > 1
        for path, name, kind in self.items:
            preserve = kind == "stage"  # COPY --from keeps owners; the context's are root's
            include = context_filter(self.context) if kind == "context" and self.context else None
            if path.is_dir() and not path.is_symlink():
                files.make_dirs(target, root, owner)
                files.copy_tree(
                    path,
                    target,
                    owner=owner,
                    mode=self.mode,
                    preserve_owner=preserve,
                    include=include,
                )
            elif self.keyword == "ADD" and kind == "context" and is_archive(path):
                files.make_dirs(target, root, owner)
                extract_archive(path, target, owner, self.line, self.file)
            else:
                into = multiple or (target.is_dir() and not target.is_symlink())
                destination = target / name if into else target
                files.make_dirs(destination.parent, root, owner)
                files.copy_file(
                    path, destination, owner=owner, mode=self.mode, preserve_owner=preserve
                )


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
    if not path.is_file():
        return False
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def extract_archive(
    path: Path, target: Path, owner: files.Owner | None, line: int, file: str
) -> None:
    """ADD of a local archive: its entries under ``target``, with their owners (or
    ``owner`` for --chown)."""
    try:
        with tarfile.open(path, "r:*") as tar:
            tar.extractall(target, filter="tar", numeric_owner=True)
            if owner is not None:
                for member in tar.getmembers():
                    entry = target / member.name
                    if os.path.lexists(entry):
                        os.lchown(entry, owner.uid, owner.gid)
    except (tarfile.TarError, OSError) as exc:
        raise df.DockerfileError(
            f"ADD {path.name}: cannot extract the archive: {exc}",
            line=line,
            file=file,
            hint="entries may not leave the destination (absolute paths, .., links out)",
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
