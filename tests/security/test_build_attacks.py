"""Attack: hostile build contexts and ``ADD`` archives through ``POST /build`` of a real
engine.

- a context whose symlink chain passes PATH_MAX (CVE-2025-4517: tarfile's ``data`` filter
  checks ``os.path.realpath``, which gives up and answers "inside" while the kernel climbs
  out) writes nothing outside the build's directory;
- ``ADD --chown`` of an archive with an absolute member naming a host file, or a member
  climbing out with ``..``, chowns and writes nothing on the host;
- a loop of symlinks in the context is a clear error (400 or a failed step), never a 500.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from tests.security import tarkit as kit
from tests.security.hostile_images import add_member
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def _context(members: list[tuple[str, bytes | None, str]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, link in members:
            if link:
                add_member(tar, name, kind=tarfile.SYMTYPE, link=link)
            else:
                add_member(tar, name, data)
    return out.getvalue()


async def _build(client: EngineClient, context: bytes) -> list[dict]:
    """The build's JSON messages (an HTTP error is raised as EngineError)."""
    response = await client.request(
        "POST",
        "/build",
        params={"t": "attack:latest", "rm": "1"},
        content=context,
        headers={"Content-Type": "application/x-tar"},
    )
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _failed(messages: list[dict]) -> str:
    return " ".join(m["errorDetail"]["message"] for m in messages if "errorDetail" in m)


def _realpath_context(dest: str) -> bytes:
    """tests/security/test_attacks.py's CVE-2025-4517 archive, for a context unpacked at
    ``dest``; ``escape`` climbs two levels above it (the engine's data root)."""
    steps = "abcdefghijklmnop"
    component = "d" * ((4096 - len(dest) - 1) // (len(steps) + 1))
    entries: list[kit.Entry] = [kit.f("Dockerfile", b"FROM busybox\n")]
    path = ""
    for step in steps:
        entries.append(kit.d(os.path.join(path, component), mode=0o777))
        entries.append(kit.sym(os.path.join(path, step), component))
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    entries.append(kit.sym(linkpath, os.path.join(*[".."] * len(steps))))
    entries.append(kit.sym("escape", os.path.join(linkpath, "..", "..")))
    entries.append(kit.f("escape/pwned-by-context", b"new"))
    return kit.tar_bytes(entries)


async def _attack(daemon: Daemon, host: Path) -> None:
    async with engine_client(daemon) as client:
        # the context is unpacked at <data root>/build-XXXXXXXX/context (mkdtemp)
        dest = f"{daemon.data_root}/build-xxxxxxxx/context"
        try:
            await _build(client, _realpath_context(dest))
        except errors.EngineError as exc:
            assert not isinstance(exc, errors.EngineInternal), exc
        assert not (daemon.data_root / "pwned-by-context").exists()

        looping = _context(
            [("Dockerfile", b"FROM busybox\nCOPY a /x\n", ""), ("a", None, "b"), ("b", None, "a")]
        )
        try:
            messages = await _build(client, looping)
        except errors.EngineError as exc:
            assert isinstance(exc, errors.InvalidParameter), exc
        else:
            assert "symbolic links" in _failed(messages)

        victim = host / "victim"
        victim.write_text("host file")
        os.chown(victim, 0, 0)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            add_member(tar, str(victim), b"overwritten")
        add = _context(
            [
                ("Dockerfile", b"FROM busybox\nADD --chown=4321:4321 evil.tar /dest/\n", ""),
                ("evil.tar", archive.getvalue(), ""),
            ]
        )
        messages = await _build(client, add)
        assert _failed(messages) == ""
        assert (os.stat(victim).st_uid, victim.read_text()) == (0, "host file")

        climbing = io.BytesIO()
        with tarfile.open(fileobj=climbing, mode="w") as tar:
            add_member(tar, "../../../../../../../../.." + str(victim), b"overwritten")
        add = _context(
            [
                ("Dockerfile", b"FROM busybox\nADD --chown=4321:4321 evil.tar /dest/\n", ""),
                ("evil.tar", climbing.getvalue(), ""),
            ]
        )
        messages = await _build(client, add)
        assert "climbs out" in _failed(messages)
        assert (os.stat(victim).st_uid, victim.read_text()) == (0, "host file")


def test_hostile_contexts_and_add_archives_stay_inside(tmp_path):
    with running_engine() as daemon:
        anyio.run(_attack, daemon, tmp_path)
