"""Benchmark of engine.build: a cold build and a cached rebuild of a 10-step Dockerfile (root).

    sudo .venv/bin/python tests/bench/bench_build.py [--runs 7]

The base image is busybox made from /bin/busybox (FROM scratch + COPY in our store,
``docker import`` in Docker's). The Dockerfile has 10 steps: FROM, ENV, WORKDIR, 3 COPY,
3 RUN, CMD; its context holds 200 small files and one 8 MB file.

- cold: ``no_cache`` (every COPY and RUN done again), the store kept between runs;
- cached: nothing changed, every step from the cache. Target: < 1 s, faster than docker.

References measured in the same run, interleaved with ours: ``docker build`` (legacy
builder, ``DOCKER_BUILDKIT=0``, ``--network none``; ``--no-cache`` for cold) when a Docker
engine answers (DOCKER_HOST), and the floor every cached rebuild pays: hashing the context
(``BuildContext.files_digest`` of the copied sources). Median and spread (min-max).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.build import BuildContext, BuildOptions, build
from engine.images import ImageService
from engine.runtime import Runc

DOCKERFILE = """\
FROM {base}
ENV APP=/app MODE=bench
WORKDIR /app
COPY files/ ./files/
COPY big.bin ./
RUN ls files | wc -l > /count
COPY config.txt /etc/app.conf
RUN sha1sum big.bin > big.sha1
RUN echo "$APP $MODE" > /mode
CMD ["cat", "/mode"]
"""


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:8.1f} ms "
        f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}, n={len(values)})"
    )


def make_rootfs(target: Path) -> Path:
    busybox = shutil.which("busybox") or "/bin/busybox"
    for directory in ("bin", "etc", "tmp", "proc", "sys", "dev"):
        (target / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, target / "bin/busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet != "busybox":
            (target / "bin" / applet).symlink_to("busybox")
    (target / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (target / "etc/group").write_text("root:x:0:\n")
    return target


def make_context(target: Path) -> Path:
    (target / "files").mkdir(parents=True)
    for index in range(200):
        (target / "files" / f"f{index:03d}.txt").write_text(f"file {index}\n" * 20)
    (target / "big.bin").write_bytes(os.urandom(8 << 20))
    (target / "config.txt").write_text("key=value\n")
    return target


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return info.returncode == 0


def docker_build(context: Path, dockerfile: Path, *, no_cache: bool) -> float:
    command = ["docker", "build", "-q", "--network", "none", "-t", "pycompose-bench:app"]
    command += ["-f", str(dockerfile)]
    if no_cache:
        command.append("--no-cache")
    started = time.perf_counter()
    subprocess.run(
        [*command, str(context)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    return time.perf_counter() - started


async def main(runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    docker = docker_available()
    try:
        rootfs = make_rootfs(work / "base" / "rootfs")
        context = make_context(work / "context")
        data_root = work / "data"
        runc = Runc(state_root=str(work / "runc"))
        ours = BuildContext(context)
        async with ImageService(data_root) as images:
            await build(
                BuildContext(rootfs.parent),
                BuildOptions(
                    dockerfile_inline="FROM scratch\nCOPY rootfs/ /\n",
                    tags=["bench/busybox"],
                    network="none",
                ),
                images,
                runc,
            )
            options = BuildOptions(
                dockerfile_inline=DOCKERFILE.format(base="bench/busybox"),
                tags=["bench/app"],
                network="none",
            )
            docker_file = work / "Dockerfile.docker"
            docker_file.write_text(DOCKERFILE.format(base="pycompose-bench:busybox"))
            if docker:
                tar = subprocess.Popen(
                    ["tar", "-C", str(rootfs), "-cf", "-", "."], stdout=subprocess.PIPE
                )
                subprocess.run(
                    ["docker", "import", "-", "pycompose-bench:busybox"],
                    stdin=tar.stdout,
                    check=True,
                    capture_output=True,
                )
                tar.wait()
                docker_build(context, docker_file, no_cache=True)  # warm docker's context path
            await build(ours, options, images, runc)  # warm up
            results: dict[str, list[float]] = {
                "ours cold": [],
                "ours cached": [],
                "docker cold": [],
                "docker cached": [],
                "floor (hash the context)": [],
            }
            cold = BuildOptions(
                dockerfile_inline=options.dockerfile_inline,
                tags=["bench/app"],
                network="none",
                no_cache=True,
            )
            for _ in range(runs):
                started = time.perf_counter()
                fresh = await build(BuildContext(context), cold, images, runc)
                results["ours cold"].append(time.perf_counter() - started)
                started = time.perf_counter()
                record = await build(BuildContext(context), options, images, runc)
                assert record.id == fresh.id, "a cached rebuild must give the same image"
                results["ours cached"].append(time.perf_counter() - started)
                started = time.perf_counter()
                BuildContext(context).files_digest(["files", "big.bin", "config.txt"])
                results["floor (hash the context)"].append(time.perf_counter() - started)
                if docker:
                    results["docker cold"].append(docker_build(context, docker_file, no_cache=True))
                    results["docker cached"].append(
                        docker_build(context, docker_file, no_cache=False)
                    )
        print(f"10-step Dockerfile, 200 files + 8 MB in the context, {runs} runs each")
        for name, values in results.items():
            if values:
                print(f"  {name:26s} {spread(values)}")
            else:
                print(f"  {name:26s} (no Docker engine answers; skipped)")
        cached = statistics.median(results["ours cached"])
        verdict = "met" if cached < 1.0 else "NOT met"
        line = f"target (cached rebuild < 1 s): {verdict}"
        if results["docker cached"]:
            ratio = statistics.median(results["docker cached"]) / cached
            line += f"; docker's cached rebuild takes {ratio:.1f}x ours"
        print(line)
    finally:
        if docker:
            subprocess.run(
                ["docker", "rmi", "-f", "pycompose-bench:app", "pycompose-bench:busybox"],
                capture_output=True,
                check=False,
            )
        with open("/proc/self/mountinfo") as mounts:
            points = [line.split()[4] for line in mounts if str(work) in line.split()[4]]
        for point in reversed(points):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    arguments = parser.parse_args()
    anyio.run(main, arguments.runs)
