"""Shared by every route module: the call a handler gets, and rendering in Docker's shapes.

Handlers parse their request (query, JSON body), make one call on the
:class:`~engine.daemon.backend_api.Backend`, and answer with the helpers here: JSON as Go
writes it, errors as ``{"message": ...}``, progress streams (``\\r\\n``-separated, errors
after the start in-band), hijacked sessions with Docker's stream framing.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.api.models import ProgressMessage
from engine.daemon.backend_api import Backend, Session
from engine.daemon.http import (
    FullResponse,
    Hijack,
    RawStream,
    Request,
    Response,
    StreamResponse,
    frame,
)
from engine.errors import EngineError, InvalidParameter, status_for

SERVER_NAME = "pycompose-engine/0.1.0 (linux)"
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
JSON = "application/json"
LARGE_BODY = 64 * 1024 * 1024 * 1024
"""Bound for tar bodies (image load, archive put): they are streamed, never held whole."""


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request, path parameters and the negotiated version."""

    request: Request
    params: dict[str, str]
    version: tuple[int, int]

    def __getitem__(self, key: str) -> str:
        return self.params[key]


RouteHandler = Callable[[Backend, Call], Awaitable[Response]]
RouteTable = list[tuple[str, str, RouteHandler]]
"""(method, path pattern, handler) rows, tried in order."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: RouteHandler
    regex: re.Pattern[str]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\{[a-z_]+(?::path)?\})", pattern):
        if piece.startswith("{"):
            name, _, kind = piece[1:-1].partition(":")
            parts.append(f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + r"\Z")


def go_json(value: Any) -> bytes:
    """JSON as Go's encoder writes it (``<``, ``>``, ``&`` escaped), compact."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def json_response(value: Any, status: int = 200) -> FullResponse:
    if isinstance(value, BaseModel):
        value = _wire(value)
    elif isinstance(value, list):
        value = [_wire(v) if isinstance(v, BaseModel) else v for v in value]
    return FullResponse(status, [("Content-Type", JSON)], go_json(value) + b"\n")


def _wire(model: BaseModel) -> Any:
    wire = getattr(model, "wire", None)
    return wire() if wire is not None else model.model_dump(mode="json")


def no_content() -> FullResponse:
    return FullResponse(204)


def error_response(error: EngineError) -> FullResponse:
    body = go_json({"message": error.message}) + b"\n"
    return FullResponse(status_for(error), [("Content-Type", JSON)], body)


async def json_body(call: Call, model: type[M]) -> M:
    data = await call.request.body()
    if not data.strip():
        data = b"{}"
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidParameter(f"invalid request body: {where}: {first['msg']}") from exc


N = TypeVar("N", int, float)


def _number_arg(call: Call, name: str, kind: type[N]) -> N | None:
    value = call.request.arg(name)
    if value == "":
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from exc


def int_arg(call: Call, name: str, default: int | None = None) -> int | None:
    value = _number_arg(call, name, int)
    return default if value is None else value


def time_arg(call: Call, name: str) -> float | None:
    return _number_arg(call, name, float)


def terminal_size(call: Call) -> tuple[int, int]:
    """``h`` and ``w`` of a resize request (0 when not given)."""
    return int_arg(call, "h", 0) or 0, int_arg(call, "w", 0) or 0


def resized() -> Response:
    """dockerd's answer to a resize: 200 with an empty text body."""
    return FullResponse(200, [("Content-Type", "text/plain; charset=utf-8")])


async def _lines(
    first: ProgressMessage | None, rest: AsyncIterator[ProgressMessage]
) -> AsyncIterator[bytes]:
    """A progress stream, ``\\r\\n``-separated; an error after the start goes in-band."""
    if first is not None:
        yield go_json(first.wire()) + b"\r\n"
    try:
        async for message in rest:
            yield go_json(message.wire()) + b"\r\n"
    except EngineError as exc:
        yield go_json({"errorDetail": {"message": exc.message}, "error": exc.message}) + b"\r\n"


async def progress_response(stream: AsyncIterator[ProgressMessage]) -> Response:
    """Errors before the first message are plain HTTP errors (404 for an unknown tag)."""
    try:
        first: ProgressMessage | None = await anext(stream)
    except StopAsyncIteration:
        first = None
    return StreamResponse(200, [("Content-Type", JSON)], _lines(first, stream))


def stream_content_type(call: Call, tty: bool) -> str:
    if tty or call.version < (1, 42):
        return RAW_STREAM
    return MULTIPLEXED_STREAM


def session_hijack(call: Call, session: Session, with_stdin: bool) -> Hijack:
    tty = session.tty

    async def run(raw: RawStream) -> None:
        async def output(stream: int, data: bytes) -> None:
            await raw.send(data if tty else frame(stream, data))

        async def stdin() -> AsyncIterator[bytes]:
            while True:
                data = await raw.receive()
                if not data:
                    return
                yield data

        await session.run(stdin() if with_stdin else None, output)
        await raw.send_eof()

    return Hijack(stream_content_type(call, tty), run)
