"""The route table of the engine API: (method, path pattern) -> handler, over a Backend.

Each handler parses its request (query, JSON body), makes one call on the
:class:`~engine.daemon.backend_api.Backend`, and renders the answer in Docker's shape.
:class:`Router` is the server's handler: it strips an optional ``/v1.NN`` prefix (refusing
versions outside ``[MIN_API_VERSION, API_VERSION]``), finds the route, runs it, adds the
headers dockerd puts on every answer (``Api-Version``, ``Ostype``, ``Server``...), and turns
errors into ``{"message": ...}`` with ``Content-Type: application/json`` and the status of
:data:`engine.api.errors.STATUS_BY_KIND`.

Path patterns: ``{name}`` is one segment; ``{name:path}`` may contain ``/`` (image references
such as ``localhost:5000/a/b:tag`` arrive unescaped). Patterns are tried in table order.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.api.errors import EngineError, InvalidParameter, NotFound, status_for
from engine.api.models import (
    API_VERSION,
    MIN_API_VERSION,
    ContainerCreate,
    ExecCreate,
    ExecStart,
    NetworkConnect,
    NetworkCreate,
    NetworkDisconnect,
    ProgressMessage,
    VolumeCreate,
    parse_filters,
    version_tuple,
)
from engine.daemon import filters as filtering
from engine.daemon.backend_api import AttachOptions, Backend, LogOptions, Session
from engine.daemon.server import (
    FullResponse,
    Headers,
    Hijack,
    RawStream,
    Request,
    Response,
    StreamResponse,
    frame,
)

log = logging.getLogger(__name__)

SERVER_NAME = "pycompose-engine/0.1.0 (linux)"
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
JSON = "application/json"
LARGE_BODY = 64 * 1024 * 1024 * 1024
"""Bound for tar bodies (image load, archive put): they are streamed, never held whole."""

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)\Z")

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


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: RouteHandler
    regex: re.Pattern[str]


def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\{[a-z_]+(?::path)?\})", pattern):
        if piece.startswith("{"):
            name, _, kind = piece[1:-1].partition(":")
            parts.append(f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + r"\Z")


# ---------------------------------------------------------------------------------------------
# rendering helpers


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


def _int_arg(call: Call, name: str, default: int | None = None) -> int | None:
    value = call.request.arg(name)
    if value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from exc


def _time_arg(call: Call, name: str) -> float | None:
    value = call.request.arg(name)
    if value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from exc


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


# ---------------------------------------------------------------------------------------------
# system


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
    since = _time_arg(call, "since")
    until = _time_arg(call, "until")
    source = await backend.events(since, until)

    async def lines() -> AsyncIterator[bytes]:
        async for event in source:
            if filtering.event_matches(event, wanted):
                yield go_json(event.wire()) + b"\n"

    return StreamResponse(200, [("Content-Type", JSON)], lines())


# ---------------------------------------------------------------------------------------------
# containers


async def container_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.CONTAINER_KEYS)
    limit = _int_arg(call, "limit", -1)
    summaries = await backend.container_list_wire(
        all=call.request.flag("all"), filters=wanted, limit=-1 if limit is None else limit
    )
    return json_response(summaries)


async def container_create(backend: Backend, call: Call) -> Response:
    body = await json_body(call, ContainerCreate)
    name = call.request.arg("name") or None
    if name is not None and not re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return json_response(await backend.container_create(name, body), 201)


async def container_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.container_inspect(call["id"]))


async def container_start(backend: Backend, call: Call) -> Response:
    await backend.container_start(call["id"])
    return no_content()


async def container_stop(backend: Backend, call: Call) -> Response:
    await backend.container_stop(call["id"], _int_arg(call, "t"), call.request.arg("signal"))
    return no_content()


async def container_restart(backend: Backend, call: Call) -> Response:
    await backend.container_restart(call["id"], _int_arg(call, "t"))
    return no_content()


async def container_kill(backend: Backend, call: Call) -> Response:
    await backend.container_kill(call["id"], call.request.arg("signal") or "SIGKILL")
    return no_content()


async def container_pause(backend: Backend, call: Call) -> Response:
    await backend.container_pause(call["id"])
    return no_content()


async def container_unpause(backend: Backend, call: Call) -> Response:
    await backend.container_unpause(call["id"])
    return no_content()


async def container_wait(backend: Backend, call: Call) -> Response:
    condition = call.request.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidParameter(f"invalid condition: {condition!r}")
    waiter = await backend.container_wait(call["id"], condition)

    async def body() -> AsyncIterator[bytes]:
        result = await waiter()
        yield go_json(result.wire()) + b"\n"

    # Headers go out at once: both clients send wait before start and rely on that.
    return StreamResponse(200, [("Content-Type", JSON)], body())


async def container_logs(backend: Backend, call: Call) -> Response:
    request = call.request
    tail_text = request.arg("tail", "all")
    tail: int | None = None
    if tail_text not in ("", "all"):
        try:
            tail = max(int(tail_text), 0)
        except ValueError as exc:
            raise InvalidParameter(f"invalid value for tail: {tail_text!r}") from exc
    options = LogOptions(
        stdout=request.flag("stdout"),
        stderr=request.flag("stderr"),
        follow=request.flag("follow"),
        timestamps=request.flag("timestamps"),
        tail=tail,
        since=_time_arg(call, "since") or 0.0,
        until=_time_arg(call, "until") or 0.0,
    )
    if not (options.stdout or options.stderr):
        raise InvalidParameter("Bad parameters: you must choose at least one stream")
    logs = await backend.container_logs(call["id"], options)

    async def body() -> AsyncIterator[bytes]:
        async for stream, data in logs.lines:
            yield data if logs.tty else frame(stream, data)

    headers: Headers = []
    if logs.tty or call.version >= (1, 42):
        headers.append(("Content-Type", stream_content_type(call, logs.tty)))
    return StreamResponse(200, headers, body())


async def container_remove(backend: Backend, call: Call) -> Response:
    await backend.container_remove(
        call["id"], force=call.request.flag("force"), volumes=call.request.flag("v")
    )
    return no_content()


async def container_rename(backend: Backend, call: Call) -> Response:
    new_name = call.request.arg("name")
    if not new_name:
        raise InvalidParameter("Neither old nor new names may be empty")
    await backend.container_rename(call["id"], new_name)
    return no_content()


async def container_top(backend: Backend, call: Call) -> Response:
    return json_response(await backend.container_top(call["id"], call.request.arg("ps_args")))


async def container_stats(backend: Backend, call: Call) -> Response:
    return json_response(await backend.container_stats(call["id"]))


async def container_resize(backend: Backend, call: Call) -> Response:
    height, width = _int_arg(call, "h", 0) or 0, _int_arg(call, "w", 0) or 0
    await backend.container_resize(call["id"], height, width)
    return FullResponse(200, [("Content-Type", "text/plain; charset=utf-8")])


async def container_attach(backend: Backend, call: Call) -> Response:
    request = call.request
    options = AttachOptions(
        stdin=request.flag("stdin"),
        stdout=request.flag("stdout"),
        stderr=request.flag("stderr"),
        stream=request.flag("stream"),
        logs=request.flag("logs"),
    )
    session = await backend.container_attach(call["id"], options)
    return session_hijack(call, session, options.stdin)


async def container_prune(backend: Backend, call: Call) -> Response:
    return json_response(await backend.container_prune(parse_filters(call.request.arg("filters"))))


def _path_stat_header(stat: dict[str, Any]) -> tuple[str, str]:
    return ("X-Docker-Container-Path-Stat", base64.b64encode(go_json(stat)).decode())


async def archive_head(backend: Backend, call: Call) -> Response:
    stat = await backend.archive_stat(call["id"], call.request.arg("path"))
    return FullResponse(200, [_path_stat_header(stat), ("Content-Length", "0")])


async def archive_get(backend: Backend, call: Call) -> Response:
    stat, tar = await backend.archive_get(call["id"], call.request.arg("path"))
    headers = [("Content-Type", "application/x-tar"), _path_stat_header(stat)]
    return StreamResponse(200, headers, tar)


async def archive_put(backend: Backend, call: Call) -> Response:
    await backend.archive_put(
        call["id"],
        call.request.arg("path"),
        call.request.chunks(LARGE_BODY),
        no_overwrite_dir=call.request.flag("noOverwriteDirNonDir"),
    )
    return FullResponse(200)


# ---------------------------------------------------------------------------------------------
# exec


async def exec_create(backend: Backend, call: Call) -> Response:
    body = await json_body(call, ExecCreate)
    if not body.Cmd:
        raise InvalidParameter("No exec command specified")
    return json_response(await backend.exec_create(call["id"], body), 201)


async def exec_start(backend: Backend, call: Call) -> Response:
    body = await json_body(call, ExecStart)
    session = await backend.exec_start(call["id"], body)
    if body.Detach:

        async def drain() -> None:
            await session.run(None, _discard)

        await drain()
        return FullResponse(200, [("Content-Length", "0")])
    return session_hijack(call, session, True)


async def _discard(stream: int, data: bytes) -> None:
    return None


async def exec_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.exec_inspect(call["id"]))


async def exec_resize(backend: Backend, call: Call) -> Response:
    height, width = _int_arg(call, "h", 0) or 0, _int_arg(call, "w", 0) or 0
    await backend.exec_resize(call["id"], height, width)
    return FullResponse(200, [("Content-Type", "text/plain; charset=utf-8")])


# ---------------------------------------------------------------------------------------------
# images


async def image_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    return json_response(await backend.image_list(all=call.request.flag("all"), filters=wanted))


async def image_inspect(backend: Backend, call: Call) -> Response:
    return json_response(await backend.image_inspect(call["name"]))


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
    return json_response(await backend.image_prune(parse_filters(call.request.arg("filters"))))


# ---------------------------------------------------------------------------------------------
# networks


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


# ---------------------------------------------------------------------------------------------
# volumes


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


# ---------------------------------------------------------------------------------------------
# the table


_TABLE: list[tuple[str, str, RouteHandler]] = [
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping_head),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/system/df", system_df),
    ("GET", "/events", events),
    # containers
    ("GET", "/containers/json", container_list),
    ("POST", "/containers/create", container_create),
    ("POST", "/containers/prune", container_prune),
    ("GET", "/containers/{id}/json", container_inspect),
    ("POST", "/containers/{id}/start", container_start),
    ("POST", "/containers/{id}/stop", container_stop),
    ("POST", "/containers/{id}/restart", container_restart),
    ("POST", "/containers/{id}/kill", container_kill),
    ("POST", "/containers/{id}/pause", container_pause),
    ("POST", "/containers/{id}/unpause", container_unpause),
    ("POST", "/containers/{id}/wait", container_wait),
    ("GET", "/containers/{id}/logs", container_logs),
    ("DELETE", "/containers/{id}", container_remove),
    ("POST", "/containers/{id}/rename", container_rename),
    ("GET", "/containers/{id}/top", container_top),
    ("GET", "/containers/{id}/stats", container_stats),
    ("POST", "/containers/{id}/resize", container_resize),
    ("POST", "/containers/{id}/attach", container_attach),
    ("HEAD", "/containers/{id}/archive", archive_head),
    ("GET", "/containers/{id}/archive", archive_get),
    ("PUT", "/containers/{id}/archive", archive_put),
    ("POST", "/containers/{id}/exec", exec_create),
    # exec
    ("POST", "/exec/{id}/start", exec_start),
    ("POST", "/exec/{id}/resize", exec_resize),
    ("GET", "/exec/{id}/json", exec_inspect),
    # images (static paths before the {name:path} ones)
    ("GET", "/images/json", image_list),
    ("POST", "/images/create", image_create),
    ("POST", "/images/load", image_load),
    ("POST", "/build", image_build),
    ("POST", "/session", buildkit_refused),
    ("POST", "/grpc", buildkit_refused),
    ("GET", "/images/get", image_save_many),
    ("POST", "/images/prune", image_prune),
    ("GET", "/images/{name:path}/json", image_inspect),
    ("GET", "/images/{name:path}/get", image_save),
    ("POST", "/images/{name:path}/tag", image_tag),
    ("POST", "/images/{name:path}/push", image_push),
    ("DELETE", "/images/{name:path}", image_remove),
    # networks
    ("GET", "/networks", network_list),
    ("POST", "/networks/create", network_create),
    ("POST", "/networks/prune", network_prune),
    ("GET", "/networks/{id}", network_inspect),
    ("POST", "/networks/{id}/connect", network_connect),
    ("POST", "/networks/{id}/disconnect", network_disconnect),
    ("DELETE", "/networks/{id}", network_remove),
    # volumes
    ("GET", "/volumes", volume_list),
    ("POST", "/volumes/create", volume_create),
    ("POST", "/volumes/prune", volume_prune),
    ("GET", "/volumes/{name}", volume_inspect),
    ("DELETE", "/volumes/{name}", volume_remove),
]

ROUTES: list[Route] = [Route(m, p, h, _compile(p)) for m, p, h in _TABLE]


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
