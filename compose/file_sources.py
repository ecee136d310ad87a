"""The I/O edge of secrets and configs: their files and variables read once, at plan time.

:func:`compose.file_mounts.requests_of` says what each used secret or config needs; this
reads it (bounded, a regular file only) and hands :mod:`compose.file_mounts` the contents as
values. A content that cannot be had is recorded as a problem, not raised: only the
commands that create containers need it (``down`` or ``ps`` never fail on a missing file).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from compose import model as models
from compose.file_mounts import MAX_CONTENT, FileRequest, FileSource, requests_of


def _read_file(request: FileRequest, path: str) -> FileSource:
    what = f"{request.kind} {request.key}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return FileSource(request.kind, request.key, problem=f"{what}: {path}: {exc.strerror}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return FileSource(
                request.kind, request.key, problem=f"{what}: {path} is {kind}; give a file"
            )
        if info.st_size > MAX_CONTENT:
            return FileSource(
                request.kind,
                request.key,
                problem=f"{what}: {path} has {info.st_size} bytes, "
                f"more than the {MAX_CONTENT} a secret or config may have",
            )
        chunks, size = [], 0
        while size <= MAX_CONTENT and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONTENT:
            return FileSource(
                request.kind, request.key, problem=f"{what}: {path} grew past {MAX_CONTENT} bytes"
            )
        return FileSource(request.kind, request.key, b"".join(chunks))
    finally:
        os.close(fd)


def read_sources(
    project: models.Project, environment: Mapping[str, str]
) -> dict[tuple[str, str], FileSource]:
    """The content of every secret and config the services use, by (kind, key)."""
    found: dict[tuple[str, str], FileSource] = {}
    for request in requests_of(project):
        source: FileSource
        if request.file is not None:
            source = _read_file(request, request.file)
        elif request.environment is not None:
            value = environment.get(request.environment)
            if value is None:
                source = FileSource(
                    request.kind,
                    request.key,
                    problem=f'environment variable "{request.environment}" required by '
                    f'{request.kind} "{request.name}" is not set',
                )
            else:
                source = FileSource(request.kind, request.key, value.encode())
        elif request.content is not None:
            source = FileSource(request.kind, request.key, request.content.encode())
        else:  # external: refused where it is used
            continue
        if source.content is not None and len(source.content) > MAX_CONTENT:
            source = FileSource(
                request.kind,
                request.key,
                problem=f"{request.kind} {request.key} has {len(source.content)} bytes, "
                f"more than the {MAX_CONTENT} a secret or config may have",
            )
        found[(request.kind, request.key)] = source
    return found
