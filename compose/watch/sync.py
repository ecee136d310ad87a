"""Copy changed host files into a service's containers through the engine's API.

As docker compose's tar syncer: what exists on the host goes in one tar, extracted at
``/`` by ``PUT /containers/{id}/archive``; what no longer exists is removed with
``rm -rf`` run in the container (the archive API has no delete). Both work the same
against pycompose's engine and a real dockerd.
"""

from __future__ import annotations

import io
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


def build_archive(changes: Sequence[tuple[Mapping, Rule]]) -> tuple[bytes, list[str]]:
    """The tar of what exists (last one wins for a name), and the container paths to delete."""
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


async def sync_service(
    client: EngineClient,
    container_ids: Sequence[str],
    changes: Sequence[tuple[Mapping, Rule]],
) -> None:
    """Sync ``changes`` into every one of ``container_ids`` (in parallel)."""
    archive, deleted = await anyio.to_thread.run_sync(build_archive, changes)
    errors: list[EngineError | PlanError] = []

    async def one(container_id: str) -> None:
        try:
            await sync_container(client, container_id, archive, deleted)
        except (EngineError, PlanError) as error:
            errors.append(error)

    async with anyio.create_task_group() as group:
        for container_id in container_ids:
            group.start_soon(one, container_id)
    if errors:
        raise errors[0]
