"""Attack: hostile local volume driver options (type, o, device) from an API client.

The options become mount(2) arguments run by root: each must be refused by name before
anything is made (NUL and newlines, commas smuggled into a tmpfs source, unknown options,
sizes beyond memory, relative or missing devices, block file systems), and a volume bound to a
host directory must never take the host's files with it when removed, whatever a container
planted inside it (symlinks to / included).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from engine.api import errors
from engine.api.models import VolumeCreate
from tests.security.storage_helpers import (
    Daemon,
    engine_client,
    run_container,
    running_engine,
    skip_reason,
)

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

HOSTILE: list[tuple[dict[str, str], str]] = [
    ({"type": "tmpfs", "o": "size=8m\0,uid=0"}, "NUL"),
    ({"type": "tmpfs", "o": "size=8m\nuid=0"}, "NUL/newline"),
    ({"type": "tmpfs", "device": "tmpfs,size=100g"}, "device"),
    ({"type": "tmpfs", "o": "uid=1000\0size=1g"}, "NUL"),
    ({"type": "tmpfs", "o": "size=8m,huge=always"}, "huge"),
    ({"type": "tmpfs", "o": "size=" + "9" * 30}, "size="),
    ({"type": "tmpfs", "o": "size=999999g"}, "out of range"),
    ({"type": "tmpfs", "o": "uid=4294967295"}, "uid"),
    ({"type": "tmpfs", "o": "x," * 2000}, "too long"),
    ({"type": "none", "o": "bind", "device": "../../etc"}, "absolute"),
    ({"type": "none", "o": "bind", "device": "/etc/passwd\0"}, "absolute"),
    ({"type": "none", "o": "bind,suid", "device": "/tmp"}, "suid"),
    ({"type": "ext4", "o": "loop", "device": "/dev/sda"}, "type='ext4'"),
    ({"type": "tmpfs", "upperdir": "/"}, "upperdir"),
]


def test_hostile_driver_options_are_refused_and_leave_nothing() -> None:
    async def scenario(daemon: Daemon) -> None:
        async with engine_client(daemon) as client:
            for number, (options, named) in enumerate(HOSTILE):
                name = f"hostile{number}"
                with pytest.raises(errors.EngineError) as refused:
                    await client.volume_create(VolumeCreate(Name=name, DriverOpts=options))
                    pytest.fail(f"{options!r} was accepted")
                assert refused.value.status in (400, 501), refused.value
                assert named in refused.value.message, (named, refused.value.message)
                with pytest.raises(errors.NotFound):
                    await client.volume_inspect(name)
            assert "/volumes/hostile" not in Path("/proc/self/mounts").read_text()

    with running_engine() as daemon:
        anyio.run(scenario, daemon)


def test_removing_a_bind_volume_never_deletes_the_host_directory() -> None:
    async def scenario(daemon: Daemon) -> None:
        host = daemon.base / "host-directory"
        host.mkdir()
        (host / "precious").write_text("keep me\n")
        outside = daemon.base / "outside-marker"
        outside.write_text("outside\n")
        async with engine_client(daemon) as client:
            options = {"type": "none", "o": "bind", "device": str(host)}
            await client.volume_create(VolumeCreate(Name="bound", DriverOpts=options))
            assert (await client.volume_inspect("bound")).Options == options  # as dockerd
            _, output = await run_container(
                client,
                f"cat /data/precious; ln -s / /data/root; ln -s {outside} /data/marker;"
                " mkdir /data/dir; echo planted > /data/dir/f",
                {"Binds": ["bound:/data"]},
            )
            assert output == b"keep me\n"
            await client.volume_remove("bound", force=True)
            with pytest.raises(errors.NotFound):
                await client.volume_inspect("bound")
        assert (host / "precious").read_text() == "keep me\n"
        assert (host / "dir/f").read_text() == "planted\n"
        assert outside.read_text() == "outside\n"
        assert "/volumes/bound/" not in Path("/proc/self/mounts").read_text()

    with running_engine() as daemon:
        anyio.run(scenario, daemon)
