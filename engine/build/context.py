"""The build context: a directory (or an unpacked tar) and its ``.dockerignore``.

Pattern rules are moby/patternmatcher's:

1. One pattern a line; blank lines and lines starting with ``#`` are skipped; each
   pattern is cleaned (``filepath.Clean``), so a leading ``/`` and a trailing ``/``
   mean nothing.
2. ``*`` is any run of characters but ``/``, ``?`` one such character, ``[...]`` a class,
   ``\\`` escapes; ``**`` is any number of directories (zero included).
3. A path is excluded when a pattern matches it or one of its parent directories; the
   last pattern that matches wins, and ``!pattern`` re-includes.

The Dockerfile and ``.dockerignore`` are read even when excluded, but COPY/ADD cannot
use excluded files (as Docker). ``files_digest`` hashes what a COPY reads (names, modes,
contents, link targets): the cache key of the step.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import posixpath
import re
import stat
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread

from engine.build.dockerfile import DockerfileError
from engine.build.files import resolve_in_root
from engine.fs import ArchiveError, ExtractOptions, extract_tar_into

CONTEXT_EXTRACT = ExtractOptions(owner="none", no_devices=True)
"""A context tar: owners are not kept (COPY gives root's, or ``--chown``'s), no devices."""

_SPECIAL = set(".+()|{}$")


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    text: str  # as cleaned
    exclusion: bool
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        if self.regex.match(path):
            return True
        parts = path.split("/")
        return any(self.regex.match("/".join(parts[: i + 1])) for i in range(len(parts) - 1))


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    cleaned = cleaned.lstrip("/") or "."
    return cleaned


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            if index < len(pattern) and pattern[index] == "*":
                index += 1
                if index < len(pattern) and pattern[index] == "/":
                    index += 1
                out.append(".*" if index >= len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if index < len(pattern):
                out.append(re.escape(pattern[index]))
                index += 1
            else:
                out.append("\\\\")
        elif char in "[]":
            in_class = char == "["
            out.append(char)
        elif char == "^" and not in_class:
            out.append("\\^")
        elif char in _SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise DockerfileError(
            f"invalid .dockerignore pattern {pattern!r}: {exc}", file=".dockerignore"
        ) from exc


def parse_dockerignore(text: str) -> list[Pattern]:
    """The patterns of a ``.dockerignore`` file, in order."""
    patterns: list[Pattern] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
            if not line:
                raise DockerfileError(
                    'illegal exclusion pattern: "!"', file=".dockerignore", hint="write !PATTERN"
                )
        cleaned = _clean(line)
        patterns.append(Pattern(cleaned, exclusion, _to_regex(cleaned)))
    return patterns


def is_excluded(path: str, patterns: Sequence[Pattern]) -> bool:
    """Whether ``path`` (relative, ``/``-separated) is excluded by ``patterns``."""
    path = _clean(path)
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        if pattern.matches(path):
            matched = not pattern.exclusion
    return matched


def has_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


class BuildContext:
    """The files a build may copy: ``root`` minus what ``.dockerignore`` excludes.

    Args:
        root: the context directory (for a tar context, where it was unpacked).
        dockerignore: the ``.dockerignore`` text; read from ``root`` when None.
    """

    def __init__(self, root: Path, dockerignore: str | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise DockerfileError(
                f"the build context {root} is not a directory",
                file=str(root),
                hint="pass the directory that holds the Dockerfile and the files it copies",
            )
        if dockerignore is None:
            ignore_file = self.root / ".dockerignore"
            dockerignore = ignore_file.read_text() if ignore_file.is_file() else ""
        self.patterns = parse_dockerignore(dockerignore)

    def excluded(self, relative: str) -> bool:
        return bool(self.patterns) and is_excluded(relative, self.patterns)

    def read_dockerfile(self, name: str) -> str:
        """The Dockerfile ``name`` (relative to the root), excluded or not."""
        path = self._inside(name, line=None, file=name)
        try:
            return path.read_text()
        except FileNotFoundError:
            raise DockerfileError(
                f"cannot find {name} in the build context {self.root}",
                file=name,
                hint="pass the Dockerfile's path with -f / build.dockerfile",
            ) from None

    def _inside(self, relative: str, *, line: int | None, file: str) -> Path:
        cleaned = _clean(relative)
        if cleaned == ".." or cleaned.startswith("../"):
            raise DockerfileError(
                f"forbidden path outside the build context: {relative}",
                line=line,
                file=file,
                hint="COPY can only read files inside the context directory",
            )
        return self.root if cleaned == "." else self.root / cleaned

    def sources(self, source: str, *, line: int, file: str) -> list[str]:
        """Context-relative paths that the COPY/ADD source ``source`` names (globs expanded).

        Error handling: a source outside the context, missing, or excluded by
        ``.dockerignore`` is a :class:`DockerfileError` at ``line``.
        """
        cleaned = _clean(source)
        self._inside(source, line=line, file=file)
        if has_glob(cleaned):
            found = [
                relative
                for relative in self._glob(cleaned.split("/"))
                if not self.excluded(relative)
            ]
        else:
            path = self.root if cleaned == "." else self.root / cleaned
            found = (
                [cleaned] if os.path.lexists(path) and not self._excluded_source(cleaned) else []
            )
        for relative in found:
            parent = os.path.realpath(self.root / posixpath.dirname(relative))
            if parent != str(self.root) and not parent.startswith(str(self.root) + "/"):
                raise DockerfileError(
                    f"forbidden path outside the build context: {source} "
                    f"({posixpath.dirname(relative)} is a link to {parent})",
                    line=line,
                    file=file,
                    hint="COPY can only read files inside the context directory",
                )
        for relative in found:
            try:
                target = self.follow(relative)
            except OSError as exc:
                raise DockerfileError(
                    f'"{source}" cannot be resolved in the build context: {exc.strerror}',
                    line=line,
                    file=file,
                    hint="a symlink in the context points to itself through a loop",
                ) from exc
            if target != relative and (
                not os.path.lexists(self.root / target) or self.excluded(target)
            ):
                raise DockerfileError(
                    f'"{source}" is a link to {target}, which is not in the build context '
                    "or is excluded by .dockerignore",
                    line=line,
                    file=file,
                    hint="COPY follows a source that is a link; make it point inside the context",
                )
        if not found:
            why = (
                "it is excluded by .dockerignore"
                if self.patterns and os.path.lexists(self.root / cleaned)
                else "it does not exist"
            )
            raise DockerfileError(
                f'failed to compute cache key: "{source}" not found in the build context '
                f"or excluded by .dockerignore ({why})",
                line=line,
                file=file,
                hint="check the path (relative to the context) and .dockerignore",
            )
        return sorted(found)

    def _excluded_source(self, relative: str) -> bool:
        if relative == "." or not self.excluded(relative):
            return False
        path = self.root / relative
        # an excluded directory still counts when an exception re-includes something in it
        return not (path.is_dir() and any(True for _ in self.walk(relative)))

    def _glob(self, parts: list[str], base: str = ".") -> Iterator[str]:
        head, rest = parts[0], parts[1:]
        directory = self.root / base if base != "." else self.root
        if has_glob(head):
            try:
                names = sorted(os.listdir(directory))
            except (NotADirectoryError, FileNotFoundError):
                return
            matches = [name for name in names if fnmatch.fnmatchcase(name, head)]
        else:
            matches = [head] if os.path.lexists(directory / head) else []
        for name in matches:
            relative = name if base == "." else f"{base}/{name}"
            if rest:
                yield from self._glob(rest, relative)
            else:
                yield relative

    def walk(self, relative: str) -> Iterator[str]:
        """Every path under ``relative`` (itself excluded) that is not excluded, sorted, parents
        first."""
        top = self.root if relative == "." else self.root / relative
        if not top.is_dir() or top.is_symlink():
            return
        for name in sorted(os.listdir(top)):
            child = name if relative == "." else f"{relative}/{name}"
            path = self.root / child
            if path.is_dir() and not path.is_symlink():
                inner = list(self.walk(child))
                if not self.excluded(child) or inner:
                    yield child
                    yield from inner
            elif not self.excluded(child):
                yield child

    def follow(self, relative: str) -> str:
        """``relative`` with symlinks followed inside the context (a COPY source that is a
        link copies what it points to, as Docker does); ``.`` for the root."""
        path = resolve_in_root(self.root, relative)
        return os.path.relpath(path, self.root)

    def files_digest(self, relatives: Sequence[str]) -> str:
        """A digest of the sources' names, modes, contents and link targets."""
        digest = hashlib.sha256()
        for source in relatives:
            top = self.follow(source)
            digest.update(f"source={source}\0".encode())
            entries = [top, *self.walk(top)]
            for relative in entries:
                path = self.root if relative == "." else self.root / relative
                info = path.lstat()
                digest.update(f"{relative}\0{info.st_mode:o}\0".encode())
                if stat.S_ISLNK(info.st_mode):
                    digest.update(os.readlink(path).encode() + b"\0")
                elif stat.S_ISREG(info.st_mode):
                    digest.update(f"{info.st_size}\0".encode())
                    with path.open("rb") as handle:
                        while chunk := handle.read(1 << 20):
                            digest.update(chunk)
        return "sha256:" + digest.hexdigest()


