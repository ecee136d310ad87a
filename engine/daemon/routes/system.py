"""Routes of the engine itself: ``/_ping``, ``/version``, ``/info``, ``/system/df``,
``/events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from engine.api.models import parse_filters
from engine.daemon import filters as filtering
from engine.daemon.backend_api import Backend
from engine.daemon.http import FullResponse, Headers, Response, StreamResponse
from engine.daemon.routes.common import JSON, Call, RouteTable, go_json, json_response, time_arg


def _ping_headers() -> Headers:
    return [
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
        ("Builder-Version", "1"),
        ("Content-Type", "text/plain; charset=utf-8"),
    ]


async def ping(backend: Backend, call: Call) -> Response:
    return FullResponse(200, _ping_headers(), b"OK")


async def ping_head(backend: Backend, call: Call) -> Response:
    return FullResponse(200, [*_ping_headers(), ("Content-Length", "0")])


async def version(backend: Backend, call: Call) -> Response:
    return json_response(await backend.version())


async def info(backend: Backend, call: Call) -> Response:
    return json_response(await backend.info())


async def system_df(backend: Backend, call: Call) -> Response:
    return json_response(await backend.system_df())


async def events(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.EVENT_KEYS)
    since = time_arg(call, "since")
    until = time_arg(call, "until")
    source = await backend.events(since, until)

    async def lines() -> AsyncIterator[bytes]:
        async for event in source:
            if filtering.event_matches(event, wanted):
                yield go_json(event.wire()) + b"\n"

    return StreamResponse(200, [("Content-Type", JSON)], lines())


ROUTES: RouteTable = [
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping_head),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/system/df", system_df),
    ("GET", "/events", events),
]
