"""A unix socket that answers one connection with fixed bytes: an engine as the tests of the
standard-library client see it (compose's quick paths, engine.api.address)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


def serve_once(
    path: Path, answer: bytes, heard: list[bytes] | None = None, pause: float = 0.0
) -> threading.Thread:
    """Answer one connection on ``path`` with ``answer`` (byte by byte, ``pause`` seconds
    apart, when ``pause``); what the client sent goes to ``heard``. Join the thread."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                request = conn.recv(4096)
                if heard is not None:
                    heard.append(request)
                try:
                    if not pause:
                        conn.sendall(answer)
                    for byte in answer if pause else b"":
                        conn.sendall(bytes([byte]))
                        time.sleep(pause)
                except OSError:  # the client hung up: what a bound on its side is for
                    pass

    thread = threading.Thread(target=serve)
    thread.start()
    return thread
