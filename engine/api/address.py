"""Where the engine listens, and a look at it with the standard library only.

``pycompose version``, ``pycompose ps`` and the choice of socket and data root need neither
httpx nor the pydantic models: importing this module costs the CLI nothing beyond the
standard library (tests/compose/test_cli_imports.py checks it). The full client is
:mod:`engine.api.client`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from engine.api.errors import EngineUnavailable

DEFAULT_SOCKET = "/run/pycompose/engine.sock"
DEFAULT_DATA_ROOT = "/var/lib/pycompose"
CLIENT_API_VERSION = "1.41"
"""The newest API version the clients speak (the full client negotiates down from it)."""

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
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(socket_path)
            conn.sendall(b"GET /version HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
            raw = _read_all(conn, MAX_ANSWER, deadline)
    except OSError:  # refused, timed out, reset: no engine answers there
        return None
    return None if raw is None else _version_document(raw)


def get_json(
    socket_path: str,
    path: str,
    params: Mapping[str, str],
    *,
    timeout: float,
    limit: int,
) -> Any | None:
    """``GET /v<CLIENT_API_VERSION><path>`` answered 200 with JSON, or None for anything else.

    One HTTP/1.1 request with ``Connection: close``, no version negotiation first: an engine
    that speaks :data:`CLIENT_API_VERSION` (pycompose's, dockerd's since 20.10) answers it
    as the negotiated request would be answered; an older one refuses the version. None
    (nothing listens, no whole answer within ``timeout`` seconds, an answer past
    ``limit`` bytes, an error status, a body that is not JSON) tells the caller to take the
    full client's path, which starts the engine or reports the error.
    """
    if not os.path.exists(socket_path):
        return None
    deadline = time.monotonic() + timeout
    target = f"/v{CLIENT_API_VERSION}{path}"
    if params:
        target += "?" + urlencode(params)
    request = f"GET {target} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(socket_path)
            conn.sendall(f"{request}User-Agent: pycompose\r\n\r\n".encode())
            raw = _read_all(conn, limit, deadline)
    except OSError:  # refused, timed out, reset
        return None
    return None if raw is None else _json_document(raw)


def _read_all(conn: socket.socket, limit: int, deadline: float) -> bytes | None:
    """What the peer sends until it closes: None past ``limit`` bytes; TimeoutError past
    ``deadline`` (time.monotonic), however slowly the bytes trickle in."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the engine's answer did not end in time")
        conn.settimeout(left)
        chunk = conn.recv(256 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _version_document(raw: bytes) -> dict[str, Any] | None:
    document = _json_document(raw)
    return document if isinstance(document, dict) else None


def _json_document(raw: bytes) -> Any | None:
    """The JSON body of a whole 200 answer, or None."""
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
        length = headers["content-length"]
        if not (length.isascii() and length.isdigit()) or len(body) < int(length):
            return None  # cut short, or no length at all
        body = body[: int(length)]
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON (nor UTF-8), or nested past the stack
        return None


def _dechunk(body: bytes) -> bytes | None:
    """A chunked body's bytes (RFC 9112 section 7.1; extensions and trailers ignored)."""
    out: list[bytes] = []
    at = 0  # read by offset: a list of hundreds of containers comes in hundreds of chunks
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            return None
        try:
            size = int(body[at:end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        at = end + 2
        if size < 0 or len(body) < at + size + 2:
            return None
        out.append(body[at : at + size])
        at += size + 2


__all__ = [
    "CLIENT_API_VERSION",
    "DEFAULT_DATA_ROOT",
    "DEFAULT_SOCKET",
    "data_root_from_env",
    "get_json",
    "socket_from_host",
    "version_answer",
]
