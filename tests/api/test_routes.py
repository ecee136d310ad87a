"""The route table and HTTP server, driven by the real EngineClient and by raw bytes."""

from __future__ import annotations

import json

import anyio
import pytest
from api_helpers import Engine, running_engine

from engine.api import errors
from engine.api.client import EngineClient, demultiplex
from engine.api.models import (
    API_VERSION,
    ContainerCreate,
    ExecCreate,
    NetworkCreate,
    VolumeCreate,
    parse_filters,
)
from engine.daemon.http import frame
from engine.daemon.routes import route_table
from engine.daemon.server import Limits

pytestmark = pytest.mark.anyio


def head_of(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return lines[0], headers, body


# --- version negotiation -------------------------------------------------------------------


async def test_head_ping_carries_the_negotiation_headers_and_no_body(engine: Engine) -> None:
    raw = await engine.raw(b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = head_of(raw)
    assert status == "HTTP/1.1 200 OK"
    assert headers["api-version"] == API_VERSION
    assert headers["ostype"] == "linux"
    assert headers["docker-experimental"] == "false"
    assert headers["builder-version"] == "1"
    assert headers["content-length"] == "0"
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert body == b""


async def test_get_ping_answers_ok(engine: Engine) -> None:
    raw = await engine.raw(b"GET /_ping HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n")
    status, headers, body = head_of(raw)
    assert status == "HTTP/1.1 200 OK"
    assert headers["api-version"] == API_VERSION
    assert body == b"OK"


async def test_ping_and_version_agree_and_client_negotiates(engine: Engine) -> None:
    version = await engine.client.version()
    assert version.ApiVersion == await engine.client.ping() == API_VERSION
    assert engine.client.api_version == API_VERSION
    assert version.MinAPIVersion <= version.ApiVersion


@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.41"])
async def test_versioned_and_unversioned_paths_reach_the_same_route(
    engine: Engine, prefix: str
) -> None:
    raw = await engine.raw(
        f"GET {prefix}/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    status, _, body = head_of(raw)
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body)["ApiVersion"] == API_VERSION


@pytest.mark.parametrize(("prefix", "word"), [("/v1.99", "too new"), ("/v1.12", "too old")])
async def test_versions_out_of_range_are_refused(engine: Engine, prefix: str, word: str) -> None:
    raw = await engine.raw(
        f"GET {prefix}/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    status, headers, body = head_of(raw)
    assert status.startswith("HTTP/1.1 400")
    assert headers["content-type"] == "application/json"
    assert word in json.loads(body)["message"]


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        errors.NotFound,
        errors.InvalidParameter,
        errors.Conflict,
        errors.Unsupported,
        errors.EngineInternal,
    ],
)
async def test_each_error_kind_round_trips_through_status_to_the_client(
    engine: Engine, kind: type[errors.EngineError]
) -> None:
    with pytest.raises(kind) as raised:
        await engine.client.container_inspect(f"error-{kind.__name__}")
    assert type(raised.value) is kind
    assert raised.value.message == f"{kind.__name__} raised for error-{kind.__name__}"
    raw = await engine.raw(
        f"GET /v1.41/containers/error-{kind.__name__}/json HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    status, headers, body = head_of(raw)
    assert status.startswith(f"HTTP/1.1 {errors.STATUS_BY_KIND[kind]} ")
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": f"{kind.__name__} raised for error-{kind.__name__}"}


async def test_unknown_path_is_a_json_404(engine: Engine) -> None:
    raw = await engine.raw(
        b"GET /v1.41/nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status, _headers, body = head_of(raw)
    assert status.startswith("HTTP/1.1 404")
    assert json.loads(body) == {"message": "page not found"}


async def test_unimplemented_endpoint_is_501_in_docker_shape(engine: Engine) -> None:
    with pytest.raises(errors.Unsupported, match="not supported"):
        await engine.client.container_top("anything")


async def test_missing_socket_is_engine_unavailable(tmp_path) -> None:
    async with EngineClient(str(tmp_path / "none.sock")) as client:
        with pytest.raises(errors.EngineUnavailable, match="cannot reach the engine"):
            await client.version()


# --- containers ------------------------------------------------------------------------------


async def test_create_list_with_label_filter_inspect_remove(engine: Engine) -> None:
    labels = {"com.docker.compose.project": "demo", "com.docker.compose.service": "web"}
    created = await engine.client.container_create(
        ContainerCreate(Image="busybox", Labels=labels, Cmd=["true"]), name="demo-web-1"
    )
    await engine.client.container_create(ContainerCreate(Image="busybox"), name="other")
    with pytest.raises(errors.Conflict, match="already in use"):
        await engine.client.container_create(ContainerCreate(Image="busybox"), name="other")
    found = await engine.client.container_list(
        all=True, filters={"label": ["com.docker.compose.project=demo"]}
    )
    assert [c.Id for c in found] == [created.Id]
    assert found[0].Labels == labels
    assert found[0].Names == ["/demo-web-1"]
    assert await engine.client.container_list() == []  # none running
    inspect = await engine.client.container_inspect("demo-web-1")
    assert inspect.Config.labels == labels
    assert inspect.Config.cmd == ["true"]
    await engine.client.container_remove(created.Id[:12])
    with pytest.raises(errors.NotFound, match="No such container: demo-web-1"):
        await engine.client.container_inspect("demo-web-1")


async def test_invalid_bodies_and_names_are_400(engine: Engine) -> None:
    raw = await engine.raw(
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 9\r\nConnection: close\r\n\r\n{not json"
    )
    status, _headers, body = head_of(raw)
    assert status.startswith("HTTP/1.1 400")
    assert "invalid request body" in json.loads(body)["message"]
    with pytest.raises(errors.InvalidParameter, match="Invalid container name"):
        await engine.client.container_create(ContainerCreate(Image="x"), name="bad name!")
    with pytest.raises(errors.InvalidParameter, match="invalid filter"):
        await engine.client.container_list(filters={"colour": ["red"]})


async def test_wait_headers_arrive_before_start_and_body_after_exit(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox"))
    async with await anyio.connect_unix(engine.socket) as stream:
        await stream.send(
            f"POST /v1.41/containers/{created.Id}/wait?condition=next-exit HTTP/1.1\r\n"
            "Host: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        with anyio.fail_after(60):
            head = await stream.receive()
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Transfer-Encoding: chunked" in head or b"transfer-encoding: chunked" in head
        await engine.client.container_start(created.Id)
        await engine.client.container_stop(created.Id)
        rest = b""
        with anyio.fail_after(60):
            while b"0\r\n\r\n" not in rest:
                rest += await stream.receive()
        assert b'{"StatusCode":0,"Error":null}' in rest


async def test_wait_through_the_client(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox"))
    await engine.client.container_start(created.Id)
    result = {}
    async with anyio.create_task_group() as task_group:

        async def wait() -> None:
            result["wait"] = await engine.client.container_wait(created.Id)

        task_group.start_soon(wait)
        await anyio.sleep(0.1)
        await engine.client.container_kill(created.Id)
    assert result["wait"].StatusCode == 137


async def test_abandoned_streams_are_cancelled_when_the_client_goes(engine: Engine) -> None:
    async with await anyio.connect_unix(engine.socket) as stream:
        await stream.send(b"GET /v1.41/events HTTP/1.1\r\nHost: x\r\n\r\n")
        with anyio.fail_after(60):
            assert (await stream.receive()).startswith(b"HTTP/1.1 200")
            while engine.backend.events_open == 0:
                await anyio.sleep(0.01)
    with anyio.fail_after(60):
        await engine.backend.events_closed.wait()
    assert engine.backend.events_open == 0


async def test_logs_are_multiplexed_frames_without_content_type(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox"))
    raw = await engine.raw(
        f"GET /v1.41/containers/{created.Id}/logs?stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    _status, headers, body = head_of(raw)
    assert "content-type" not in headers
    assert frame(1, b"hi\n") == bytes.fromhex("0100000000000003") + b"hi\n"
    assert frame(1, b"hi\n") in body and frame(2, b"oops\n") in body
    lines = [item async for item in engine.client.container_logs(created.Id)]
    assert lines == [(1, b"hi\n"), (2, b"oops\n")]


async def test_tty_logs_are_raw(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox", Tty=True))
    lines = [item async for item in engine.client.container_logs(created.Id)]
    assert b"".join(data for _, data in lines) == b"hi\noops\n"


# --- hijacking -------------------------------------------------------------------------------


async def test_attach_with_upgrade_gets_exactly_101_then_raw_multiplexed_stream(
    engine: Engine,
) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox"))
    async with await anyio.connect_unix(engine.socket) as stream:
        await stream.send(
            f"POST /v1.41/containers/{created.Id}/attach?stderr=1&stdin=1&stdout=1&stream=1 "
            "HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Length: 0\r\nConnection: Upgrade\r\n"
            "Content-Type: text/plain\r\nUpgrade: tcp\r\n\r\nhello".encode()
        )
        await stream.send_eof()  # the docker CLI half-closes once stdin is done
        received = b""
        with anyio.fail_after(60):
            while True:
                try:
                    received += await stream.receive()
                except anyio.EndOfStream:
                    break
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head == (
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp"
    )
    assert demultiplex(bytearray(rest)) == [(2, b"err\n"), (1, b"HELLO")]


async def test_attach_without_upgrade_gets_200_and_raw_stream(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox", Tty=True))
    async with await anyio.connect_unix(engine.socket) as stream:
        await stream.send(
            f"POST /containers/{created.Id}/attach?stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        await stream.send(b"tty")
        await stream.send_eof()
        received = b""
        with anyio.fail_after(60):
            while True:
                try:
                    received += await stream.receive()
                except anyio.EndOfStream:
                    break
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\nerr\nTTY")


async def test_exec_round_trip_through_the_client(engine: Engine) -> None:
    created = await engine.client.container_create(ContainerCreate(Image="busybox"))
    with pytest.raises(errors.Conflict, match="not running"):
        await engine.client.exec_create(created.Id, ExecCreate(Cmd=["cat"]))
    await engine.client.container_start(created.Id)
    exec_id = (await engine.client.exec_create(created.Id, ExecCreate(Cmd=["cat", "-"]))).Id
    output = await engine.client.exec_start(exec_id, stdin=b"piped")
    assert output == [(2, b"err\n"), (1, b"PIPED")]
    assert (await engine.client.exec_inspect(exec_id)).ExitCode == 2


# --- images, networks, volumes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["busybox", "busybox:local", "localhost:5000/a/b:tag", "127.0.0.1:5000/apicap/busybox:v1"],
)
async def test_image_names_with_slashes_and_colons_in_paths(engine: Engine, name: str) -> None:
    inspect = await engine.client.image_inspect(name)
    assert inspect.RepoTags == [name]
    await engine.client.image_tag(name, "localhost:5000/copy", "v2")
    removed = await engine.client.image_remove(name)
    assert removed[0].Untagged == name


async def test_pull_streams_progress_and_reports_errors_before_and_after_start(
    engine: Engine,
) -> None:
    messages = [m async for m in engine.client.image_pull("localhost:5000/a/b", "v1")]
    assert messages[-1]["status"].startswith("Status: Downloaded newer image")
    with pytest.raises(errors.NotFound, match="manifest unknown"):
        async for _ in engine.client.image_pull("localhost:5000/a/b", "missing"):
            pass
    with pytest.raises(errors.EngineError, match="registry went away <here>"):
        async for _ in engine.client.image_pull("localhost:5000/a/b", "broken"):
            pass
    raw = await engine.raw(
        b"POST /v1.41/images/create?fromImage=x&tag=broken HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert b'"error":"registry went away \\u003chere\\u003e"' in raw
    assert b"\r\n" in raw.partition(b"\r\n\r\n")[2]


async def test_networks_and_volumes(engine: Engine) -> None:
    labels = {"com.docker.compose.project": "demo", "com.docker.compose.network": "default"}
    created = await engine.client.network_create(NetworkCreate(Name="demo_default", Labels=labels))
    with pytest.raises(errors.Conflict):
        await engine.client.network_create(NetworkCreate(Name="demo_default"))
    assert (await engine.client.network_inspect("demo_default")).Id == created.Id
    found = await engine.client.network_list(filters={"name": ["demo_"]})
    assert [n.Labels for n in found] == [labels]
    await engine.client.network_remove(created.Id)
    with pytest.raises(errors.NotFound, match="network demo_default not found"):
        await engine.client.network_inspect("demo_default")
    volume = await engine.client.volume_create(VolumeCreate(Name="demo_data", Labels=labels))
    assert volume.Labels == labels
    assert [v.Name for v in (await engine.client.volume_list()).Volumes] == ["demo_data"]
    await engine.client.volume_remove("demo_data")
    with pytest.raises(errors.NotFound, match="no such volume"):
        await engine.client.volume_inspect("demo_data")


async def test_events_stream_with_filters(engine: Engine) -> None:
    created = await engine.client.container_create(
        ContainerCreate(Image="busybox", Labels={"com.docker.compose.project": "demo"})
    )
    await engine.client.container_create(ContainerCreate(Image="busybox"))
    seen = []
    with anyio.move_on_after(1):
        async for event in engine.client.events(
            filters={"type": ["container"], "label": ["com.docker.compose.project=demo"]}
        ):
            seen.append(event)
    assert [(e.Action, e.Actor.ID) for e in seen] == [("create", created.Id)]
    assert seen[0].Actor.Attributes["com.docker.compose.project"] == "demo"


# --- the HTTP layer --------------------------------------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection(engine: Engine) -> None:
    request = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
    async with await anyio.connect_unix(engine.socket) as stream:
        for _ in range(3):
            await stream.send(request)
            with anyio.fail_after(60):
                answer = await stream.receive()
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"OK")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"this is not http\r\n\r\n", 400),
        (b"GET /_ping HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400),
        (b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_get_4xx_and_the_engine_goes_on(
    engine: Engine, request_bytes: bytes, status: int
) -> None:
    raw = await engine.raw(request_bytes)
    assert raw.startswith(f"HTTP/1.1 {status} ".encode())
    assert await engine.client.ping() == API_VERSION


async def test_chunked_body_over_the_limit_is_413() -> None:
    async with running_engine(Limits(max_body=1024)) as engine:
        chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
        raw = await engine.raw(
            b"POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk * 3
            + b"0\r\n\r\n"
        )
        assert raw.startswith(b"HTTP/1.1 413 ")
        assert await engine.client.ping() == API_VERSION


async def test_slow_request_head_times_out() -> None:
    async with running_engine(Limits(head_timeout=0.3)) as engine:
        raw = await engine.raw(b"GET /_ping HTTP/1.1\r\nHost")
        assert raw.startswith(b"HTTP/1.1 408 ")


def test_route_table_covers_the_reference_subset() -> None:
    table = set(route_table())
    for method, pattern in [
        ("HEAD", "/_ping"),
        ("GET", "/version"),
        ("GET", "/containers/json"),
        ("POST", "/containers/{id}/attach"),
        ("POST", "/exec/{id}/start"),
        ("GET", "/images/{name:path}/json"),
        ("POST", "/images/{name:path}/push"),
        ("GET", "/events"),
        ("DELETE", "/volumes/{name}"),
        ("PUT", "/containers/{id}/archive"),
    ]:
        assert (method, pattern) in table


def test_filters_parse_both_wire_forms() -> None:
    assert parse_filters('{"label":{"a=1":true,"b":true}}') == {"label": ["a=1", "b"]}
    assert parse_filters('{"label":["a=1"]}') == {"label": ["a=1"]}
    with pytest.raises(errors.InvalidParameter):
        parse_filters("[1]")


async def test_ensure_engine_without_root_says_what_to_do(tmp_path, monkeypatch) -> None:
    from engine.api import autostart

    monkeypatch.setattr(autostart.os, "geteuid", lambda: 1000)
    with pytest.raises(errors.EngineUnavailable, match="starting it needs root") as raised:
        await autostart.ensure_engine(str(tmp_path / "none.sock"), str(tmp_path))
    assert "sudo pycompose engine start" in (raised.value.hint or "")


async def test_at_the_connection_limit_idle_ones_make_room() -> None:
    async with running_engine(Limits(max_connections=2)) as engine:
        first = await anyio.connect_unix(engine.socket)
        second = await anyio.connect_unix(engine.socket)
        try:
            for connection in (first, second):
                await connection.send(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                with anyio.fail_after(5):
                    assert (await connection.receive()).startswith(b"HTTP/1.1 200")
            # both idle (kept alive): the oldest is closed for a new client's request
            raw = await engine.raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert raw.startswith(b"HTTP/1.1 200 ")
            with anyio.fail_after(5), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await first.receive()
        finally:
            await first.aclose()
            await second.aclose()


async def test_connections_over_the_limit_get_503_and_the_rest_go_on() -> None:
    async with running_engine(Limits(max_connections=2)) as engine:
        first = await anyio.connect_unix(engine.socket)
        second = await anyio.connect_unix(engine.socket)
        try:
            # both busy in a request (an event stream), so neither can make room
            await first.send(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            await second.send(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            with anyio.fail_after(60):
                assert (await first.receive()).startswith(b"HTTP/1.1 200")
                assert (await second.receive()).startswith(b"HTTP/1.1 200")
            raw = await engine.raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert raw.startswith(b"HTTP/1.1 503 ")
        finally:
            await first.aclose()
            await second.aclose()
        with anyio.fail_after(60):
            while True:  # the slots free up once those connections close
                answer = await engine.raw(
                    b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                if answer.startswith(b"HTTP/1.1 200"):
                    break
                await anyio.sleep(0.02)
