"""Attack: a ``RUN`` step of ``POST /build`` reaching the host's loopback services.

dockerd runs each RUN of a classic build in a container on the default bridge; a RUN in
the host's network namespace can talk to every service the host binds to 127.0.0.1
(databases, the cloud metadata proxy, admin ports). A real engine builds a Dockerfile
whose RUN lists its interfaces and tries a TCP listener on the host's loopback.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile

import anyio
import pytest

from tests.security.hostile_images import add_member
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def _context(dockerfile: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        add_member(tar, "Dockerfile", dockerfile.encode())
    return out.getvalue()


async def _run_build(daemon: Daemon, port: int) -> str:
    dockerfile = (
        "FROM busybox\n"
        "RUN echo IFACES $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | "
        "tr '\\n' ,); "
        f"timeout 3 nc 127.0.0.1 {port} </dev/null; echo NC-DONE\n"
    )
    async with engine_client(daemon) as client:
        response = await client.request(
            "POST",
            "/build",
            params={"t": "net:latest", "rm": "1", "nocache": "1"},
            content=_context(dockerfile),
            headers={"Content-Type": "application/x-tar"},
        )
    messages = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert not [m for m in messages if "errorDetail" in m], messages
    return "".join(m.get("stream", "") for m in messages)


def test_run_steps_do_not_share_the_hosts_network():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        with running_engine() as daemon:
            output = anyio.run(_run_build, daemon, port)
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            reached = False
        else:
            connection.close()
            reached = True
    assert "NC-DONE" in output, output
    assert not reached, "a RUN step connected to a service on the host's 127.0.0.1"
    interfaces = output.rsplit("IFACES ", 1)[1].split()[0].strip(",").split(",")
    assert set(interfaces) == {"lo", "eth0"}, interfaces
