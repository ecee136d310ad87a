"""Secrets and configs as files in a container: targets, ownership, the tar that carries them.

docker compose bind-mounts ``file`` sources (ignoring ``uid``, ``gid`` and ``mode``) and copies
``environment`` and ``content`` sources into the container. pycompose copies every source the
same way, through ``PUT /containers/{id}/archive`` between create and start, with the owner and
mode in the tar headers, and names the copied files in ``HostConfig.ReadonlyPaths`` so that
runc bind-mounts each one read-only onto itself: the container can read them, not change
them, and no host file is ever mounted into it. Both calls are plain Docker Engine API, so a
real dockerd does the same (a tmpfs cannot carry them there: dockerd copies beneath a tmpfs
mount point, and the tmpfs hides the files at start).

Pure: the contents are read at the I/O edge (:mod:`compose.file_sources`) and passed in as
:class:`FileSource` values; this module turns them into :class:`FileMount` values, the tar,
the ``ReadonlyPaths`` and the digests a plan compares to tell that a content changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Iterable, Mapping, Sequence

from compose import model as models
from compose import model_parts as parts
from compose.errors import PlanError
from engine.api.models import ContainerCreate

FILES_LABEL = "io.pycompose.files"  # {"secret db": "sha256:…"}: the contents a container got
MAX_CONTENT = 16 * 1024 * 1024  # a secret or config larger than this is refused
# Docker's default read-only system paths, kept when pycompose adds its own
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
_DEFAULT_MODE = 0o444  # docker compose's for the files it copies


@dataclasses.dataclass(frozen=True, slots=True)
class FileSource:
    """The content of one top-level secret or config, or why it cannot be had."""

    kind: str  # "secret" | "config"
    key: str
    content: bytes | None = None
    problem: str | None = None  # why not, in docker compose's words where it has some

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.content or b"").hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class FileRequest:
    """What the I/O edge must read for one secret or config: a file or a variable."""

    kind: str
    key: str
    name: str  # the engine name (``<project>_<key>``), which docker compose's messages use
    file: str | None = None
    environment: str | None = None
    content: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FileMount:
    """One file a container gets: where, owned by whom, with which mode and content."""

    kind: str
    key: str
    target: str
    uid: int
    gid: int
    mode: int
    content: bytes
    digest: str


def requests_of(project: models.Project) -> list[FileRequest]:
    """The secrets and configs the project's services use, with where their content is."""
    used: set[tuple[str, str]] = set()
    for service in project.services.values():
        used.update(("secret", entry.source or "") for entry in service.secrets or [])
        used.update(("config", entry.source or "") for entry in service.configs or [])
    found: list[FileRequest] = []
    for kind, key in sorted(used):
        resource: models.Secret | models.Config | None = (
            project.secrets.get(key) if kind == "secret" else project.configs.get(key)
        )
        if resource is None:
            continue
        name = resource.name or f"{project.name}_{key}"
        if resource.external:
            found.append(FileRequest(kind, key, name))
            continue
        content = resource.content if isinstance(resource, models.Config) else None
        found.append(FileRequest(kind, key, name, resource.file, resource.environment, content))
    return found


def _target(kind: str, source: str, target: str | None) -> str:
    """docker compose's rule: secrets under /run/secrets, configs under /, unless absolute."""
    base = "/run/secrets" if kind == "secret" else "/"
    if not target:
        target = source
    path = target if target.startswith("/") else posixpath.join(base, target)
    return posixpath.normpath(path)


def _owner(service: str, kind: str, key: str, field: str, value: str | None) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise PlanError(
            f"service {service}: {field} {value!r} of {kind} {key} is not a number",
            hint=f"give a numeric {field} (the owner of the file in the container)",
        )
    return number


