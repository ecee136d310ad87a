"""The watcher on the real kernel's inotify (no engine): batches, new trees, late paths, and
the tar a sync sends."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import anyio
import pytest

from compose.errors import PlanError
from compose.watch import inotify
from compose.watch.inotify import Watcher, parse_events
from compose.watch.rules import make_rule, plan_batch
from compose.watch.sync import build_archive


async def _batch(watcher: Watcher, quiet: float = 0.2, timeout: float = 10) -> list[str]:
    with anyio.fail_after(timeout):
        return await watcher.next_batch(quiet)


def test_parse_events_stops_at_a_torn_record() -> None:
    import struct

    name = b"a.txt\0\0\0"
    record = struct.pack("iIII", 1, inotify.IN_CREATE, 0, len(name)) + name
    assert parse_events(record + record[:10]) == [(1, inotify.IN_CREATE, "a.txt")]


def test_many_quick_changes_make_one_batch_after_the_quiet_period(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], float]:
        with Watcher([str(tmp_path)]) as watcher:

            async def edit() -> None:
                for n in range(20):
                    (tmp_path / f"f{n}.txt").write_text(str(n))
                    await anyio.sleep(0.01)

            async with anyio.create_task_group() as group:
                group.start_soon(edit)
                start = time.monotonic()
                batch = await _batch(watcher, quiet=0.3)
            return batch, time.monotonic() - start

    batch, took = anyio.run(main)
    assert batch == sorted(str(tmp_path / f"f{n}.txt") for n in range(20))
    assert took >= 0.3  # flushed only once 0.3 s passed without a change


def test_a_new_directory_is_watched_with_what_it_holds(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], list[str]]:
        with Watcher([str(tmp_path)]) as watcher:
            (tmp_path / "d" / "e").mkdir(parents=True)
            (tmp_path / "d" / "e" / "x.txt").write_text("x")
            first = await _batch(watcher)
            (tmp_path / "d" / "e" / "y.txt").write_text("y")
            os.remove(tmp_path / "d" / "e" / "x.txt")
            second = await _batch(watcher)
            return first, second

    first, second = anyio.run(main)
    assert str(tmp_path / "d" / "e" / "x.txt") in first
    assert second == [str(tmp_path / "d" / "e" / "x.txt"), str(tmp_path / "d" / "e" / "y.txt")]


def test_a_directory_moved_within_the_tree_is_followed_under_its_new_name(tmp_path: Path) -> None:
    (tmp_path / "old" / "sub").mkdir(parents=True)

    async def main() -> tuple[list[str], list[str]]:
        with Watcher([str(tmp_path)]) as watcher:
            os.rename(tmp_path / "old", tmp_path / "new")
            moved = await _batch(watcher)
            (tmp_path / "new" / "sub" / "a.txt").write_text("a")
            (tmp_path / "old").mkdir()  # a new directory of the old name gets its own watch
            await _batch(watcher)
            (tmp_path / "old" / "b.txt").write_text("b")
            (tmp_path / "new" / "sub" / "a.txt").write_text("a2")
            return moved, await _batch(watcher)

    moved, later = anyio.run(main)
    assert str(tmp_path / "old") in moved and str(tmp_path / "new") in moved
    assert later == [str(tmp_path / "new" / "sub" / "a.txt"), str(tmp_path / "old" / "b.txt")]


def test_a_path_that_does_not_exist_yet_is_watched_once_it_appears(tmp_path: Path) -> None:
    root = tmp_path / "later" / "src"

    async def main() -> list[str]:
        with Watcher([str(root)]) as watcher:
            (tmp_path / "unrelated.txt").write_text("no")
            root.mkdir(parents=True)
            await _batch(watcher)
            (root / "a.txt").write_text("a")
            return await _batch(watcher)

    assert anyio.run(main) == [str(root / "a.txt")]


def test_a_single_file_is_watched_through_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    target.write_text("FROM x\n")

    async def main() -> list[str]:
        with Watcher([str(target)]) as watcher:
            (tmp_path / "other").write_text("ignored")
            target.write_text("FROM y\n")
            return await _batch(watcher)

    assert anyio.run(main) == [str(target)]


def test_skipped_directories_get_no_watch(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    rules = [make_rule("web", 0, "sync", str(tmp_path), "/app", ignore=["node_modules"])]

    async def main() -> list[str]:
        from compose.watch.rules import directory_skipped

        with Watcher([str(tmp_path)], skip=lambda d: directory_skipped(rules, d)) as watcher:
            assert str(tmp_path / "node_modules") not in watcher._wds
            (tmp_path / "node_modules" / "pkg" / "x.js").write_text("x")
            (tmp_path / "a.js").write_text("a")
            return await _batch(watcher)

    assert anyio.run(main) == [str(tmp_path / "a.js")]


def test_the_watch_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        (tmp_path / f"d{n}").mkdir()
    monkeypatch.setattr(inotify, "MAX_WATCHES", 3)
    with pytest.raises(PlanError, match="too many directories"):
        Watcher([str(tmp_path)])


def test_the_archive_holds_what_exists_and_lists_what_went(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "d" / "b.txt").write_text("B")
    (src / "d" / "skip.tmp").write_text("no")
    (src / "link").symlink_to("/etc/passwd")
    rule = make_rule("web", 0, "sync", str(src), "/app", ignore=["**/*.tmp"])
    plan = plan_batch(
        [rule], [str(src / "a.txt"), str(src / "d"), str(src / "gone.txt"), str(src / "link")]
    )
    archive, deleted = build_archive(plan.sync["web"])
    assert deleted == ["/app/gone.txt"]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["app/a.txt", "app/d", "app/d/b.txt", "app/link"]
        assert members["app/link"].issym() and members["app/link"].linkname == "/etc/passwd"
        extracted = tar.extractfile("app/d/b.txt")
        assert extracted is not None and extracted.read() == b"B"
    assert build_archive([]) == (b"", [])
    owned, _ = build_archive(plan.sync["web"], owner=(1234, 2345))
    with tarfile.open(fileobj=io.BytesIO(owned)) as tar:
        assert {(m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(1234, 2345, "")}
