"""Registry credentials belong to the API request that brought them.

A real engine and the real CNCF registry on 127.0.0.1 with htpasswd auth: a push with the
right ``X-Registry-Auth`` succeeds, without it or with wrong ones it is refused; a second
client (another connection) without credentials cannot pull what the first one could,
because the token or credentials the first request used are never cached for others.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

REGISTRY = "/usr/bin/docker-registry"
_REFUSED = "denied|401|unauthorized|wants a user name"
SKIP = skip_reason() or (
    None
    if Path(REGISTRY).exists() and shutil.which("htpasswd")
    else "docker-registry and htpasswd are needed (scripts/install.sh)"
)
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_registry(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    htpasswd = tmp / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "alice", "s3cret"], check=True, capture_output=True
    )
    port = _free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n"
        f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    )
    process = subprocess.Popen(
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
        except urllib.error.HTTPError:
            return process, f"127.0.0.1:{port}"  # 401: it answers
        except OSError:
            time.sleep(0.1)
        else:
            return process, f"127.0.0.1:{port}"
    process.kill()
    process.wait()
    raise RuntimeError("the registry did not start")


def _auth(username: str, password: str) -> str:
    data = json.dumps({"username": username, "password": password}).encode()
    return base64.urlsafe_b64encode(data).decode()


async def _stream(client: EngineClient, method: str, path: str, **kwargs) -> list[dict]:
    """The JSON messages of a pull or push; an error line is raised as AuthError-like."""
    response = await client.request(method, path, **kwargs)
    messages = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    failed = [m["errorDetail"]["message"] for m in messages if "errorDetail" in m]
    if failed:
        raise errors.EngineError(" ".join(failed))
    return messages


async def _push(client: EngineClient, reference: str, auth: str | None) -> list[dict]:
    headers = {"X-Registry-Auth": auth} if auth else {}
    return await _stream(
        client, "POST", f"/images/{reference}/push", params={"tag": "v1"}, headers=headers
    )


async def _pull(client: EngineClient, reference: str, auth: str | None) -> list[dict]:
    headers = {"X-Registry-Auth": auth} if auth else {}
    return await _stream(
        client,
        "POST",
        "/images/create",
        params={"fromImage": reference, "tag": "v1"},
        headers=headers,
    )


async def _scenario(daemon: Daemon, registry: str) -> None:
    reference = f"{registry}/private/busybox"
    good = _auth("alice", "s3cret")
    async with engine_client(daemon) as first:
        await first.image_tag("busybox", reference, "v1")
        with pytest.raises(errors.EngineError, match=_REFUSED):
            await _push(first, reference, None)
        with pytest.raises(errors.EngineError, match=_REFUSED):
            await _push(first, reference, _auth("alice", "wrong"))
        pushed = await _push(first, reference, good)
        assert [m for m in pushed if "aux" in m], pushed
        await first.image_remove(f"{reference}:v1")
        await _pull(first, reference, good)
        await first.image_remove(f"{reference}:v1")
    async with EngineClient(daemon.socket, timeout=60) as second:
        with pytest.raises(errors.EngineError, match=_REFUSED):
            await _pull(second, reference, None)
        with pytest.raises(errors.EngineError, match=_REFUSED):
            await _pull(second, reference, _auth("mallory", "guess"))
        with pytest.raises(errors.NotFound):
            await second.image_inspect(f"{reference}:v1")


def test_credentials_are_used_for_their_own_request_only(tmp_path):
    process, registry = _start_registry(tmp_path)
    try:
        with running_engine() as daemon:
            anyio.run(_scenario, daemon, registry)
    finally:
        process.kill()
        process.wait()
