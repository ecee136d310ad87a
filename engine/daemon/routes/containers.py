"""Routes of ``/containers/...``: lifecycle, logs, attach, stats, ``docker cp`` archives."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from engine.api.models import ContainerCreate, parse_filters
from engine.api.models.detach_keys import DEFAULT_DETACH_KEYS, parse_detach_keys
from engine.daemon import filters as filtering
from engine.daemon.backend_api import AttachOptions, Backend, CommitOptions, LogOptions
from engine.daemon.http import FullResponse, Headers, Response, StreamResponse, frame
from engine.daemon.routes.common import (
    JSON,
    LARGE_BODY,
    Call,
    RouteTable,
    go_json,
    int_arg,
    json_body,
    json_response,
    no_content,
    resized,
    session_hijack,
    stream_content_type,
    terminal_size,
    time_arg,
)
from engine.errors import InvalidParameter


async def container_list(backend: Backend, call: Call) -> Response:
    wanted = parse_filters(call.request.arg("filters"))
    filtering.check_keys(wanted, filtering.CONTAINER_KEYS)
    limit = int_arg(call, "limit", -1)
    limit = -1 if limit is None else limit
    every = call.request.flag("all")
    body = await backend.container_list_json(all=every, filters=wanted, limit=limit)
    if body is not None:
        return FullResponse(200, [("Content-Type", JSON)], body + b"\n")
    return json_response(await backend.container_list_wire(all=every, filters=wanted, limit=limit))


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
    await backend.container_stop(call["id"], int_arg(call, "t"), call.request.arg("signal"))
    return no_content()


async def container_restart(backend: Backend, call: Call) -> Response:
    await backend.container_restart(call["id"], int_arg(call, "t"))
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
        since=time_arg(call, "since") or 0.0,
        until=time_arg(call, "until") or 0.0,
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
    await backend.container_resize(call["id"], *terminal_size(call))
    return resized()


async def container_attach(backend: Backend, call: Call) -> Response:
    request = call.request
    options = AttachOptions(
        stdin=request.flag("stdin"),
        stdout=request.flag("stdout"),
        stderr=request.flag("stderr"),
        stream=request.flag("stream"),
        logs=request.flag("logs"),
        detach_keys=parse_detach_keys(request.arg("detachKeys") or DEFAULT_DETACH_KEYS),
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


async def container_export(backend: Backend, call: Call) -> Response:
    tar = await backend.container_export(call["id"])
    return StreamResponse(200, [("Content-Type", "application/x-tar")], tar)


async def archive_put(backend: Backend, call: Call) -> Response:
    await backend.archive_put(
        call["id"],
        call.request.arg("path"),
        call.request.chunks(LARGE_BODY),
        no_overwrite_dir=call.request.flag("noOverwriteDirNonDir"),
    )
    return FullResponse(200)


async def container_commit(backend: Backend, call: Call) -> Response:
    request = call.request
    body = (await request.body(1 << 20)).strip()
    if body and body != b"null":
        try:
            config = json.loads(body)
        except ValueError as exc:
            raise InvalidParameter(f"invalid commit config: {exc}") from exc
        if config:
            raise InvalidParameter(
                "a commit config in the body is not supported",
                hint="give the changes as Dockerfile instructions (changes=...)",
            )
    image_id = await backend.container_commit(
        request.arg("container"),
        CommitOptions(
            repo=request.arg("repo"),
            tag=request.arg("tag"),
            author=request.arg("author"),
            comment=request.arg("comment"),
            pause=request.flag("pause", default=True),
            changes=tuple(request.query.get("changes", [])),
        ),
    )
    return json_response({"Id": image_id}, status=201)


ROUTES: RouteTable = [
    ("POST", "/commit", container_commit),
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
    ("GET", "/containers/{id}/export", container_export),
    ("PUT", "/containers/{id}/archive", archive_put),
]
