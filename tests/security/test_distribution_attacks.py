"""``GET /distribution/{name}/json`` against hostile clients and a hostile registry.

The name comes from an API client: it is parsed and bounded before any registry is asked
(no path tricks, no other scheme, no oversized names). What the registry sends is hostile
too: the config blob read for a manifest's platform is bounded by the size the manifest
announces (at most MAX_CONFIG_SIZE) and checked against its digest, and a manifest that
announces a larger one is refused without fetching it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from engine.images.distribution import MAX_CONFIG_SIZE, inspect_distribution
from engine.images.errors import DigestMismatch, InvalidImage
from engine.images.reference import parse_reference
from engine.images.registry import RegistryClient
from tests.security.storage_helpers import running_engine, skip_reason

CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(config_digest: str, config_size: int) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [],
        }
    ).encode()


class Hostile:
    """A registry on 127.0.0.1 whose answers each test sets; it records every request."""

    def __init__(self) -> None:
        self.manifest = _manifest(_digest(CONFIG), len(CONFIG))
        self.blob = CONFIG
        self.paths: list[str] = []


@pytest.fixture
def hostile() -> Iterator[tuple[str, Hostile]]:
    state = Hostile()

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.paths.append(self.path)
            if "/manifests/" in self.path:
                body, kind = state.manifest, "application/vnd.oci.image.manifest.v1+json"
            elif "/blobs/" in self.path:
                body, kind = state.blob, "application/octet-stream"
            else:
                body, kind = b"{}", "application/json"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def _inspect(registry: str) -> dict[str, object]:
    async with RegistryClient() as client:
        return await inspect_distribution(client, parse_reference(f"{registry}/app:1"))


def test_an_honest_answer_gives_descriptor_and_platform(hostile: tuple[str, Hostile]) -> None:
    registry, state = hostile
    answer = anyio.run(_inspect, registry)
    assert answer["Descriptor"] == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": _digest(state.manifest),
        "size": len(state.manifest),
    }
    assert answer["Platforms"] == [{"architecture": "amd64", "os": "linux"}]


def test_a_config_blob_longer_than_announced_is_cut_off(hostile: tuple[str, Hostile]) -> None:
    registry, state = hostile
    state.blob = CONFIG + b" " * (8 << 20)  # 8 MiB where the manifest announces a few bytes
    with pytest.raises(DigestMismatch, match="more than"):
        anyio.run(_inspect, registry)


def test_a_config_blob_with_other_content_is_refused(hostile: tuple[str, Hostile]) -> None:
    registry, state = hostile
    state.blob = json.dumps({"architecture": "evil", "os": "linux"}).encode()[: len(CONFIG)]
    with pytest.raises(DigestMismatch):
        anyio.run(_inspect, registry)


def test_an_announced_huge_config_is_refused_unfetched(hostile: tuple[str, Hostile]) -> None:
    registry, state = hostile
    state.manifest = _manifest(_digest(CONFIG), MAX_CONFIG_SIZE + 1)
    with pytest.raises(InvalidImage, match="too large"):
        anyio.run(_inspect, registry)
    assert not any("/blobs/" in path for path in state.paths)


HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "127.0.0.1:1/../../v2/x",
    "up/PER",
    "127.0.0.1:1/UPPER",
    "a" * 300,
    "x:" + "t" * 200,
    "x@sha256:zz",
    "http://127.0.0.1/x",
    "x%00y",
]


@pytest.mark.root
@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_hostile_names_are_refused_before_any_registry_is_asked(
    hostile: tuple[str, Hostile],
) -> None:
    registry, state = hostile

    async def ask(socket: str) -> list[tuple[str, int]]:
        answers = []
        async with EngineClient(socket, timeout=60) as client:
            for name in [*HOSTILE_NAMES, f"{registry}/App", f"{registry}/app:{'t' * 129}"]:
                try:
                    await client.distribution_inspect(name)
                except errors.EngineError as error:
                    answers.append((name, error.status))
                else:
                    answers.append((name, 200))
            good = await client.distribution_inspect(f"{registry}/app:1")
            assert good["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
        return answers

    with running_engine() as daemon:
        answers = anyio.run(ask, str(daemon.socket))
    refused = [(name, status) for name, status in answers if status not in (400, 404)]
    assert not refused, f"accepted or failed badly: {refused}"
    # only the honest request reached the registry
    assert all(path.startswith("/v2/app/") or path == "/v2/" for path in state.paths), state.paths
