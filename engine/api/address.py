"""Where the engine listens, and a look at it with the standard library only.

``pycompose version`` and the choice of socket and data root need neither httpx nor the
pydantic models: importing this module costs the CLI nothing beyond the standard library
(tests/compose/test_cli_imports.py checks it). The full client is :mod:`engine.api.client`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import Any

from engine.api.errors import EngineUnavailable

DEFAULT_SOCKET = "/run/pycompose/engine.sock"
DEFAULT_DATA_ROOT = "/var/lib/pycompose"

# an answer to GET /version is a few hundred bytes; anything past this is not our engine
MAX_ANSWER = 64 * 1024


def socket_from_host(host: str | None = None) -> str:
    """The socket path of ``PYCOMPOSE_HOST`` / ``DOCKER_HOST``-style ``unix://`` URLs."""
    host = host or os.environ.get("PYCOMPOSE_HOST") or DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://") :]
    if "://" in host:
        raise EngineUnavailable(
            f"unsupported engine address {host!r}", hint="use unix:///path/to/socket"
        )
    return host


def data_root_from_env(data_root: str | None = None) -> str:
    return data_root or os.environ.get("PYCOMPOSE_DATA_ROOT") or DEFAULT_DATA_ROOT


def version_answer(socket_path: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The engine's ``GET /version`` document, or None when nothing (sane) answers.

    One HTTP/1.1 request with ``Connection: close`` on the unix socket; the answer is read
    to its end (at most :data:`MAX_ANSWER` bytes, within ``timeout`` seconds in all).
    """
    if not os.path.exists(socket_path):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(socket_path)
            conn.sendall(b"GET /version HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
            raw = _read_all(conn)
    except OSError:  # refused, timed out, reset: no engine answers there
        return None
    if raw is None:
        return None
    return _version_document(raw)


def _read_all(conn: socket.socket) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while chunk := conn.recv(16 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _version_document(raw: bytes) -> dict[str, Any] | None:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return None
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        return None
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        decoded = _dechunk(body)
        if decoded is None:
            return None
        body = decoded
    elif "content-length" in headers:
        with contextlib.suppress(ValueError):
            body = body[: int(headers["content-length"])]
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _dechunk(body: bytes) -> bytes | None:
    """A chunked body's bytes (RFC 9112 section 7.1; extensions and trailers ignored)."""
    out: list[bytes] = []
    while True:
        size_line, separator, rest = body.partition(b"\r\n")
        if not separator:
            return None
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        if size < 0 or len(rest) < size + 2:
            return None
        out.append(rest[:size])
        body = rest[size + 2 :]


__all__ = [
    "DEFAULT_DATA_ROOT",
    "DEFAULT_SOCKET",
    "data_root_from_env",
    "socket_from_host",
    "version_answer",
]
