"""The engine's SQLite records: lookups, intent records, and a crash at any instant."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import state
from engine.errors import Conflict, NotFound
from engine.state import StateStore


def test_container_records_by_id_name_and_prefix(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "engine.db")
    body = {"Image": "busybox", "Labels": {"b": "2", "a": "1"}}
    store.begin_container("ab" * 32, "web", "busybox", "sha256:x", body, 1.0)
    store.set_container_status("ab" * 32, "created")
    assert store.container("web").id == "ab" * 32
    assert store.container("/web").body == body
    assert list(store.container("abab").body["Labels"]) == ["b", "a"]  # order kept
    with pytest.raises(Conflict, match="already in use"):
        store.begin_container("cd" * 32, "web", "busybox", "sha256:x", body, 2.0)
    with pytest.raises(NotFound, match="No such container: nope"):
        store.container("nope")
    store.rename_container("ab" * 32, "web2")
    assert store.container("web2").name == "web2"
    store.delete_container("ab" * 32)
    assert store.containers() == []
    store.close()


def test_unfinished_intents_are_listed_after_reopening(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "engine.db")
    store.begin_container("1" * 64, "half-made", "busybox", "", {}, 1.0)
    store.begin_container("2" * 64, "done", "busybox", "", {}, 1.0)
    store.set_container_status("2" * 64, "created")
    store.begin_container("3" * 64, "half-removed", "busybox", "", {}, 1.0)
    store.set_container_status("3" * 64, "removing")
    store.close()
    reopened = StateStore(tmp_path / "engine.db")
    assert sorted(c.name for c in reopened.unfinished()) == ["half-made", "half-removed"]


def test_events_replay_since_a_time(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "engine.db")
    for i in range(5):
        store.add_event(i * 10, {"Action": f"a{i}"})
    assert [e["Action"] for e in store.events_since(20)] == ["a2", "a3", "a4"]
    assert [e["Action"] for e in store.events_since(0, 10)] == ["a0", "a1"]


def test_the_event_history_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the history ``GET /events?since=`` replays keeps the newest events, never more than
    # MAX_EVENTS + PRUNE_EVERY (small here so the test is quick)
    monkeypatch.setattr(state, "MAX_EVENTS", 50)
    monkeypatch.setattr(state, "PRUNE_EVERY", 10)
    store = StateStore(tmp_path / "engine.db")
    for i in range(500):
        store.add_event(i, {"Action": f"a{i}"})
        assert len(store.events_since(0)) <= 60
    kept = [e["Action"] for e in store.events_since(0)]
    assert kept[-1] == "a499" and kept == [f"a{i}" for i in range(500 - len(kept), 500)]
    assert len(kept) >= 50
    store.close()


EARLIER_SCHEMA = """
CREATE TABLE containers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    created REAL NOT NULL, image TEXT NOT NULL, image_id TEXT NOT NULL,
    body TEXT NOT NULL, networks TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE volumes (name TEXT PRIMARY KEY, created REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_nano INTEGER NOT NULL,
    body TEXT NOT NULL);
INSERT INTO containers VALUES ('ab', 'web', 'created', 1.0, 'busybox', 'sha256:x',
    '{"Labels": {"a": "1"}}', '{}');
"""


def test_a_database_of_an_earlier_engine_opens_and_loses_its_unused_tables(
    tmp_path: Path,
) -> None:
    earlier = sqlite3.connect(tmp_path / "engine.db")
    earlier.executescript(EARLIER_SCHEMA)
    earlier.close()
    store = StateStore(tmp_path / "engine.db")
    assert [(c.name, c.body) for c in store.containers()] == [("web", {"Labels": {"a": "1"}})]
    store.begin_container("cd" * 32, "db", "busybox", "sha256:y", {}, 2.0)
    assert {c.name for c in store.containers()} == {"web", "db"}
    store.close()
    check = sqlite3.connect(tmp_path / "engine.db")
    tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    check.close()
    assert "networks" not in tables and "volumes" not in tables
    assert {"containers", "events"} <= tables


WRITER = """
import sys, time
from engine.state import StateStore
store = StateStore(sys.argv[1])
i = 0
while True:
    if i == 2:  # container 1 is complete: the kill below comes after real progress
        print("ready", flush=True)
    cid = f"{i:064x}"
    store.begin_container(cid, f"c{i}", "busybox", "", {"Labels": {"n": str(i)}}, time.time())
    store.set_container_status(cid, "created")
    store.add_event(time.time_ns(), {"Action": "create", "id": cid})
    if i % 3 == 0:
        store.set_container_status(cid, "removing")
        store.delete_container(cid)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31])
def test_a_writer_killed_at_any_instant_leaves_a_consistent_database(
    tmp_path: Path, delay: float
) -> None:
    database = tmp_path / "engine.db"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    check = sqlite3.connect(database)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    store = StateStore(database)
    records = store.containers()
    assert records, "the writer made progress"
    for record in records:
        assert record.body == {"Labels": {"n": str(int(record.id, 16))}}
    # what a crash can leave: at most the one container in flight is unfinished
    assert len(store.unfinished()) <= 1


def test_flush_makes_every_commit_durable_with_shared_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: each flush returns only once the commits before it were fsynced; ten
    concurrent flushers after one commit share one fsync of the WAL."""
    import anyio

    store = StateStore(tmp_path / "engine.db")
    synced: list[str] = []
    real_fsync = state.os.fsync

    def fsync(fd: int) -> None:
        synced.append(state.os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(state.os, "fsync", fsync)

    async def main() -> None:
        await store.flush()  # nothing committed: no fsync
        assert synced == []
        store.add_event(1, {"Type": "container"})
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(store.flush)
        assert synced == [str(tmp_path / "engine.db-wal")]
        store.add_event(2, {"Type": "container"})
        await store.flush()
        assert len(synced) == 2

    anyio.run(main)
    store.close()
    assert StateStore(tmp_path / "engine.db").events_since(0) == [{"Type": "container"}] * 2


def test_commits_outside_requests_are_flushed_by_the_flusher(tmp_path: Path) -> None:
    import anyio

    store = StateStore(tmp_path / "engine.db")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(store.flush_forever)
            store.add_event(1, {"Type": "container"})  # e.g. a die event, no request
            with anyio.fail_after(10):
                while store._commits.durable < store._commits.made:
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()

    anyio.run(main)
    store.close()
