"""engine.api.address reads the answer to GET /version by itself: its HTTP parsing."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from engine.api.address import MAX_ANSWER, _version_document, socket_from_host, version_answer
from engine.api.errors import EngineUnavailable

BODY = b'{"Version": "1.2.3", "ApiVersion": "1.41", "Platform": {"Name": "x"}}'


def test_a_body_of_known_length() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    assert _version_document(raw) == {
        "Version": "1.2.3",
        "ApiVersion": "1.41",
        "Platform": {"Name": "x"},
    }


def test_a_chunked_body() -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:10], BODY[10:]))
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    assert _version_document(raw) == _version_document(b"HTTP/1.1 200 OK\r\n\r\n" + BODY)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\n\r\nnot json",
        b"HTTP/1.1 200 OK\r\n\r\n[1, 2]",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort\r\n0\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n",
        b"",
    ],
)
def test_anything_else_is_no_engine(raw: bytes) -> None:
    assert _version_document(raw) is None


def _serve_once(path: Path, answer: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(answer)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_an_endless_answer_is_cut_at_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.sock"
    thread = _serve_once(path, b"HTTP/1.1 200 OK\r\n\r\n" + b" " * (MAX_ANSWER + 1))
    assert version_answer(str(path)) is None
    thread.join(timeout=10)


def test_no_socket_and_a_refusing_one_are_no_engine(tmp_path: Path) -> None:
    assert version_answer(str(tmp_path / "absent.sock")) is None
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:
        left.bind(str(stale))  # bound, never listening: connect is refused
        assert version_answer(str(stale)) is None


def test_only_unix_addresses() -> None:
    assert socket_from_host("unix:///run/x.sock") == "/run/x.sock"
    with pytest.raises(EngineUnavailable, match="unsupported engine address"):
        socket_from_host("tcp://1.2.3.4:2375")
