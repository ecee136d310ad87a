"""Extracting a 200 MB layer of many files with engine.fs is not much slower than the
unpack it replaces (engine.images.unpack.apply_tar). Prints both times."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import time

import pytest

from engine.fs import ExtractOptions, extract_tar
from engine.images.unpack import apply_tar

pytestmark = [pytest.mark.root, pytest.mark.slow]

FILES = 20_000
FILE_SIZE = 10_000


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    path = tmp_path_factory.mktemp("perf") / "layer.tar"
    payload = os.urandom(FILE_SIZE)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for index in range(FILES):
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
    assert path.stat().st_size > 200_000_000
    return path


def timed(run) -> float:
    start = time.monotonic()
    run()
    return time.monotonic() - start


def test_extraction_speed_is_close_to_todays_unpack(layer, tmp_path):
    def today():
        with layer.open("rb") as source:
            apply_tar(source, tmp_path / "today")

    def ours():
        fd = os.open(tmp_path / "ours", os.O_PATH | os.O_DIRECTORY)
        try:
            with layer.open("rb") as source:
                extract_tar(source, fd, ExtractOptions(layer=True), decompress=False)
        finally:
            os.close(fd)

    results: dict[str, list[float]] = {"today": [], "ours": []}
    for _ in range(1):  # one round: 200 MB twice is already minutes on a busy machine
        for name, run in (("today", today), ("ours", ours)):
            (tmp_path / name).mkdir()
            results[name].append(timed(run))
            shutil.rmtree(tmp_path / name)
    best_today, best_ours = min(results["today"]), min(results["ours"])
    print(
        f"\n200 MB / {FILES} files: unpack.apply_tar {best_today:.2f}s, "
        f"engine.fs.extract_tar {best_ours:.2f}s"
    )
    assert best_ours < best_today * 1.5 + 1.0
