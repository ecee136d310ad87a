"""Routes of ``/images/...`` and ``/build`` (BuildKit's ``/session`` and ``/grpc`` refused).

Static paths come before the ``{name:path}`` ones: image references contain ``/``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from engine.api.models import parse_filters
from engine.daemon import filters as filtering
from engine.daemon.backend_api import Backend
from engine.daemon.http import FullResponse, Response, StreamResponse
from engine.daemon.routes.common import (
    JSON,
    LARGE_BODY,
    Call,
    RouteTable,
    json_response,
    progress_response,
)
from engine.errors import InvalidParameter


async def image_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.IMAGE_KEYS)
    return json_response(await backend.image_list(all=call.request.flag("all"), filters=wanted))


async def image_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.image_inspect(call["name"]))


async def image_history(backend: Backend, call: Call) -> Response:
    return json_response(await backend.image_history(call["name"]))


async def image_create(backend: Backend, call: Call) -> Response:
    request = call.request
    image = request.arg("fromImage")
    if not image:
        raise InvalidParameter("importing images (fromSrc) is not supported; give fromImage")
    stream = await backend.image_pull(
        image,
        request.arg("tag"),
        platform=request.arg("platform"),
        auth=request.header("x-registry-auth"),
    )
    return await progress_response(stream)


async def distribution_inspect(backend: Backend, call: Call) -> Response:
    return json_response(
        await backend.distribution_inspect(
            call["name"], auth=call.request.header("x-registry-auth")
        )
    )


async def image_push(backend: Backend, call: Call) -> Response:
    stream = await backend.image_push(
        call["name"], call.request.arg("tag"), auth=call.request.header("x-registry-auth")
    )
    return await progress_response(stream)


async def image_tag(backend: Backend, call: Call) -> Response:
    repo = call.request.arg("repo")
    if not repo:
        raise InvalidParameter("repository name must have at least one component")
    await backend.image_tag(call["name"], repo, call.request.arg("tag"))
    return FullResponse(201, [("Content-Length", "0")])


async def image_remove(backend: Backend, call: Call) -> Response:
    items = await backend.image_remove(
        call["name"], force=call.request.flag("force"), noprune=call.request.flag("noprune")
    )
    return json_response([item.model_dump(mode="json", exclude_none=True) for item in items])


async def image_load(backend: Backend, call: Call) -> Response:
    stream = await backend.image_load(
        call.request.chunks(LARGE_BODY), quiet=call.request.flag("quiet")
    )
    return await progress_response(stream)


async def image_build(backend: Backend, call: Call) -> Response:
    stream = await backend.image_build(call.request.chunks(LARGE_BODY), call.request.query)

    async def lines() -> AsyncIterator[bytes]:
        async for message in stream:
            yield (json.dumps(message) + "\r\n").encode()

    return StreamResponse(200, [("Content-Type", JSON)], lines())


async def buildkit_refused(backend: Backend, call: Call) -> Response:
    from engine.build import refuse_buildkit

    raise refuse_buildkit()


async def image_save_many(backend: Backend, call: Call) -> Response:
    names = call.request.query.get("names", [])
    if not names:
        raise InvalidParameter("no image names given")
    tar = await backend.image_save(names)
    return StreamResponse(200, [("Content-Type", "application/x-tar")], tar)


async def image_save(backend: Backend, call: Call) -> Response:
    tar = await backend.image_save([call["name"]])
    return StreamResponse(200, [("Content-Type", "application/x-tar")], tar)


async def image_prune(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.IMAGE_PRUNE_KEYS)
    return json_response(await backend.image_prune(wanted))


ROUTES: RouteTable = [
    ("GET", "/images/json", image_list),
    ("POST", "/images/create", image_create),
    ("POST", "/images/load", image_load),
    ("POST", "/build", image_build),
    ("POST", "/session", buildkit_refused),
    ("POST", "/grpc", buildkit_refused),
    ("GET", "/images/get", image_save_many),
    ("POST", "/images/prune", image_prune),
    ("GET", "/distribution/{name:path}/json", distribution_inspect),
    ("GET", "/images/{name:path}/json", image_inspect),
    ("GET", "/images/{name:path}/history", image_history),
    ("GET", "/images/{name:path}/get", image_save),
    ("POST", "/images/{name:path}/tag", image_tag),
    ("POST", "/images/{name:path}/push", image_push),
    ("DELETE", "/images/{name:path}", image_remove),
]