def service_files(
    project: models.Project, service_name: str, sources: Mapping[tuple[str, str], FileSource]
) -> tuple[FileMount, ...]:
    """The files ``service_name`` gets; a PlanError when one cannot be made.

    External secrets and configs are swarm objects: refused with docker compose's message.
    """
    service = project.services[service_name]
    mounts: dict[str, FileMount] = {}
    entries: list[tuple[str, parts.ServiceFileMount]] = [
        *(("secret", entry) for entry in service.secrets or []),
        *(("config", entry) for entry in service.configs or []),
    ]
    for kind, entry in entries:
        key = entry.source or ""
        resource: models.Secret | models.Config | None = (
            project.secrets.get(key) if kind == "secret" else project.configs.get(key)
        )
        if resource is not None and resource.external:
            raise PlanError(
                f"unsupported external {kind} {key}",
                hint=f"external {kind}s exist only in swarm mode: give the {kind} a "
                + ("file, environment or content" if kind == "config" else "file or environment")
                + " source",
            )
        source = sources.get((kind, key))
        if source is None or source.content is None:
            problem = source.problem if source is not None else f"{kind} {key} has no content"
            raise PlanError(f"service {service_name}: {problem}")
        target = _target(kind, key, entry.target)
        if target in mounts:
            raise PlanError(
                f"service {service_name}: {kind} {key} and {mounts[target].kind} "
                f"{mounts[target].key} have the same target {target}",
                hint="give one of them another target",
            )
        mounts[target] = FileMount(
            kind,
            key,
            target,
            _owner(service_name, kind, key, "uid", entry.uid),
            _owner(service_name, kind, key, "gid", entry.gid),
            _DEFAULT_MODE if entry.mode is None else entry.mode & 0o7777,
            source.content,
            source.digest,
        )
    return tuple(mounts.values())


def digests(files: Iterable[FileMount]) -> dict[str, str]:
    """``{"secret db": "sha256:…"}``: what the files label records."""
    return {f"{f.kind} {f.key}": f.digest for f in sorted(files, key=lambda f: (f.kind, f.key))}


def files_label(files: Sequence[FileMount]) -> str:
    return json.dumps(digests(files), sort_keys=True, separators=(",", ":"))


def changed(recorded: str | None, files: Sequence[FileMount]) -> list[str]:
    """What differs between the files a container got (its label) and ``files``."""
    wanted = digests(files)
    try:
        had = json.loads(recorded) if recorded else {}
    except ValueError:
        had = {}
    if not isinstance(had, dict):
        had = {}
    found = []
    for name in sorted(wanted):
        if name not in had:
            found.append(f"{name} not copied in")
        elif had[name] != wanted[name]:
            found.append(f"{name} content changed")
    return found


def archive(files: Sequence[FileMount], mtime: float = 0) -> bytes:
    """A tar of ``files`` at their targets (relative to /), owner and mode in the headers,
    modified at ``mtime`` (docker compose: when it copies them).

    Only the files: the engine makes missing parent directories (root's, 0755), and an
    existing one (``/tmp``, ``/etc``) keeps its owner and mode, as with docker compose.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for mount in files:
            info = tarfile.TarInfo(mount.target.lstrip("/"))
            info.size = len(mount.content)
            info.mode = mount.mode
            info.uid, info.gid = mount.uid, mount.gid
            info.mtime = int(mtime)
            tar.addfile(info, io.BytesIO(mount.content))
    return buffer.getvalue()


def with_files(body: ContainerCreate, files: Sequence[FileMount]) -> ContainerCreate:
    """``body`` with the files label and the files made read-only (``ReadonlyPaths``).

    A privileged container can remount anything, so nothing is added for it; with
    ``systempaths=unconfined`` only the files are read-only, as that option asks.
    """
    if not files:
        return body
    labels_ = {**(body.labels or {}), FILES_LABEL: files_label(files)}
    host = body.host_config
    if host is None or host.privileged:
        return body.model_copy(update={"labels": labels_})
    unconfined = any(
        option.replace(":", "=", 1).replace(" ", "") == "systempaths=unconfined"
        for option in host.security_opt or ()
    )
    base = list(host.readonly_paths or ()) or ([] if unconfined else list(DEFAULT_READONLY_PATHS))
    paths = base + [f.target for f in files if f.target not in base]
    return body.model_copy(
        update={"labels": labels_, "host_config": host.model_copy(update={"readonly_paths": paths})}
    )


__all__ = [
    "FILES_LABEL",
    "MAX_CONTENT",
    "FileMount",
    "FileRequest",
    "FileSource",
    "archive",
    "changed",
    "digests",
    "files_label",
    "requests_of",
    "service_files",
    "with_files",
]
