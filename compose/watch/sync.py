"""Copy changed host files into a service's containers through the engine's API.

As docker compose's tar syncer: what exists on the host goes in one tar, extracted at
``/`` by ``PUT /containers/{id}/archive``; what no longer exists is removed with
``rm -rf`` run in the container (the archive API has no delete). Both work the same
against pycompose's engine and a real dockerd.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import posixpath
import stat
import tarfile
from collections.abc import Sequence

import anyio

from compose.errors import PlanError
from compose.watch.rules import Mapping, Rule
from engine.api.client import EngineClient
from engine.api.errors import EngineError
from engine.api.models import ExecCreate

MAX_SYNC_BYTES = 1 << 30  # one batch's archive; a larger one is refused with a clear error


def _entries(mapping: Mapping, rule: Rule) -> list[tuple[str, str]]:
    """(host path, name in the tar) for a mapping, a directory walked (ignores applied)."""
    host, name = mapping.host, mapping.container.lstrip("/")
    try:
        info = os.lstat(host)
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(info.st_mode):
        return [(host, name)]
    found = [(host, name)]
    for directory, subdirs, files in os.walk(host, followlinks=False):
        subdirs[:] = [d for d in subdirs if not rule.ignored(os.path.join(directory, d))]
        for entry in sorted(subdirs) + sorted(files):
            path = os.path.join(directory, entry)
            if entry in files and rule.ignored(path):
                continue
            found.append((path, posixpath.join(name, os.path.relpath(path, host))))
    return found


def build_archive(
    changes: Sequence[tuple[Mapping, Rule]], owner: tuple[int, int] = (0, 0)
) -> tuple[bytes, list[str]]:
    """The tar of what exists (last one wins for a name), owned by ``owner`` (uid, gid), and
    the container paths to delete."""
    chosen: dict[str, str] = {}
    deleted: list[str] = []
    for mapping, rule in changes:
        if not os.path.lexists(mapping.host):
            if mapping.container not in deleted:
                deleted.append(mapping.container)
            continue
        for host, name in _entries(mapping, rule):
            chosen.pop(name, None)
            chosen[name] = host
    buffer = io.BytesIO()
    total = 0
    added = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, host in chosen.items():
            try:
                info = tar.gettarinfo(host, arcname=name)
            except FileNotFoundError:
                continue  # removed since the walk
            if not (info.isreg() or info.isdir() or info.issym()):
                continue  # sockets, fifos, devices are not synced (as docker compose)
            info.uid, info.gid = owner
            info.uname = info.gname = ""
            if info.isreg():
                try:
                    with open(host, "rb") as source:
                        data = source.read(MAX_SYNC_BYTES - total + 1)
                except FileNotFoundError:
                    continue
                total += len(data)
                if total > MAX_SYNC_BYTES:
                    raise PlanError(
                        f"the files to sync exceed {MAX_SYNC_BYTES >> 20} MiB",
                        hint="ignore big generated files (ignore: in develop.watch)",
                    )
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
            added += 1
    return (buffer.getvalue() if added else b""), deleted


async def run_in(client: EngineClient, container_id: str, body: ExecCreate) -> tuple[int, bytes]:
    """Run a command in a running container; its exit code and output (stdout and stderr)."""
    created = await client.exec_create(container_id, body)
    output = await client.exec_start(created.Id)
    code = (await client.exec_inspect(created.Id)).ExitCode or 0
    return code, b"".join(chunk for _, chunk in output)


async def sync_container(
    client: EngineClient, container_id: str, archive: bytes, deleted: Sequence[str]
) -> None:
    """Delete, then copy, in one container (docker compose's order)."""
    if deleted:
        code, output = await run_in(client, container_id, ExecCreate(Cmd=["rm", "-rf", *deleted]))
        if code:
            text = output.decode(errors="replace").strip()
            raise PlanError(f"removing {', '.join(deleted)} failed ({code}): {text}")
    if archive:
        await client.request(
            "PUT",
            f"/containers/{container_id}/archive",
            params={"path": "/"},
            content=archive,
            headers={"Content-Type": "application/x-tar"},
        )


MAX_ACCOUNTS_BYTES = 1 << 20  # /etc/passwd or /etc/group of a container, read to find a user
# the type bits of a Go os.FileMode (directory, symlink, device, named pipe, socket,
# character device, irregular): a regular file has none of them
GO_MODE_TYPE = 1 << 31 | 1 << 27 | 1 << 26 | 1 << 25 | 1 << 24 | 1 << 21 | 1 << 19


async def _account_file(client: EngineClient, container_id: str, path: str) -> list[list[str]]:
    """The colon-separated records of a container's /etc/passwd or /etc/group (bounded).

    The container's files are its own: the path is looked at first (``HEAD``: its stat), and
    read only when it is a regular file of a sane size.
    """
    endpoint = f"/containers/{container_id}/archive"
    try:
        head = await client.request("HEAD", endpoint, params={"path": path})
        stat_header = head.headers.get("X-Docker-Container-Path-Stat", "")
        info = json.loads(base64.b64decode(stat_header) or b"{}")
        mode, size = int(info.get("mode", -1)), int(info.get("size", -1))
        if mode < 0 or mode & GO_MODE_TYPE or not 0 <= size <= MAX_ACCOUNTS_BYTES:
            return []  # a directory, a link, a device, or too big for an account file
        response = await client.request("GET", endpoint, params={"path": path})
    except (EngineError, ValueError, TypeError, binascii.Error):
        return []
    if len(response.content) > MAX_ACCOUNTS_BYTES + 10240:
        return []
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        members = [m for m in tar.getmembers() if m.isreg()]
        extracted = tar.extractfile(members[0]) if members else None
        text = extracted.read(MAX_ACCOUNTS_BYTES).decode(errors="replace") if extracted else ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


async def container_owner(client: EngineClient, container_id: str) -> tuple[int, int]:
    """The uid and gid the container's ``user`` names: what synced files are owned by, as
    docker compose's copy with ``CopyUIDGID`` gives them."""
    user = (await client.container_inspect(container_id)).Config.user or ""
    name, _, group = user.partition(":")
    if not name:
        return 0, 0
    uid: int | None = int(name) if name.isdigit() else None
    gid: int | None = int(group) if group.isdigit() else None
    if uid is None or (gid is None and not group):
        for record in await _account_file(client, container_id, "/etc/passwd"):
            if len(record) > 3 and (record[0] == name or record[2] == name):
                if record[2].isdigit() and record[3].isdigit():
                    uid = int(record[2]) if uid is None else uid
                    gid = int(record[3]) if gid is None and not group else gid
                break
    if gid is None and group:
        for record in await _account_file(client, container_id, "/etc/group"):
            if len(record) > 2 and record[0] == group and record[2].isdigit():
                gid = int(record[2])
                break
    if uid is None:
        raise PlanError(f"user {name!r} of container {container_id[:12]} is not in its /etc/passwd")
    if gid is None and group:
        raise PlanError(
            f"group {group!r} of container {container_id[:12]} is not in its /etc/group"
        )
    return uid, gid or 0


async def sync_service(
    client: EngineClient,
    container_ids: Sequence[str],
    changes: Sequence[tuple[Mapping, Rule]],
) -> None:
    """Sync ``changes`` into every one of ``container_ids`` (in parallel), owned by each
    container's user."""
    errors: list[EngineError | PlanError] = []
    archives: dict[tuple[int, int], tuple[bytes, list[str]]] = {}

    async def one(container_id: str) -> None:
        try:
            owner = await container_owner(client, container_id)
            if owner not in archives:
                archives[owner] = await anyio.to_thread.run_sync(build_archive, changes, owner)
            archive, deleted = archives[owner]
            await sync_container(client, container_id, archive, deleted)
        except (EngineError, PlanError) as error:
            errors.append(error)

    async with anyio.create_task_group() as group:
        for container_id in container_ids:
            group.start_soon(one, container_id)
    if errors:
        raise errors[0]
