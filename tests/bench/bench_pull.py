"""Benchmark: pull a generated ~200 MB image (5 layers) from a loopback registry.

Compares, in the same run and against the same registry:
    ours        ImageService.pull (download, verify, unpack every layer)
    reference   skopeo copy docker://… oci:… + umoci unpack (the same work, two tools)
Each is a fresh child process; peak memory is its max RSS (wait4). Prints the median
and spread (min-max) of --runs runs. Needs root (layers keep owners and devices).

    .venv/bin/python tests/bench/bench_pull.py [--runs 3] [--size-mb 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The parent stays small (standard library only): a child's max RSS starts from its
# parent's RSS at fork, so the image is generated and pushed by a child too.

PULL = """
import sys, anyio
from pathlib import Path
from engine.images import ImageService
async def main():
    async with ImageService(Path(sys.argv[1])) as images:
        await images.pull(sys.argv[2])
anyio.run(main)
"""


def measure(commands: list[list[str]]) -> tuple[float, float, float]:
    """Run commands one after the other; return (seconds, CPU seconds, peak RSS in MB)."""
    start = time.perf_counter()
    peak = 0
    cpu = 0.0
    for command in commands:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            assert process.stderr is not None
            raise SystemExit(f"{command[0]} failed: {process.stderr.read().decode()[:500]}")
        peak = max(peak, usage.ru_maxrss)
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu, peak / 1024


def start_registry(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n"
    )
    process = subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the registry did not start")


def generate(path: Path, size_mb: int, dest: str, layers: int = 5) -> None:
    """(In a child) write the image as an OCI layout and push it with skopeo."""
    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    from images import imagekit as kit

    layout = kit.Layout(path)
    per_layer = size_mb // layers
    tars = []
    for n in range(layers):
        entries = [kit.d(f"layer{n}")]
        entries += [kit.f(f"layer{n}/blob{i}", os.urandom(1 << 20)) for i in range(per_layer)]
        entries += [kit.f(f"layer{n}/small{i}", b"x" * i) for i in range(200)]
        tars.append(kit.tar_bytes(entries))
    layout.tag(layout.image([], raw_layers=tars), "bench")
    kit.skopeo_push(path, "bench", dest)


def summary(name: str, samples: list[tuple[float, float, float]]) -> str:
    def stat(values: list[float], unit: str) -> str:
        return f"{statistics.median(values):7.2f}{unit} ({min(values):.2f}-{max(values):.2f})"

    return (
        f"{name:<36} wall {stat([s[0] for s in samples], 's')}  "
        f"cpu {stat([s[1] for s in samples], 's')}  "
        f"peak RSS {stat([s[2] for s in samples], 'MB')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--generate", nargs=3, metavar=("LAYOUT", "SIZE", "DEST"))
    args = parser.parse_args()
    if args.generate:
        generate(Path(args.generate[0]), int(args.generate[1]), args.generate[2])
        return
    python = str(ROOT / ".venv" / "bin" / "python")
    work = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    process = None
    try:
        (work / "registry").mkdir()
        process, host = start_registry(work / "registry")
        results: dict[str, list[tuple[float, float, float]]] = {}
        for size in sorted({args.size_mb // 4, args.size_mb}):
            layout = work / f"layout-{size}"
            ref = f"{host}/bench/image:{size}"
            subprocess.run(
                [python, __file__, "--generate", str(layout), str(size), ref], check=True
            )
            shutil.rmtree(layout)
            for run in range(args.runs):
                if size == args.size_mb:
                    results.setdefault("(python + import engine.images only)", []).append(
                        measure([[python, "-c", "import engine.images"]])
                    )
                data_root = work / f"ours-{size}-{run}"
                results.setdefault(f"ours, {size} MB", []).append(
                    measure([[python, "-c", PULL, str(data_root), ref]])
                )
                shutil.rmtree(data_root)
                oci = work / f"oci-{size}-{run}"
                bundle = work / f"bundle-{size}-{run}"
                results.setdefault(f"skopeo copy + umoci unpack, {size} MB", []).append(
                    measure(
                        [
                            [
                                "skopeo",
                                "copy",
                                "--quiet",
                                "--src-tls-verify=false",
                                f"docker://{ref}",
                                f"oci:{oci}:bench",
                            ],
                            ["umoci", "unpack", "--image", f"{oci}:bench", str(bundle)],
                        ]
                    )
                )
                shutil.rmtree(oci)
                shutil.rmtree(bundle)
        print(f"pull of a generated image in 5 layers from {host}, {args.runs} runs each")
        for name, samples in results.items():
            print(summary(name, samples))
        print(
            "(a child's peak RSS includes its parent's at fork: here about "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )
    finally:
        if process is not None:
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
