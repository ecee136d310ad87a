"""Routes of ``/networks/...``."""

from __future__ import annotations

from engine.api.models import NetworkConnect, NetworkCreate, NetworkDisconnect, parse_filters
from engine.daemon import filters as filtering
from engine.daemon.backend_api import Backend
from engine.daemon.http import FullResponse, Response
from engine.daemon.routes.common import Call, RouteTable, json_body, json_response, no_content
from engine.errors import InvalidParameter


async def network_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.NETWORK_KEYS)
    return json_response(await backend.network_list(wanted))


async def network_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.network_inspect(call["id"]))


async def network_create(backend: Backend, call: Call) -> Response:
    body = await json_body(call, NetworkCreate)
    if not body.Name:
        raise InvalidParameter("network name must not be empty")
    return json_response(await backend.network_create(body), 201)


async def network_connect(backend: Backend, call: Call) -> Response:
    await backend.network_connect(call["id"], await json_body(call, NetworkConnect))
    return FullResponse(200, [("Content-Length", "0")])


async def network_disconnect(backend: Backend, call: Call) -> Response:
    await backend.network_disconnect(call["id"], await json_body(call, NetworkDisconnect))
    return FullResponse(200, [("Content-Length", "0")])


async def network_remove(backend: Backend, call: Call) -> Response:
    await backend.network_remove(call["id"])
    return no_content()


async def network_prune(backend: Backend, call: Call) -> Response:
    return json_response(await backend.network_prune(parse_filters(call.request.arg("filters"))))


ROUTES: RouteTable = [
    ("GET", "/networks", network_list),
    ("POST", "/networks/create", network_create),
    ("POST", "/networks/prune", network_prune),
    ("GET", "/networks/{id}", network_inspect),
    ("POST", "/networks/{id}/connect", network_connect),
    ("POST", "/networks/{id}/disconnect", network_disconnect),
    ("DELETE", "/networks/{id}", network_remove),
]
