"""Attack: ``detachKeys`` on ``POST /containers/{id}/attach`` is a client's text.

A bad, huge or many-keyed value is a 400 naming it (never a 500, a hang or a dead engine),
and a good one ends the attach when typed while the container runs on, as dockerd does.
"""

from __future__ import annotations

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

BAD = ["x" * 20_000, "ctrl-p," * 2000 + "ctrl-q", "ctrl-é", "ctrl-1", "ab", ",", "\x00"]


def test_bad_detach_keys_are_refused_and_good_ones_detach() -> None:
    async def scenario(daemon: Daemon) -> None:
        async with engine_client(daemon) as client:
            created = await client.container_create(
                ContainerCreate.model_validate(
                    {
                        "Image": "busybox",
                        "Cmd": ["sh"],
                        "Tty": True,
                        "OpenStdin": True,
                        "AttachStdin": True,
                    }
                )
            )
            await client.container_start(created.Id)
            try:
                for value in BAD:
                    with pytest.raises(errors.InvalidParameter, match="detach keys"):
                        async with client.container_attach_stream(
                            created.Id, stdin=True, tty=True, detach_keys=value
                        ):
                            pass
                assert await client.ping() is not None
                # a good sequence, typed in two pieces: the attach ends, the shell runs on
                await _attach_type_detach(client, created.Id, "ctrl-a,x", [b"\x01", b"x"])
                # the default one (ctrl-p ctrl-q); the shell never read the first sequence
                # (an "x" would have made this line "xecho", not found)
                seen = await _attach_type_detach(client, created.Id, None, [b"\x10\x11"])
                assert b"not found" not in seen, seen
                state = (await client.container_inspect(created.Id)).State
                assert state.Running, state
            finally:
                await client.container_remove(created.Id, force=True)

    with running_engine() as daemon:
        anyio.run(scenario, daemon)


async def _attach_type_detach(
    client: EngineClient, container: str, keys: str | None, sequence: list[bytes]
) -> bytes:
    """Attach, run an echo, type the detach ``sequence``: the output seen until the end."""
    with anyio.fail_after(30):
        async with client.container_attach_stream(
            container, stdin=True, tty=True, detach_keys=keys
        ) as connection:
            await connection.send(b"echo marker-$((6*7))\r")
            seen = b""
            async for _, data in connection:
                seen += data
                if b"marker-42\r\n" in seen:
                    break
            for piece in sequence:
                await connection.send(piece)
                await anyio.sleep(0.2)
            seen += b"".join([data async for _, data in connection])  # ends: detached
    assert b"marker-42" in seen, seen
    return seen
