"""Attack: secrets and configs copied into a hostile container, through a real engine.

pycompose copies them with ``PUT /containers/{id}/archive`` before start and names them in
``HostConfig.ReadonlyPaths``. The image's own symlinks at the target directories
(``/run/secrets -> <host dir>``, ``/etc/app -> ../../..<host dir>``) must resolve inside the
container: the files never land on the host, and the read-only bind runc makes never
reaches a host path. ReadonlyPaths entries from API clients are checked: relative paths,
``..`` climbing out and oversized lists are refused before anything is made.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import anyio
import pytest

from compose import file_mounts
from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.hostile_images import add_member, image_with_layers
from tests.security.storage_helpers import running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def _symlink_layer(victim: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        inside = ""
        for part in victim.parts[1:]:  # the same path inside the container, a directory
            inside += f"{part}/"
            add_member(tar, inside.rstrip("/"), kind=tarfile.DIRTYPE, mode=0o755)
        add_member(tar, "run", kind=tarfile.DIRTYPE, mode=0o755)
        add_member(tar, "run/dangling", kind=tarfile.SYMTYPE, link=f"{victim}/missing")
        add_member(tar, "run/secrets", kind=tarfile.SYMTYPE, link=str(victim))
        add_member(tar, "etc/app", kind=tarfile.SYMTYPE, link=f"../../../../..{victim}")
    return buffer.getvalue()


def _files() -> list[file_mounts.FileMount]:
    return [
        file_mounts.FileMount("secret", "db", "/run/secrets/db", 7, 8, 0o400, b"pw", "d1"),
        file_mounts.FileMount("config", "app", "/etc/app/app.conf", 0, 0, 0o444, b"conf", "d2"),
    ]


async def _attack(socket: str, victim: Path) -> None:
    image = image_with_layers("hostile-secrets:latest", [_symlink_layer(victim)])
    files = _files()
    body = file_mounts.with_files(
        ContainerCreate.model_validate(
            {
                "Image": "hostile-secrets",
                "Cmd": [
                    "sh",
                    "-c",
                    "cat /run/secrets/db /etc/app/app.conf; stat -c ' %u %g %a' /run/secrets/db;"
                    " { echo x > /run/secrets/db; } 2>/dev/null || echo refused;"
                    " chmod 777 /etc/app/app.conf 2>/dev/null || echo refused",
                ],
                "HostConfig": {},
            }
        ),
        files,
    )
    async with EngineClient(socket, timeout=60) as client:
        await client.request(
            "POST", "/images/load", content=image, headers={"Content-Type": "application/x-tar"}
        )
        created = await client.container_create(body)
        try:
            await client.container_archive_put(created.Id, "/", file_mounts.archive(files))
            assert list(victim.iterdir()) == []  # landed in the container, not on the host
            dangling = [
                file_mounts.FileMount("secret", "x", "/run/dangling/x", 0, 0, 0o444, b"", "")
            ]
            with pytest.raises(errors.InvalidParameter, match="symlink"):
                await client.container_archive_put(created.Id, "/", file_mounts.archive(dangling))
            assert list(victim.iterdir()) == []
            await client.container_start(created.Id)
            await client.container_wait(created.Id)
            output = b"".join([data async for _, data in client.container_logs(created.Id)])
            assert output.decode().split("\n")[:3] == ["pwconf 7 8 400", "refused", "refused"]
        finally:
            await client.container_remove(created.Id, force=True)
        assert list(victim.iterdir()) == []

        before = await client.container_list(all=True)
        for paths in (
            ["../../etc/x"],
            ["etc/x"],
            ["/run/secrets/../../../etc/x"],
            ["/ok", "/a/./b"],
            ["/" + "a" * 5000],
            ["/x"] * 10_000,
        ):
            hostile = ContainerCreate.model_validate(
                {
                    "Image": "hostile-secrets",
                    "Cmd": ["true"],
                    "HostConfig": {"ReadonlyPaths": paths},
                }
            )
            with pytest.raises(errors.InvalidParameter, match="ReadonlyPaths"):
                await client.container_create(hostile)
        assert await client.container_list(all=True) == before


def test_copied_files_stay_in_the_container_and_hostile_read_only_paths_are_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    with running_engine() as daemon:
        anyio.run(_attack, daemon.socket, victim)
