"""Routes of ``docker exec``: ``POST /containers/{id}/exec`` and ``/exec/{id}/...``."""

from __future__ import annotations

from engine.api.models import ExecCreate, ExecStart
from engine.daemon.backend_api import Backend
from engine.daemon.http import FullResponse, Response
from engine.daemon.routes.common import (
    Call,
    RouteTable,
    json_body,
    json_response,
    resized,
    session_hijack,
    terminal_size,
)
from engine.errors import InvalidParameter


async def exec_create(backend: Backend, call: Call) -> Response:
    body = await json_body(call, ExecCreate)
    if not body.Cmd:
        raise InvalidParameter("No exec command specified")
    return json_response(await backend.exec_create(call["id"], body), 201)


async def exec_start(backend: Backend, call: Call) -> Response:
    body = await json_body(call, ExecStart)
    session = await backend.exec_start(call["id"], body)
    if body.Detach:
        # the engine runs the process on its own (Execs.start); the answer comes at once
        return FullResponse(200, [("Content-Length", "0")])
    return session_hijack(call, session, True)


async def exec_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.exec_inspect(call["id"]))


async def exec_resize(backend: Backend, call: Call) -> Response:
    await backend.exec_resize(call["id"], *terminal_size(call))
    return resized()


ROUTES: RouteTable = [
    ("POST", "/containers/{id}/exec", exec_create),
    ("POST", "/exec/{id}/start", exec_start),
    ("POST", "/exec/{id}/resize", exec_resize),
    ("GET", "/exec/{id}/json", exec_inspect),
]
