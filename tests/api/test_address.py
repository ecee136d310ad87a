"""engine.api.address reads the answers to GET /version and `ps`'s list by itself: its HTTP
parsing, its bounds in bytes and time."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from engine.api.address import (
    MAX_ANSWER,
    _version_document,
    get_json,
    socket_from_host,
    version_answer,
)
from engine.api.errors import EngineUnavailable
from tests.answering import serve_once

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


def test_an_endless_answer_is_cut_at_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.sock"
    thread = serve_once(path, b"HTTP/1.1 200 OK\r\n\r\n" + b" " * (MAX_ANSWER + 1))
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


# --- get_json: `ps`'s one request -------------------------------------------------------


def _ask(path: Path, answer: bytes, *, limit: int = 1 << 20, timeout: float = 5.0) -> Any:
    heard: list[bytes] = []
    thread = serve_once(path, answer, heard)
    try:
        return get_json(str(path), "/containers/json", {}, timeout=timeout, limit=limit)
    finally:
        thread.join(timeout=10)


LIST = [{"Id": f"{n:064x}", "Names": [f"/p-s-{n}"], "Labels": {"a": "b"}} for n in range(300)]


def test_one_versioned_get_with_its_query(tmp_path: Path) -> None:
    heard: list[bytes] = []
    body = json.dumps(LIST).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    thread = serve_once(tmp_path / "e.sock", answer, heard)
    params = {"filters": '{"label":{"x=y":true}}', "all": "1"}
    got = get_json(str(tmp_path / "e.sock"), "/containers/json", params, timeout=5, limit=1 << 20)
    thread.join(timeout=10)
    assert got == LIST
    request_line = heard[0].split(b"\r\n", 1)[0]
    assert request_line == (
        b"GET /v1.41/containers/json?filters=%7B%22label%22%3A%7B%22x%3Dy%22%3Atrue%7D%7D"
        b"&all=1 HTTP/1.1"
    )
    assert b"\r\nConnection: close\r\n" in heard[0]


def test_a_list_in_hundreds_of_chunks(tmp_path: Path) -> None:
    body = json.dumps(LIST).encode()
    parts = [body[at : at + 97] for at in range(0, len(body), 97)]
    assert len(parts) > 300
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in parts)
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
    assert _ask(tmp_path / "e.sock", answer) == LIST


@pytest.mark.parametrize(
    "answer",
    [
        # dockerd's answer to a version it does not speak: the full client negotiates
        b'HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{"message": "too new"}',
        b"HTTP/1.1 500 Internal Server Error\r\n\r\n[]",
        b'HTTP/1.1 200 OK\r\n\r\n[{"Id": ',
        b"HTTP/1.1 200 OK\r\n\r\n\xff\xfe[]",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"[" * 100_000 + b"]" * 100_000,  # past the stack
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n[]",  # cut short
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n[]\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n",  # no last chunk
        b"HTTP/1.1 200 OK",
        b"",
    ],
)
def test_a_bad_answer_is_none(tmp_path: Path, answer: bytes) -> None:
    assert _ask(tmp_path / "e.sock", answer) is None


def test_an_answer_past_the_limit_is_none(tmp_path: Path) -> None:
    body = json.dumps(LIST).encode()
    answer = b"HTTP/1.1 200 OK\r\n\r\n" + body
    assert _ask(tmp_path / "e.sock", answer, limit=len(answer)) == LIST
    assert _ask(tmp_path / "f.sock", answer, limit=len(answer) - 1) is None


def test_a_trickling_answer_is_cut_at_the_deadline(tmp_path: Path) -> None:
    heard: list[bytes] = []
    answer = b"HTTP/1.1 200 OK\r\n\r\n" + b" " * 200 + b"[]"
    thread = serve_once(tmp_path / "e.sock", answer, heard, pause=0.02)  # ~4.5 s in all
    started = time.monotonic()
    got = get_json(str(tmp_path / "e.sock"), "/containers/json", {}, timeout=0.5, limit=1 << 20)
    took = time.monotonic() - started
    thread.join(timeout=10)
    assert got is None
    assert 0.4 < took < 2.0  # each byte came well within 0.5 s: the bound is on the whole


def test_no_engine_is_none(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent.sock")
    assert get_json(absent, "/containers/json", {}, timeout=1, limit=100) is None
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:
        left.bind(str(stale))
        assert get_json(str(stale), "/containers/json", {}, timeout=1, limit=100) is None
