"""Benchmarks of engine.runtime, each next to a reference measured in the same run (root).

    .venv/bin/python tests/bench/bench_run.py [--runs 20] [--containers 50] [--megabytes 100]

1. run to completion of busybox ``true``: create, start, wait, remove through
   ContainerRuntime, against raw ``runc run`` of a prepared bundle (same config.json) and,
   when a Docker engine answers (DOCKER_HOST), ``docker run --rm --network none`` of the
   same root imported as an image; interleaved; median and spread (min-max).
   Target: at most 1.5x raw runc.
2. a container writing 100 MB to stdout: time until all of it is in the log, throughput,
   peak memory of conmon (VmHWM) and of this process (ru_maxrss before/after).
   Target: >= 100 MB/s, memory not growing with the volume.
3. N long-running containers started: wall time per container, PSS of each conmon and of
   this engine process's growth per container (Docker measured here: 5.4 MB/container).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "runtime"))

from runtime_helpers import make_busybox_rootfs

from engine.api.models import ContainerCreate, ImageConfig
from engine.runtime import ContainerRuntime, Runc


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:.1f} ms "
        f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}, n={len(values)})"
    )


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def docker_image(rootfs: Path) -> str:
    """The root imported into a Docker engine, if one answers; "" otherwise."""
    if shutil.which("docker") is None:
        return ""
    info = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    if info.returncode != 0:
        return ""
    tag = "pycompose-bench:busybox"
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-cf", "-", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, check=True
    )
    tar.wait()
    return tag


async def bench_run_to_completion(
    runtime: ContainerRuntime, rootfs: Path, work: Path, runs: int
) -> None:
    config = ContainerCreate(cmd=["true"])
    # The reference bundle: the very config.json our runtime writes, run by runc directly.
    info = await runtime.create(config, ImageConfig(), rootfs=str(rootfs), name="bundle-source")
    bundle = work / "raw-bundle"
    bundle.mkdir()
    spec = json.loads((info.directory / "config.json").read_text())
    (bundle / "config.json").write_text(json.dumps(spec))
    raw_root = work / "raw-runc"
    ours: list[float] = []
    raw: list[float] = []
    docker: list[float] = []
    image = docker_image(rootfs)
    for index in range(runs + 2):
        if image:
            started = time.perf_counter()
            subprocess.run(
                ["docker", "run", "--rm", "--network", "none", image, "true"],
                capture_output=True,
                check=True,
            )
            if index >= 2:
                docker.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = subprocess.run(
            ["runc", "--root", str(raw_root), "run", "--bundle", str(bundle), f"raw{index}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        raw_time = time.perf_counter() - started
        assert result.returncode == 0, result.stderr
        started = time.perf_counter()
        created = await runtime.create(config, ImageConfig(), rootfs=str(rootfs))
        await runtime.start(created.id)
        code = await runtime.wait(created.id)
        await runtime.remove(created.id)
        our_time = time.perf_counter() - started
        assert code == 0
        if index >= 2:  # the first two warm caches
            raw.append(raw_time)
            ours.append(our_time)
    await runtime.remove(info.id)
    ratio = statistics.median(ours) / statistics.median(raw)
    print("1. run to completion of busybox true (create, start, wait, remove)")
    print(f"   raw runc run : {spread(raw)}")
    print(f"   pycompose    : {spread(ours)}")
    print(f"   ratio        : {ratio:.2f}x raw runc (target <= 1.5x)")
    if docker:
        print(f"   docker run --rm: {spread(docker)}")
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)


async def bench_log_throughput(runtime: ContainerRuntime, rootfs: Path, megabytes: int) -> None:
    total = megabytes * 1_000_000
    line = "0123456789" * 10  # 100 bytes + newline per line
    script = f"yes {line} | head -c {total}"
    config = ContainerCreate.model_validate(
        {"Cmd": ["sh", "-c", script], "HostConfig": {"LogConfig": {"Config": {"max-size": "2g"}}}}
    )
    info = await runtime.create(config, ImageConfig(), rootfs=str(rootfs))
    engine_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_conmon = 0
    started = time.perf_counter()
    await runtime.start(info.id)
    conmon_pid = int((info.directory / "conmon.pid").read_text())
    async with anyio.create_task_group() as group:

        async def sample() -> None:
            nonlocal peak_conmon
            while True:
                peak_conmon = max(peak_conmon, status_kib(conmon_pid, "VmHWM"))
                await anyio.sleep(0.05)

        group.start_soon(sample)
        code = await runtime.wait(info.id)
        group.cancel_scope.cancel()
    elapsed = time.perf_counter() - started
    assert code == 0
    read_started = time.perf_counter()
    payload = 0
    lines = 0
    async for entry in runtime.logs(info.id):
        payload += len(entry.message) + 1
        lines += 1
    read_time = time.perf_counter() - read_started
    engine_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    log_bytes = sum(p.stat().st_size for p in info.directory.glob("container.log*"))
    await runtime.remove(info.id)
    # Reference in the same run: the same writer into /dev/null (what the process can do).
    sink = await runtime.create(
        ContainerCreate(cmd=["sh", "-c", script + " > /dev/null"]), rootfs=str(rootfs)
    )
    sink_started = time.perf_counter()
    await runtime.start(sink.id)
    await runtime.wait(sink.id)
    sink_time = time.perf_counter() - sink_started
    await runtime.remove(sink.id)
    print(f"2. a container writing {megabytes} MB to stdout")
    print(f"   reference, the writer into /dev/null: {total / sink_time / 1e6:.0f} MB/s")
    print(f"   in the log after {elapsed:.2f} s: {total / elapsed / 1e6:.0f} MB/s (target >= 100)")
    print(f"   payload read back {payload} of {total} bytes in {lines} lines, {read_time:.2f} s")
    print(f"   log file size {log_bytes / 1e6:.0f} MB (CRI prefix per line)")
    print(f"   conmon peak RSS {peak_conmon / 1024:.1f} MiB")
    print(f"   engine peak RSS {engine_before / 1024:.1f} -> {engine_after / 1024:.1f} MiB")


async def bench_many(runtime: ContainerRuntime, rootfs: Path, count: int) -> None:
    engine_pss_before = pss_kib(os.getpid())
    ids: list[str] = []
    started = time.perf_counter()
    for _ in range(count):
        info = await runtime.create(ContainerCreate(cmd=["sleep", "3600"]), rootfs=str(rootfs))
        await runtime.start(info.id)
        ids.append(info.id)
    elapsed = time.perf_counter() - started
    await anyio.sleep(1.0)
    conmon_pss = []
    for container_id in ids:
        directory = runtime.inspect(container_id).directory
        conmon_pss.append(pss_kib(int((directory / "conmon.pid").read_text())))
    engine_growth = (pss_kib(os.getpid()) - engine_pss_before) / count
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await anyio.sleep(5.0)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    idle_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    print(f"3. {count} long-running containers")
    print(
        f"   started in {elapsed:.1f} s: {elapsed / count * 1000:.0f} ms per container "
        f"(Docker here: 118 s / 300 = 393 ms)"
    )
    print(
        f"   conmon PSS per container: median {statistics.median(conmon_pss):.0f} KiB "
        f"(min {min(conmon_pss)}, max {max(conmon_pss)})"
    )
    print(f"   engine PSS growth per container: {engine_growth:.0f} KiB")
    print(
        f"   total per container: {(statistics.median(conmon_pss) + engine_growth) / 1024:.2f} MiB "
        "(Docker here: 5.4 MiB)"
    )
    print(f"   engine CPU while {count} containers idle for 5 s: {idle_cpu * 1000:.0f} ms")
    removal = time.perf_counter()
    for container_id in ids:
        await runtime.remove(container_id, force=True)
    print(f"   removed in {time.perf_counter() - removal:.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--containers", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    socket_dir = tempfile.mkdtemp(prefix="pcb", dir="/tmp")
    rootfs = make_busybox_rootfs(work / "rootfs")
    runtime = ContainerRuntime(
        work / "containers", runc=Runc(state_root=str(work / "runc")), socket_dir=socket_dir
    )
    try:
        async with runtime:
            try:
                await bench_run_to_completion(runtime, rootfs, work, args.runs)
                await bench_log_throughput(runtime, rootfs, args.megabytes)
                if args.containers:
                    await bench_many(runtime, rootfs, args.containers)
            finally:
                for info in runtime.all():
                    await runtime.remove(info.id, force=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(socket_dir, ignore_errors=True)


if __name__ == "__main__":
    anyio.run(main)
