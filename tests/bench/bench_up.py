"""Benchmark: `up -d` and `down` of N-service stacks, pycompose next to docker compose.

Run by hand (not collected by pytest), as root:

    .venv/bin/python tests/bench/bench_up.py [--sizes 10,50,200] [--repeat 3] [--ps 500]
        [--engine docker|pycompose|both]

Each stack has one network and one named volume; every service mounts the volume
and runs a shell that exits at once on SIGTERM. Timed, whole processes:

- docker compose v2 (/opt/oracle-venv, see shared/tools/install-oracle.sh) on dockerd;
- pycompose on the same dockerd (the orchestration layer alone);
- pycompose on its own engine (started on a temporary socket and data root).

Also `ps` of a project of ``--ps`` containers. Prints medians and spread (min..max).
The image is the examples' busybox image (scripts/make_example_image.py).
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYCOMPOSE = str(ROOT / ".venv" / "bin" / "pycompose")
IMAGE = "pycompose-examples/busybox:latest"
COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; sleep 1000000 & wait"]'


def docker_compose() -> list[str] | None:
    for path in glob.glob("/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose"):
        return [path]
    return None


def write_stack(directory: Path, services: int, subnet: str | None = None) -> None:
    lines = ["services:"]
    for index in range(services):
        lines += [
            f"  s{index}:",
            f"    image: {IMAGE}",
            f"    command: {COMMAND}",
            "    volumes: [data:/data]",
            "    networks: [net]",
        ]
    if subnet:  # more containers than a /24 holds: a larger subnet from the project's pool
        lines += [
            "networks:",
            "  net:",
            "    ipam:",
            "      config:",
            f"        - subnet: {subnet}",
        ]
    else:
        lines += ["networks:", "  net: {}"]
    lines += ["volumes:", "  data: {}"]
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 and "down" in command:
        # dockerd 20.10 sometimes refuses a network whose endpoints it is still releasing
        print(f"  (retrying: {result.stderr.strip().splitlines()[-1]})", flush=True)
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    elif result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def describe(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.2f} s ({min(samples):.2f}..{max(samples):.2f})"


def load_image(socket_path: str, tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_example_image import write_archive

    archive = write_archive(tmp / "image.tar", IMAGE)
    subprocess.run(
        [
            "curl",
            "-s",
            "-f",
            "--unix-socket",
            socket_path,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            f"@{archive}",
            "http://engine/images/load?quiet=1",
        ],
        check=True,
        capture_output=True,
    )


def start_own_engine(tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    socket_path = tmp / "engine.sock"
    env = {
        **os.environ,
        "PYCOMPOSE_HOST": f"unix://{socket_path}",
        "PYCOMPOSE_DATA_ROOT": str(tmp / "data"),
    }
    env.pop("DOCKER_HOST", None)
    log = (tmp / "engine.log").open("wb")
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.daemon",
            "--socket",
            str(socket_path),
            "--data-root",
            str(tmp / "data"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(300):
        if socket_path.exists():
            probe = subprocess.run(
                ["curl", "-s", "-f", "--unix-socket", str(socket_path), "http://engine/_ping"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                break
        time.sleep(0.1)
    load_image(str(socket_path), tmp)
    return daemon, env


def bench_tool(
    label: str,
    tool: list[str],
    env: dict[str, str],
    sizes: list[int],
    repeat: int,
    results: dict[str, dict[int, tuple[list[float], list[float]]]],
) -> None:
    for size in sizes:
        ups, downs = [], []
        for attempt in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                directory = Path(tmp)
                write_stack(directory, size)
                project = ["-p", f"bench{size}x{attempt}"]
                ups.append(timed([*tool, *project, "up", "-d"], directory, env))
                downs.append(timed([*tool, *project, "down", "-v", "-t", "10"], directory, env))
        results.setdefault(label, {})[size] = (ups, downs)
        print(
            f"{label:32s} {size:4d} services  up -d {describe(ups)}   down {describe(downs)}",
            flush=True,
        )


def bench_ps(label: str, tool: list[str], env: dict[str, str], count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_stack(directory, 1, subnet="10.215.0.0/21")
        project = ["-p", "benchps"]
        try:
            timed([*tool, *project, "up", "-d", "--scale", f"s0={count}"], directory, env)
            samples = [timed([*tool, *project, "ps"], directory, env) for _ in range(repeat)]
            print(f"{label:32s} ps of {count} containers {describe(samples)}", flush=True)
        finally:
            timed([*tool, *project, "down", "-v", "-t", "10"], directory, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,200")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ps", type=int, default=500)
    parser.add_argument("--engine", choices=["docker", "pycompose", "both"], default="both")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    docker_env = {
        **os.environ,
        "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
    }
    if args.engine in ("docker", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            load_image(docker_env["DOCKER_HOST"].removeprefix("unix://"), Path(tmp))
        reference = docker_compose()
        if reference:
            bench_tool(
                "docker compose on dockerd", reference, docker_env, sizes, args.repeat, results
            )
        bench_tool("pycompose on dockerd", [PYCOMPOSE], docker_env, sizes, args.repeat, results)
        if args.ps:
            if reference:
                bench_ps("docker compose on dockerd", reference, docker_env, args.ps, args.repeat)
            bench_ps("pycompose on dockerd", [PYCOMPOSE], docker_env, args.ps, args.repeat)
    if args.engine in ("pycompose", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            daemon, env = start_own_engine(Path(tmp))
            try:
                bench_tool("pycompose on its engine", [PYCOMPOSE], env, sizes, args.repeat, results)
                if args.ps:
                    bench_ps("pycompose on its engine", [PYCOMPOSE], env, args.ps, args.repeat)
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
    reference_runs = results.get("docker compose on dockerd", {})
    for label, by_size in results.items():
        if label.startswith("docker compose"):
            continue
        for size, (ups, downs) in by_size.items():
            if size in reference_runs:
                ref_up, ref_down = reference_runs[size]
                print(
                    f"ratio {label:26s} {size:4d}: up {statistics.median(ups) / statistics.median(ref_up):.2f}"
                    f"  down {statistics.median(downs) / statistics.median(ref_down):.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