def extract_context_tar(source: IO[bytes], target: Path) -> Path:
    """Unpack a context tar (plain or compressed; as ``POST /build`` sends it) into ``target``.

    Blocking. The engine's one extractor (:func:`engine.fs.extract_tar`): every member lands
    beneath ``target`` (symlinks the tar made are followed inside it), a member climbing out
    with ``..`` or a loop of symlinks refuses the context.
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        extract_tar_into(source, target, CONTEXT_EXTRACT)
    except ArchiveError as exc:
        raise DockerfileError(
            f"the build context is not a valid tar: {exc}",
            file="context",
            hint="send the context as a tar (optionally compressed) whose entries stay inside it",
        ) from exc
    return target


async def receive_context(chunks: AsyncIterator[bytes], target: Path) -> BuildContext:
    """A context sent as a tar stream (``POST /build``'s body): spooled to
    ``target/context.tar``, unpacked into ``target/context``.

    Resource handling: ``target`` is the caller's (a temp dir it removes after the build).
    Error handling: :class:`DockerfileError` for a body that is not a (compressed) tar.
    """
    target.mkdir(parents=True, exist_ok=True)
    spool = target / "context.tar"
    async with await anyio.open_file(spool, "wb") as handle:
        async for chunk in chunks:
            await handle.write(chunk)

    def unpack() -> BuildContext:
        with spool.open("rb") as source:
            root = extract_context_tar(source, target / "context")
        spool.unlink()
        return BuildContext(root)

    return await anyio.to_thread.run_sync(unpack)
