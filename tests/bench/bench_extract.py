"""Benchmark: extract a generated ~200 MB layer of 20,000 files.

Compares, in the same run, on the same file:
    ours        engine.fs.extract_tar (the engine's one extractor: every write beneath the
                destination, bounded, whiteouts converted)
    reference   GNU tar -x --same-owner (no such checks)
Prints the median and spread (min-max) of --runs runs of each, alternating. Needs root
(owners are kept).

    .venv/bin/python tests/bench/bench_extract.py [--runs 3] [--files 20000]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from engine.fs import ExtractOptions, extract_tar

FILE_SIZE = 10_000


def make_layer(path: Path, files: int) -> None:
    payload = os.urandom(FILE_SIZE)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for index in range(files):
            if index % 100 == 0:
                info = tarfile.TarInfo(f"d{index // 100}")
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            info = tarfile.TarInfo(f"d{index // 100}/f{index}")
            info.size = FILE_SIZE
            info.mode = 0o644
            info.uid = info.gid = 1000
            tar.addfile(info, io.BytesIO(payload))


def ours(layer: Path, dest: Path) -> None:
    fd = os.open(dest, os.O_PATH | os.O_DIRECTORY)
    try:
        with layer.open("rb") as source:
            extract_tar(source, fd, ExtractOptions(layer=True), decompress=False)
    finally:
        os.close(fd)


def reference(layer: Path, dest: Path) -> None:
    subprocess.run(["tar", "-x", "--same-owner", "-f", str(layer), "-C", str(dest)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        base = Path(tmp)
        layer = base / "layer.tar"
        make_layer(layer, args.files)
        size_mb = layer.stat().st_size / 1e6
        times: dict[str, list[float]] = {"ours": [], "tar": []}
        for _ in range(args.runs):
            for name, run in (("ours", ours), ("tar", reference)):
                dest = base / name
                dest.mkdir()
                os.sync()
                start = time.monotonic()
                run(layer, dest)
                times[name].append(time.monotonic() - start)
                shutil.rmtree(dest)
        print(f"layer: {size_mb:.0f} MB, {args.files} files, {args.runs} runs")
        for name, values in times.items():
            print(
                f"  {name:5} median {statistics.median(values):.2f} s "
                f"({min(values):.2f}..{max(values):.2f})"
            )
        ratio = statistics.median(times["ours"]) / statistics.median(times["tar"])
        print(f"  ratio ours/tar: {ratio:.2f}")


if __name__ == "__main__":
    main()
