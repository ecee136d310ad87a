"""A fake registry on 127.0.0.1 that serves what a test tells it to, faults included."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import imagekit as kit


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    truncate_at: int | None = None  # announce the full length, send this many bytes, hang up


class FakeRegistry:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    body = b'{"errors": [{"code": "NOT_FOUND", "message": "unknown"}]}'
                    route = Route(body, "application/json", 404)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.truncate_at is not None:
                    self.wfile.write(route.body[: route.truncate_at])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(route.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def serve_image(
        self,
        repo: str,
        tag: str,
        layers: list[bytes],
        *,
        compression="gzip",
        layer_type: str | None = None,
    ) -> dict:
        """Serve an image made of these layer tars; return {'manifest', 'config', 'layers'}."""
        blobs = [kit.compress(tar, compression) for tar in layers]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [kit.digest_of(t) for t in layers]},
            }
        ).encode()
        layer_descs = [
            {
                "mediaType": layer_type or kit.LAYER_TYPES[compression],
                "digest": kit.digest_of(b),
                "size": len(b),
            }
            for b in blobs
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": kit.OCI_MANIFEST,
            "config": {
                "mediaType": kit.OCI_CONFIG,
                "digest": kit.digest_of(config),
                "size": len(config),
            },
            "layers": layer_descs,
        }
        data = json.dumps(manifest).encode()
        self.routes[f"/v2/{repo}/manifests/{tag}"] = Route(data, kit.OCI_MANIFEST)
        self.routes[f"/v2/{repo}/blobs/{kit.digest_of(config)}"] = Route(config)
        for blob in blobs:
            self.routes[f"/v2/{repo}/blobs/{kit.digest_of(blob)}"] = Route(blob)
        return {"manifest": data, "config": config, "layers": blobs, "descs": layer_descs}
