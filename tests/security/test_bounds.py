"""Bounds of engine.fs.tar_extract against decompression bombs and oversized headers,
measured in a fresh process: refused quickly, with bounded memory (peak RSS)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from . import tarkit as kit

pytestmark = pytest.mark.root
ROOT = Path(__file__).resolve().parents[2]
LIMIT = "max_total_bytes=64 << 20"


_MEASURE = textwrap.dedent(
    """
    import os, resource, sys, time
    sys.path.insert(0, {root!r})
    from engine.fs import ArchiveError, ExtractOptions, Limits, extract_tar
    start = time.monotonic()
    fd = os.open({dest!r}, os.O_PATH | os.O_DIRECTORY)
    kind = "none"
    with open({blob!r}, "rb") as source:
        try:
            if {with_tarfile!r}:
                import tarfile
                with tarfile.open(fileobj=source, mode="r|*") as tar:
                    for member in tar:
                        pass
            else:
                extract_tar(source, fd, ExtractOptions(limits=Limits({limits})))
        except ArchiveError as exc:
            kind = "ArchiveError: " + str(exc)
        except Exception as exc:
            kind = type(exc).__name__ + ": " + str(exc)
    # VmHWM is this process's own peak; ru_maxrss would carry the forking parent's (Linux
    # keeps the pre-exec peak in the signal struct)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) // 1024
    peak = min(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    print(kind)
    print(peak, round(time.monotonic() - start, 2))
    """
)


def measure(blob: Path, dest: Path, limits: str = "", with_tarfile: bool = False):
    """(outcome, peak RSS in MiB, seconds) of extracting ``blob`` in a fresh process."""
    script = _MEASURE.format(
        root=str(ROOT), dest=str(dest), blob=str(blob), limits=limits, with_tarfile=with_tarfile
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    outcome, numbers = result.stdout.strip().splitlines()
    peak, seconds = numbers.split()
    return outcome, int(peak), float(seconds)


def _gzip_file(path: Path, pieces, level: int = 1) -> Path:
    with gzip.open(path, "wb", compresslevel=level) as out:
        for piece in pieces:
            out.write(piece)
    return path


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blobs")
    return {
        # one member declaring 2 GiB of zeros
        "one": _gzip_file(
            folder / "one.tar.gz",
            [kit.raw_header(b"zeros", b"0", 2 << 30), *(bytes(1 << 20) for _ in range(8))],
        ),
        # members of 16 MiB each, 128 MiB in all
        "many": _gzip_file(
            folder / "many.tar.gz",
            (
                piece
                for _ in range(8)
                for piece in (kit.raw_header(b"part", b"0", 16 << 20), bytes(16 << 20))
            ),
        ),
        # 128 MiB of zeros after the end-of-archive marker
        "tail": _gzip_file(
            folder / "tail.tar.gz",
            [kit.tar_bytes([kit.f("a", b"x")]), *(bytes(1 << 20) for _ in range(128))],
        ),
    }


@pytest.mark.parametrize("kind", ["one", "many", "tail"])
def test_a_decompression_bomb_stops_at_the_bound(tmp_path, blobs, kind):
    (tmp_path / "dest").mkdir()
    outcome, peak, seconds = measure(blobs[kind], tmp_path / "dest", LIMIT)
    assert outcome.startswith("ArchiveError") and "past its limit" in outcome, outcome
    assert peak < 100 and seconds < 20, (peak, seconds)
    written = sum(f.stat().st_size for f in (tmp_path / "dest").iterdir())
    assert written <= 64 << 20


@pytest.fixture(scope="module")
def pax_bomb(tmp_path_factory):
    """A < 1 MiB gzip whose tar starts with a PAX header of 320 MiB."""
    size = 320 << 20
    record = b"1024 comment=" + b"a" * 1010 + b"\n"
    blob = _gzip_file(
        tmp_path_factory.mktemp("pax") / "pax.tar.gz",
        [
            kit.raw_header(b"PaxHeader", b"x", size),
            *(record * 1024 for _ in range(size // (1024 * 1024))),
            kit.raw_header(b"file", b"0", 0),
            bytes(1024),
        ],
        level=9,
    )
    assert blob.stat().st_size < 1 << 20
    return blob


def test_a_huge_pax_header_is_refused_with_bounded_memory(tmp_path, pax_bomb):
    (tmp_path / "dest").mkdir()
    outcome, peak, seconds = measure(pax_bomb, tmp_path / "dest")
    assert outcome.startswith("ArchiveError") and "PAX header declares" in outcome, outcome
    assert peak < 100 and seconds < 5, (peak, seconds)


@pytest.mark.slow
def test_tarfile_reads_the_huge_pax_header_whole(tmp_path, pax_bomb):
    """The attack is real: tarfile holds the whole header in memory."""
    _, tarfile_peak, _ = measure(pax_bomb, tmp_path, with_tarfile=True)
    assert tarfile_peak > 320
