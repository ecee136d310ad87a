"""The route table of the engine API: (method, path pattern) -> handler, over a Backend.

Each handler parses its request (query, JSON body), makes one call on the
:class:`~engine.daemon.backend_api.Backend`, and renders the answer in Docker's shape.
:class:`Router` is the server's handler: it strips an optional ``/v1.NN`` prefix (refusing
versions outside ``[MIN_API_VERSION, API_VERSION]``), finds the route, runs it, adds the
headers dockerd puts on every answer (``Api-Version``, ``Ostype``, ``Server``...), and turns
errors into ``{"message": ...}`` with ``Content-Type: application/json`` and the status of
:data:`engine.errors.STATUS_BY_KIND`.

Path patterns: ``{name}`` is one segment; ``{name:path}`` may contain ``/`` (image references
such as ``localhost:5000/a/b:tag`` arrive unescaped). Patterns are tried in table order.

Handlers live by resource: system, containers, execs, images, networks, volumes (each a
``ROUTES`` table); common holds the call and the rendering helpers they share.
"""

from __future__ import annotations

import re

from engine.api.models import API_VERSION, MIN_API_VERSION, version_tuple
from engine.daemon.backend_api import Backend
from engine.daemon.http import FullResponse, Headers, Hijack, Request, Response, StreamResponse
from engine.daemon.routes import containers, execs, images, networks, system, volumes
from engine.daemon.routes.common import (
    SERVER_NAME,
    Call,
    Route,
    RouteTable,
    compile_pattern,
    error_response,
)
from engine.errors import EngineError, InvalidParameter, NotFound

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)\Z")

_TABLE: RouteTable = [
    *system.ROUTES,
    *containers.ROUTES,
    *execs.ROUTES,
    *images.ROUTES,
    *networks.ROUTES,
    *volumes.ROUTES,
]

ROUTES: list[Route] = [Route(m, p, h, compile_pattern(p)) for m, p, h in _TABLE]


def common_headers() -> Headers:
    """Headers dockerd adds to every non-hijacked answer."""
    return [
        ("Api-Version", API_VERSION),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", SERVER_NAME),
    ]


def negotiate(path: str) -> tuple[str, tuple[int, int]]:
    """Strip ``/v1.NN``; the remaining path and the version the request asks for."""
    match = _VERSION_PREFIX.match(path)
    if match is None:
        return path, version_tuple(API_VERSION)
    wanted = version_tuple(match.group(1))
    if wanted > version_tuple(API_VERSION):
        raise InvalidParameter(
            f"client version {match.group(1)} is too new. "
            f"Maximum supported API version is {API_VERSION}"
        )
    if wanted < version_tuple(MIN_API_VERSION):
        raise InvalidParameter(
            f"client version {match.group(1)} is too old. "
            f"Minimum supported API version is {MIN_API_VERSION}, "
            "please upgrade your client to a newer version"
        )
    return match.group(2), wanted


class Router:
    """The server's handler: routes requests to ``backend``."""

    def __init__(self, backend: Backend, routes: list[Route] | None = None) -> None:
        self.backend = backend
        self.routes = ROUTES if routes is None else routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(path)
            if found is not None:
                return route, found.groupdict()
        raise NotFound("page not found")

    async def __call__(self, request: Request) -> Response:
        try:
            path, version = negotiate(request.path)
            route, params = self.match(request.method, path)
            response = await route.handler(self.backend, Call(request, params, version))
        except EngineError as exc:
            response = error_response(exc)
        await self.backend.durable()  # nothing is acknowledged before it is on disk
        if isinstance(response, Hijack):
            return response
        if isinstance(response, FullResponse):
            headers = common_headers() + response.headers
            return FullResponse(response.status, headers, response.body)
        headers = common_headers() + response.headers
        return StreamResponse(response.status, headers, response.chunks)


def route_table() -> list[tuple[str, str]]:
    """(method, pattern) of every route, for documentation and tests."""
    return [(route.method, route.pattern) for route in ROUTES]
