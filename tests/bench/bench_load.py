"""Load test: concurrent API clients doing create, start, inspect, list, stop and remove.

Run by hand, as root: ``.venv/bin/python tests/bench/bench_load.py [--clients 50]
[--seconds 60]``. Each client loops over one container's life cycle on its own connection
against a real daemon on a tmp data root. Afterwards: every error is counted, and the
engine must hold no container, no overlay mount and no network sandbox (nothing leaked).
Prints p50/p99 per operation; ``ping`` is the reference measured in the same run (one
more client pinging throughout, the floor of a round trip under that load).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests/engine/daemon")]

from daemon_helpers import Daemon, busybox_image_tar  # noqa: E402

from engine.api.client import EngineClient  # noqa: E402
from engine.api.errors import EngineError  # noqa: E402
from engine.api.models import ContainerCreate  # noqa: E402


async def main(daemon: Daemon, clients: int, seconds: float) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    cycles = 0
    try:
        daemon.start()
        async with EngineClient(daemon.socket, timeout=120) as setup:
            await setup.request("POST", "/images/load", content=busybox_image_tar())
        deadline = time.monotonic() + seconds

        async def timed(name: str, call: object) -> object:
            started = time.perf_counter()
            result = await call  # type: ignore[misc]
            timings[name].append((time.perf_counter() - started) * 1000)
            return result

        async def worker(index: int) -> None:
            nonlocal cycles
            labels = {"com.docker.compose.project": "load", "worker": str(index)}
            async with EngineClient(daemon.socket, timeout=120) as client:
                round_number = 0
                while time.monotonic() < deadline:
                    name = f"load-{index}-{round_number}"
                    round_number += 1
                    try:
                        created = await timed(
                            "create",
                            client.container_create(
                                ContainerCreate(
                                    Image="busybox", Cmd=["sleep", "300"], Labels=labels
                                ),
                                name=name,
                            ),
                        )
                        container_id = created.Id  # type: ignore[attr-defined]
                        await timed("start", client.container_start(container_id))
                        await timed("inspect", client.container_inspect(container_id))
                        await timed(
                            "list",
                            client.container_list(
                                all=True, filters={"label": ["com.docker.compose.project=load"]}
                            ),
                        )
                        await timed("stop", client.container_stop(container_id, timeout=1))
                        await timed("remove", client.container_remove(container_id))
                        cycles += 1
                    except EngineError as exc:
                        errors.append(f"{name}: {exc.message}")

        async def pinger() -> None:
            async with EngineClient(daemon.socket, timeout=120) as client:
                while time.monotonic() < deadline:
                    await timed("ping", client.ping())
                    await anyio.sleep(0.05)

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(pinger)
            for index in range(clients):
                task_group.start_soon(worker, index)

        async with EngineClient(daemon.socket, timeout=120) as check:
            left = await check.container_list(all=True)
        mounts = [
            line
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if str(daemon.data_root / "rootfs") in line
        ]
        sandboxes = list((daemon.exec_root / "network" / "netns").glob("*"))
        assert daemon.process is not None
        descriptors = len(list(Path(f"/proc/{daemon.process.pid}/fd").iterdir()))
        print(
            f"{clients} clients, {seconds:g} s: {cycles} full cycles, {len(errors)} errors, "
            f"leaked: {len(left)} containers, {len(mounts)} mounts, {len(sandboxes)} sandboxes; "
            f"the engine holds {descriptors} file descriptors"
        )
        for error in errors[:10]:
            print("  error:", error)
        for name in ("ping", "create", "start", "inspect", "list", "stop", "remove"):
            samples = sorted(timings[name])
            if not samples:
                continue
            p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            deciles = statistics.quantiles(samples, n=10) if len(samples) > 1 else samples * 9
            print(
                f"  {name:<8} n={len(samples):<5} p50 {statistics.median(samples):8.1f} ms"
                f"   p99 {p99:8.1f} ms   spread p10..p90 {deciles[0]:.1f}..{deciles[-1]:.1f} ms"
            )
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    options = parser.parse_args()
    # made outside the event loop: it creates a network namespace with pyroute2's sync API
    anyio.run(main, Daemon(), options.clients, options.seconds)
