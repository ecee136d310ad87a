"""Benchmark: how long a file edited on the host takes to show up in the container (sync).

Run by hand, as root, with an engine that has ``pycompose-examples/busybox:latest``
(tests/e2e/conftest.py loads it)::

    .venv/bin/python tests/bench/bench_watch.py --host unix:///path/engine.sock [--rounds 15]

The same project is watched by ``pycompose watch`` and by docker compose's ``watch`` (the
reference, when its binary is installed: scripts/oracle-docker.sh), one after the other, on
the same engine. Each round writes one file and polls ``GET /containers/{id}/archive``
every 20 ms until the container holds the new content. Both tools wait for 500 ms without a
change before they act (the debounce), so that is the floor. Prints median and spread
(p10..p90) per tool, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import IMAGE, docker_compose_binary  # noqa: E402

PROJECT = textwrap.dedent(f"""
    services:
      app:
        image: {IMAGE}
        command: ["sleep", "3600"]
        init: true
        stop_grace_period: 1s
        develop:
          watch:
            - path: ./src
              target: /app
              action: sync
""")


def read_in(client: httpx.Client, container: str, path: str) -> str | None:
    response = client.get(f"/containers/{container}/archive", params={"path": path})
    if response.status_code != 200:
        return None
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        members = tar.getmembers()
        extracted = tar.extractfile(members[0]) if members else None
        return extracted.read().decode() if extracted else None


def measure(tool: list[str], socket: str, rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "compose.yaml").write_text(PROJECT)
        (directory / "src").mkdir()
        name = f"bench{uuid.uuid4().hex[:8]}"
        environment = {**os.environ, "DOCKER_HOST": f"unix://{socket}", "XDG_RUNTIME_DIR": tmp}
        command = [*tool, "--progress", "plain", "-p", name]
        watch = subprocess.Popen(
            [*command, "watch"],
            cwd=directory,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        client = httpx.Client(transport=httpx.HTTPTransport(uds=socket), base_url="http://e")
        try:
            assert watch.stdout is not None
            for line in watch.stdout:
                if "Watch enabled" in line:
                    break
            else:
                raise SystemExit(f"{tool[0]} watch ended before watching")
            container = f"{name}-app-1"
            samples = []
            for n in range(rounds):
                content = f"round {n}\n"
                start = time.monotonic()
                (directory / "src" / "file.txt").write_text(content)
                while read_in(client, container, "/app/file.txt") != content:
                    if time.monotonic() - start > 30:
                        raise SystemExit(f"{tool[0]}: round {n} never synced")
                    time.sleep(0.02)
                samples.append(time.monotonic() - start)
                time.sleep(0.3)
            return samples
        finally:
            watch.terminate()
            watch.wait(timeout=30)
            client.close()
            subprocess.run(
                [*command, "down", "-t", "0"],
                cwd=directory,
                env=environment,
                capture_output=True,
                check=False,
            )


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p10 = ordered[len(ordered) // 10]
    p90 = ordered[(len(ordered) * 9) // 10 - 1]
    return f"median {statistics.median(ordered):.3f}s  p10..p90 {p10:.3f}..{p90:.3f}s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True, help="unix:///path/to/engine.sock")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    socket = args.host.removeprefix("unix://")
    ours = measure([str(Path(sys.executable).with_name("pycompose"))], socket, args.rounds)
    print(f"pycompose watch       {summary(ours)}")
    reference = docker_compose_binary()
    if reference is None:
        print("docker compose: not installed (scripts/oracle-docker.sh), no reference")
        return
    theirs = measure([reference], socket, args.rounds)
    print(f"docker compose watch  {summary(theirs)}")
    print(
        f"ratio of medians (pycompose / docker compose): "
        f"{statistics.median(ours) / statistics.median(theirs):.2f}"
    )


if __name__ == "__main__":
    main()
