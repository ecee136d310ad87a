"""Attack: a container plants a symlink in a named volume; another mounts it by ``subpath``.

Container 1 writes ``ln -s / /data/evil`` into volume ``shared``; container 2 asks for
``shared`` with ``subpath: evil``. Followed on the host, that mounts the host's root into
container 2. The engine must refuse it with a clear error, also when the symlink is swapped
in between its check and runc's mount (a racing container flips a directory and a symlink).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.api import errors
from tests.security.storage_helpers import (
    Daemon,
    engine_client,
    run_container,
    running_engine,
    skip_reason,
)

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

RACE_ROUNDS = 25


def _subpath_mount(subpath: str) -> dict[str, Any]:
    return {
        "Mounts": [
            {
                "Type": "volume",
                "Source": "shared",
                "Target": "/data",
                "VolumeOptions": {"Subpath": subpath},
            }
        ]
    }


def _host_marker(daemon: Daemon) -> Path:
    marker = daemon.base / "host-root-marker"
    marker.write_text("host\n")
    return marker


def _probe(marker: Path) -> str:
    """What container 2 runs: says HOST-ROOT when its /data is the host's root."""
    return f"if test -e /data{marker}; then echo HOST-ROOT; else echo confined; fi; cat /data/f"


def test_a_planted_symlink_subpath_is_refused() -> None:
    async def scenario(daemon: Daemon) -> None:
        marker = _host_marker(daemon)
        async with engine_client(daemon) as client:
            await run_container(
                client,
                "ln -s / /data/evil; mkdir -p /data/real /data/a; echo inside > /data/real/f;"
                " ln -s real /data/rel; ln -s ../.. /data/a/up; ln -s /etc /data/etc",
                {"Binds": ["shared:/data"]},
            )
            for subpath in ("evil", "a/up", "etc/x", "evil/tmp"):
                with pytest.raises(errors.EngineError) as refused:
                    _, output = await run_container(client, _probe(marker), _subpath_mount(subpath))
                    pytest.fail(f"subpath {subpath} was mounted: {output!r}")
                assert isinstance(refused.value, errors.InvalidParameter), refused.value
                assert "leads out of the volume" in refused.value.message, refused.value.message
            # a symlink that stays inside the volume is followed
            _, output = await run_container(client, _probe(marker), _subpath_mount("rel"))
            assert output == b"confined\ninside\n"

    with running_engine() as daemon:
        anyio.run(scenario, daemon)


def test_a_symlink_swapped_in_while_containers_start_never_mounts_the_host_root() -> None:
    async def scenario(daemon: Daemon) -> None:
        marker = _host_marker(daemon)
        async with engine_client(daemon) as client:
            await run_container(
                client,
                "mkdir -p /data/evil; echo inside > /data/evil/f; ln -s / /data/link",
                {"Binds": ["shared:/data"]},
            )
            # evil: the directory, gone, the symlink, gone, the directory... (renames)
            racer, _ = await run_container(
                client,
                "while :; do mv /data/evil /data/x; mv /data/link /data/evil;"
                " mv /data/x /data/link; done",
                {"Binds": ["shared:/data"]},
                detach=True,
            )
            mounted = refused = 0
            reasons: set[str] = set()
            try:
                for _ in range(RACE_ROUNDS):
                    try:
                        _, output = await run_container(
                            client, _probe(marker), _subpath_mount("evil")
                        )
                    except errors.EngineError as exc:
                        refused += 1
                        reasons.add(exc.message)
                        continue
                    assert b"HOST-ROOT" not in output, "the host's root was mounted"
                    mounted += 1
            finally:
                await client.container_remove(racer, force=True)
            print(f"{mounted} mounted the real directory, {refused} refused: {reasons}")
            assert mounted + refused == RACE_ROUNDS

    with running_engine() as daemon:
        anyio.run(scenario, daemon)
