"""Registry credentials go only where they belong.

A registry (here 127.0.0.1) answers 401 with a bearer challenge whose realm is a plain-HTTP URL
on another host (127.0.0.2): sending the registry's Basic credentials there would hand the
user's password, in clear, to whoever the registry (or a man in the middle) names.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.images.auth import Credentials
from engine.images.reference import parse_reference
from engine.images.registry import RegistryClient

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Seen:
    def __init__(self) -> None:
        self.token_authorization: list[str] = []


def serve(address: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers() -> Iterator[tuple[str, Seen, str]]:
    """(registry host:port, what the token service saw, the token service's realm)."""
    seen = Seen()

    class TokenService(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.token_authorization.append(self.headers.get("Authorization", ""))
            body = json.dumps({"token": "t0k3n"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    token_service = serve("127.0.0.2", TokenService)
    realm = f"http://127.0.0.2:{token_service.server_address[1]}/token"

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != "Bearer t0k3n":
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="a"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header(
                "Docker-Content-Digest", "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
            )
            self.send_header("Content-Length", str(len(MANIFEST)))
            self.end_headers()
            self.wfile.write(MANIFEST)

        do_HEAD = do_GET

    registry = serve("127.0.0.1", Registry)
    try:
        yield f"127.0.0.1:{registry.server_address[1]}", seen, realm
    finally:
        registry.shutdown()
        token_service.shutdown()
        registry.server_close()
        token_service.server_close()


@pytest.mark.anyio
async def test_basic_credentials_never_go_to_a_plain_http_realm_on_another_host(
    servers: tuple[str, Seen, str],
) -> None:
    registry, seen, _ = servers
    credentials = {registry: Credentials("alice", "s3cret")}
    async with RegistryClient(credentials=credentials) as client:
        data, _, _ = await client.get_manifest(parse_reference(f"{registry}/app:1"))
    assert data == MANIFEST  # the token was fetched (anonymously) and used
    assert seen.token_authorization, "the token service was never asked"
    assert all("Basic" not in header for header in seen.token_authorization), (
        f"the registry's password went to the other host: {seen.token_authorization}"
    )
