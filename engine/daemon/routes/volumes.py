"""Routes of ``/volumes/...``."""

from __future__ import annotations

from engine.api.models import VolumeCreate, parse_filters
from engine.daemon import filters as filtering
from engine.daemon.backend_api import Backend
from engine.daemon.http import Response
from engine.daemon.routes.common import Call, RouteTable, json_body, json_response, no_content


async def volume_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.VOLUME_KEYS)
    return json_response(await backend.volume_list(wanted))


async def volume_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.volume_inspect(call["name"]))


async def volume_create(backend: Backend, call: Call) -> Response:
    return json_response(await backend.volume_create(await json_body(call, VolumeCreate)), 201)


async def volume_remove(backend: Backend, call: Call) -> Response:
    await backend.volume_remove(call["name"], force=call.request.flag("force"))
    return no_content()


async def volume_prune(backend: Backend, call: Call) -> Response:
    return json_response(await backend.volume_prune(parse_filters(call.request.arg("filters"))))


ROUTES: RouteTable = [
    ("GET", "/volumes", volume_list),
    ("POST", "/volumes/create", volume_create),
    ("POST", "/volumes/prune", volume_prune),
    ("GET", "/volumes/{name}", volume_inspect),
    ("DELETE", "/volumes/{name}", volume_remove),
]
