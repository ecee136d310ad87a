"""Benchmark: ``GET /containers/json?all=1&filters={"label":...}`` with many containers.

Run by hand, as root: ``.venv/bin/python tests/bench/bench_api.py [--containers 500]``.

Three measurements in the same run, same client (httpx over the unix socket, one
keep-alive connection, body read but not parsed):

* ``ping``      ``GET /_ping`` on the real engine: the floor (HTTP server + client);
* ``fake``      the list on the route table over an in-memory fake backend holding the
                same containers: routing, filtering and JSON rendering without the engine;
* ``dockerd``   the list on a real dockerd (``--dockerd``, the oracle's socket by default)
                with the same number of containers of a project of this run, removed after;
* ``engine``    the list on the real daemon (``python -m engine.daemon``) holding N real
                containers (created, not started: a create is a real overlay mount and
                OCI bundle), half of them carrying the label the filter asks for.

dockerd is not started here: it is measured when one runs. Prints median, p99 and
spread (p10..p90) per case. Containers are created with network mode none (the oracle
dockerd runs with --bridge=none).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests/engine/daemon"), str(ROOT / "tests/api")]

from daemon_helpers import Daemon, busybox_image_tar  # noqa: E402
from fake_backend import FakeBackend  # noqa: E402

from engine.api.client import EngineClient  # noqa: E402
from engine.api.errors import EngineError  # noqa: E402
from engine.api.models import ContainerCreate, encode_filters  # noqa: E402
from engine.daemon.routes import Router  # noqa: E402
from engine.daemon.server import serve  # noqa: E402

PROJECT_LABEL = "com.docker.compose.project"


def labels_for(index: int, project: str = "bench") -> dict[str, str]:
    return {
        PROJECT_LABEL: project if index % 2 == 0 else f"{project}-other",
        "com.docker.compose.service": f"svc{index % 10}",
        "com.docker.compose.container-number": str(index),
        "com.docker.compose.config-hash": f"{index:064x}",
    }


async def measure(
    client: EngineClient, path: str, params: dict[str, str], rounds: int
) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.request("GET", path, params=params)
        _ = response.content
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float], count: int) -> None:
    ordered = sorted(samples)
    deciles = statistics.quantiles(ordered, n=10)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<8} median {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms   "
        f"spread p10..p90 {deciles[0]:6.2f}..{deciles[-1]:6.2f} ms   ({count} results)"
    )


async def create_many(
    client: EngineClient, count: int, *, image: str = "busybox", project: str = "bench"
) -> list[str]:
    """``count`` containers (created, not started, network mode none); their ids."""
    limiter = anyio.Semaphore(4)
    ids: list[str] = []

    async def one(index: int) -> None:
        async with limiter:
            body = ContainerCreate.model_validate(
                {
                    "Image": image,
                    "Cmd": ["true"],
                    "Labels": labels_for(index, project),
                    "HostConfig": {"NetworkMode": "none"},
                }
            )
            created = await client.container_create(body, name=f"{project}-{index}")
            ids.append(created.Id)

    async with anyio.create_task_group() as task_group:
        for index in range(count):
            task_group.start_soon(one, index)
    return ids


async def measure_dockerd(socket_path: str, count: int, rounds: int) -> tuple[list[float], int]:
    """The same list on a real dockerd, with containers of a project of this run only
    (and an image tag of its own), all removed afterwards."""
    project = f"pcbench{secrets.token_hex(3)}"
    image = f"pycompose-bench/busybox:{project}"
    params = {"all": "1", "filters": encode_filters({"label": [f"{PROJECT_LABEL}={project}"]})}
    async with EngineClient(socket_path, timeout=300) as client:
        await client.request("POST", "/images/load", content=busybox_image_tar(image))
        ids: list[str] = []
        try:
            ids = await create_many(client, count, image=image, project=project)
            samples = await measure(client, "/containers/json", params, rounds)
            found = len((await client.request("GET", "/containers/json", params=params)).json())
        finally:
            with anyio.CancelScope(shield=True):
                for container_id in ids:
                    with contextlib.suppress(EngineError):
                        await client.container_remove(container_id, force=True)
                with contextlib.suppress(EngineError):
                    await client.image_remove(image, force=True)
    return samples, found


async def main(daemon: Daemon, count: int, rounds: int, dockerd: str) -> None:
    params = {"all": "1", "filters": encode_filters({"label": [f"{PROJECT_LABEL}=bench"]})}
    try:
        daemon.start()
        async with EngineClient(daemon.socket, timeout=120) as client:
            await client.request("POST", "/images/load", content=busybox_image_tar())
            started = time.perf_counter()
            await create_many(client, count)
            print(f"created {count} containers in {time.perf_counter() - started:.1f} s")
            engine_samples = await measure(client, "/containers/json", params, rounds)
            ping_samples = []
            for _ in range(rounds):
                begin = time.perf_counter()
                await client.ping()
                ping_samples.append((time.perf_counter() - begin) * 1000)
            found = len((await client.request("GET", "/containers/json", params=params)).json())

        backend = FakeBackend()
        for index in range(count):
            await backend.container_create(
                f"bench-{index}", ContainerCreate(Image="busybox", Labels=labels_for(index))
            )
        fake_socket = str(daemon.base / "fake.sock")
        async with anyio.create_task_group() as task_group:
            listener = await anyio.create_unix_listener(fake_socket)
            await task_group.start(
                lambda task_status: serve(Router(backend), listener, task_status=task_status)
            )
            async with EngineClient(fake_socket, timeout=120) as fake_client:
                fake_samples = await measure(fake_client, "/containers/json", params, rounds)
                fake_found = len(
                    (await fake_client.request("GET", "/containers/json", params=params)).json()
                )
            await anyio.sleep(0.05)
            task_group.cancel_scope.cancel()
        print(
            f"GET /containers/json?all=1&filters=label={PROJECT_LABEL}=bench, "
            f"{count} containers, {rounds} requests each"
        )
        report("ping", ping_samples, 0)
        report("fake", fake_samples, fake_found)
        report("engine", engine_samples, found)
        if dockerd and os.access(dockerd, os.W_OK):
            dockerd_samples, dockerd_found = await measure_dockerd(dockerd, count, rounds)
            report("dockerd", dockerd_samples, dockerd_found)
        else:
            print(f"dockerd  not measured: no socket at {dockerd!r}")
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--dockerd", default="/var/run/docker.sock", help="a dockerd to compare with ('' = none)"
    )
    options = parser.parse_args()
    # made outside the event loop: it creates a network namespace with pyroute2's sync API
    anyio.run(main, Daemon(), options.containers, options.rounds, options.dockerd)
