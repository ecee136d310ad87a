"""Benchmark: the cold start of `pycompose` commands against the interpreter's own start.

Run by hand (not collected by pytest):

    .venv/bin/python tests/bench/bench_cli_startup.py [--repeat 20] [--before /other/.venv]

Runs, alternated in rounds, ``python -I -S -c pass`` (the bare interpreter), ``python -c
pass`` (with the venv's site: .pth files, an editable install's finder) and each command
(`version`, `--help`, `config` of a 10-service project, `ps` when an engine answers), and
prints per row the median wall time with its 10th-90th percentile spread, the median CPU
time (user+sys of the child, steadier than wall time on a busy machine) and the ratio of
that CPU median to the bare interpreter's. ``--before`` adds the same commands from another
venv (another checkout's install, say main's) to the same rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

VENV = Path(sys.executable).parent


def stack(directory: Path, size: int) -> None:
    services = "".join(
        f"  s{i}:\n    image: busybox\n    command: [sleep, '60']\n"
        + (f"    depends_on: [s{i - 1}]\n" if i else "")
        for i in range(size)
    )
    (directory / "compose.yaml").write_text(f"services:\n{services}")


def measure(argv: list[str], cwd: Path) -> tuple[float, float]:
    start = perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return perf_counter() - start, usage.ru_utime + usage.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--before", type=Path, help="another venv whose pycompose to compare")
    parser.add_argument("--no-ps", action="store_true", help="leave out `ps` (needs an engine)")
    options = parser.parse_args()

    commands = [["version"], ["--help"], ["config"]] + ([] if options.no_ps else [["ps"]])
    rows: dict[str, list[str]] = {
        "python -I -S -c pass": [sys.executable, "-I", "-S", "-c", "pass"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    venvs = {"": VENV}
    if options.before:
        venvs = {" (before)": options.before / "bin", " (after)": VENV}
    for command in commands:
        for tag, venv in venvs.items():
            rows[f"{' '.join(command)}{tag}"] = [str(venv / "pycompose"), *command]

    wall: dict[str, list[float]] = {name: [] for name in rows}
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        directory = Path(tmp)
        stack(directory, 10)
        for argv in rows.values():  # page cache, byte code
            measure(argv, directory)
        for _ in range(options.repeat):
            for name, argv in rows.items():
                seconds, used = measure(argv, directory)
                wall[name].append(seconds)
                cpu[name].append(used)

    reference = statistics.median(cpu["python -I -S -c pass"])
    print(f"load {os.getloadavg()[0]:.1f}, {options.repeat} alternated rounds")
    for name in rows:
        w, c = wall[name], cpu[name]
        print(
            f"{name:28s} wall {statistics.median(w) * 1000:6.0f} ms "
            f"[{percentile(w, 0.1) * 1000:5.0f}..{percentile(w, 0.9) * 1000:5.0f}]  "
            f"cpu {statistics.median(c) * 1000:5.0f} ms "
            f"[{percentile(c, 0.1) * 1000:4.0f}..{percentile(c, 0.9) * 1000:4.0f}]  "
            f"x{statistics.median(c) / reference:5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
