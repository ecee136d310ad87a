"""Benchmark: bytes per second through ``exec -T svc cat`` and back, pycompose next to
docker compose, in the same run.

Run by hand (not collected by pytest), as root:

    .venv/bin/python tests/bench/bench_exec_throughput.py [--mebibytes 256] [--runs 5]
        [--engine docker|pycompose|both]

A file of ``--mebibytes`` random bytes is the input of ``TOOL exec -T svc cat``, whose output
goes to ``wc -c`` (checked to be the whole of it); timed whole, from the process's start to
its end, so the CLI's start-up is in (measured alone, ``exec -T svc true``, and printed).
Cases, interleaved run by run:

- docker compose v2 (/opt/oracle-venv) on dockerd (``DOCKER_HOST``, the oracle's socket);
- pycompose on the same dockerd (the client's copy loops alone);
- pycompose on its own engine (started on a temporary socket and data root): client,
  hijacked connection, engine relay and conmon.

Prints per case the median and spread (min..max) of the time and of MiB/s, and the ratio
of each case's median throughput to docker compose's. Target: at least docker compose's.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests/bench")]

from bench_up import load_image, start_own_engine  # noqa: E402

from tests.e2e.conftest import docker_compose_binary  # noqa: E402

PYCOMPOSE = str(Path(sys.executable).with_name("pycompose"))
IMAGE = "pycompose-examples/busybox:latest"
ORACLE = "unix:///run/pycompose-oracle-run-flags/docker.sock"


def stack(directory: Path) -> None:
    (directory / "compose.yaml").write_text(
        f"services:\n  svc:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        "    stop_grace_period: 1s\n    network_mode: none\n"
    )


def through_cat(tool: list[str], cwd: Path, env: dict[str, str], data: Path) -> float:
    """Seconds for ``data`` through ``exec -T svc cat`` into ``wc -c``; the count checked."""
    command = (
        f"{shlex.join([*tool, 'exec', '-T', 'svc', 'cat'])} < {shlex.quote(str(data))} | wc -c"
    )
    start = time.perf_counter()
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or int(result.stdout.strip() or 0) != data.stat().st_size:
        raise SystemExit(f"{command} failed ({result.stdout.strip()} bytes):\n{result.stderr}")
    return elapsed


def start_up(tool: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([*tool, "exec", "-T", "svc", "true"], cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def describe(label: str, seconds: list[float], size: int, startup: list[float]) -> str:
    rates = [size / s / 2**20 for s in seconds]
    # the transfer alone: each run less the median start-up of an exec of `true`
    base = statistics.median(startup)
    transfer = [size / max(s - base, 1e-3) / 2**20 for s in seconds]
    return (
        f"{label:28s} {statistics.median(seconds):6.2f} s ({min(seconds):.2f}..{max(seconds):.2f})"
        f"  {statistics.median(rates):6.1f} MiB/s ({min(rates):.1f}..{max(rates):.1f})"
        f"  start-up {base:.2f} s ({min(startup):.2f}..{max(startup):.2f})"
        f"  transfer {statistics.median(transfer):6.1f} MiB/s"
        f" ({min(transfer):.1f}..{max(transfer):.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mebibytes", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", choices=["docker", "pycompose", "both"], default="both")
    args = parser.parse_args()
    docker_host = os.environ.get("DOCKER_HOST") or os.environ.get(
        "PYCOMPOSE_TEST_DOCKER_HOST", ORACLE
    )
    docker_env = {**os.environ, "DOCKER_HOST": docker_host}
    reference = docker_compose_binary()
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp:
        base = Path(tmp)
        data = base / "input"
        with data.open("wb") as out:
            for _ in range(args.mebibytes):
                out.write(os.urandom(2**20))
        size = data.stat().st_size
        cases: list[tuple[str, list[str], dict[str, str], Path]] = []
        daemon = None
        if args.engine in ("docker", "both"):
            load_image(docker_host.removeprefix("unix://"), base)
            if reference:
                cases.append(("docker compose on dockerd", [reference], docker_env, base / "dc"))
            cases.append(("pycompose on dockerd", [PYCOMPOSE], docker_env, base / "pd"))
        if args.engine in ("pycompose", "both"):
            (base / "engine").mkdir()
            # an exec root of its own: never the machine's /run/pycompose
            os.environ["PYCOMPOSE_EXEC_ROOT"] = str(base / "engine" / "exec")
            daemon, env = start_own_engine(base / "engine")
            cases.append(("pycompose on its engine", [PYCOMPOSE], env, base / "pp"))
        try:
            for _label, tool, env, directory in cases:
                directory.mkdir()
                stack(directory)
                project = ["-p", f"benchexec{directory.name}"]
                subprocess.run([*tool, *project, "up", "-d"], cwd=directory, env=env, check=True)
            seconds: dict[str, list[float]] = {label: [] for label, *_ in cases}
            startup: dict[str, list[float]] = {label: [] for label, *_ in cases}
            for _ in range(args.runs):
                for label, tool, env, directory in cases:
                    project = [*tool, "-p", f"benchexec{directory.name}"]
                    startup[label].append(start_up(project, directory, env))
                    seconds[label].append(through_cat(project, directory, env, data))
            print(f"{args.mebibytes} MiB through exec -T svc cat, {args.runs} runs")
            for label, *_ in cases:
                print(describe(label, seconds[label], size, startup[label]), flush=True)
            reference_label = "docker compose on dockerd"
            if reference_label in seconds:
                base_rate = size / statistics.median(seconds[reference_label])
                base_transfer = size / (
                    statistics.median(seconds[reference_label])
                    - statistics.median(startup[reference_label])
                )
                for label, samples in seconds.items():
                    if label == reference_label:
                        continue
                    rate = size / statistics.median(samples)
                    transfer = size / (
                        statistics.median(samples) - statistics.median(startup[label])
                    )
                    print(
                        f"ratio {label:28s} whole {rate / base_rate:.2f}x,"
                        f" transfer {transfer / base_transfer:.2f}x docker compose"
                    )
        finally:
            for _label, tool, env, directory in cases:
                project = ["-p", f"benchexec{directory.name}"]
                subprocess.run(
                    [*tool, *project, "down", "-t", "0"],
                    cwd=directory,
                    env=env,
                    capture_output=True,
                    check=False,
                )
            if daemon is not None:
                daemon.terminate()
                daemon.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
