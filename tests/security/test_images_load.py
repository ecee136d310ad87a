"""Attack: hostile archives through ``POST /images/load`` of a real engine.

- a gzip bomb whose PAX header declares hundreds of MiB (tarfile reads a whole extended
  header into memory): refused at the bound, the engine's peak memory stays small;
- members of the archive that are symlinks out of it (``manifest.json -> /etc/...``) or a
  loop of symlinks: a clear 400, nothing of the host read;
- a layer carrying ``trusted.overlay.*`` extended attributes (overlayfs obeys them:
  redirects, opaque markers, metacopy): the image is refused.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from tests.security.hostile_images import add_member, image_with_layers
from tests.security.storage_helpers import running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

BOMB_HEADER = 400 << 20


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(key)


def _pax_bomb() -> bytes:
    """A gzip'd tar whose first entry is a PAX header of ``BOMB_HEADER`` bytes (one
    ``comment`` record): under 1 MiB on the wire."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = BOMB_HEADER
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as packed:
        packed.write(header.tobuf(tarfile.USTAR_FORMAT))
        prefix = f"{BOMB_HEADER} comment=".encode()
        packed.write(prefix)
        remaining = BOMB_HEADER - len(prefix) - 1
        block = b"A" * (1 << 20)
        while remaining:
            packed.write(block[: min(remaining, len(block))])
            remaining -= min(remaining, len(block))
        packed.write(b"\n")
        packed.write(bytes(1024))
    return out.getvalue()


def _archive(members: list[tuple[str, bytes | None, str]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data, link in members:
            if link:
                add_member(tar, name, kind=tarfile.SYMTYPE, link=link)
            else:
                add_member(tar, name, data)
    return out.getvalue()


async def _load(client: EngineClient, data: bytes) -> None:
    await client.request(
        "POST", "/images/load", content=data, headers={"Content-Type": "application/x-tar"}
    )


async def _attack(socket: str, pid: int) -> None:
    async with EngineClient(socket, timeout=120) as client:
        bomb = _pax_bomb()
        assert len(bomb) < 2 << 20
        peak_before = _status_kib(pid, "VmHWM")
        with pytest.raises(errors.InvalidParameter) as refused:
            await _load(client, bomb)
        grown = (_status_kib(pid, "VmHWM") - peak_before) >> 10
        assert grown < 100, f"the engine's peak memory grew by {grown} MiB on a 1 MiB archive"
        assert "limit" in str(refused.value)

        escaping = _archive([("manifest.json", None, "/etc/passwd")])
        with pytest.raises(errors.InvalidParameter):
            await _load(client, escaping)
        looping = _archive([("manifest.json", None, "a"), ("a", None, "manifest.json")])
        with pytest.raises(errors.InvalidParameter, match="loop"):
            await _load(client, looping)
        layer_link = _archive(
            [
                ("manifest.json", json.dumps([{"Config": "c.json", "Layers": ["l"]}]).encode(), ""),
                ("c.json", None, "../../../../../../etc/hostname"),
                ("l", None, "/proc/self/environ"),
            ]
        )
        with pytest.raises(errors.InvalidParameter):
            await _load(client, layer_link)

        overlay = io.BytesIO()
        with tarfile.open(fileobj=overlay, mode="w", format=tarfile.PAX_FORMAT) as tar:
            add_member(tar, "etc", kind=tarfile.DIRTYPE, mode=0o755)
            add_member(
                tar,
                "etc/shadowed",
                kind=tarfile.DIRTYPE,
                mode=0o755,
                pax={"SCHILY.xattr.trusted.overlay.redirect": "/"},
            )
        with pytest.raises(errors.InvalidParameter, match=r"trusted\.overlay\.redirect"):
            await _load(client, image_with_layers("overlay:evil", [overlay.getvalue()]))
        assert [i.RepoTags for i in await client.image_list()] == []


def test_hostile_archives_on_images_load():
    with running_engine() as daemon:
        assert daemon.process is not None
        anyio.run(_attack, daemon.socket, daemon.process.pid)
