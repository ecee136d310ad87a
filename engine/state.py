"""The engine's records in SQLite: containers (as the API knows them) and events.

The subsystems keep their own working state (the runtime its container bundles, the image
store its index, networking and volumes their own files); this store holds what the API
adds on top and must survive a crash: the create body exactly as the client sent it
(labels returned byte for byte), names, and the event history that ``GET /events?since=``
replays.

Crash rules (a kill -9 may happen between any two statements):

1. Every change is one transaction (``with self._db``); WAL journal, so a reader never sees
   half a change and a crash loses at most the transaction in flight.
2. Multi-step operations are bracketed by intent records: a container is inserted with
   ``status = 'creating'`` before its bundle is made and set to ``'created'`` after; it is
   set to ``'removing'`` before its resources go and deleted after. On start,
   :meth:`StateStore.unfinished` lists both kinds so the engine removes the half-made
   ones and finishes the half-removed ones (``repair`` in the backend).
3. Events are append-only, with a bounded history (oldest pruned).

Durability (group commit): each call is one small SQLite transaction made directly from the
event loop, without waiting for the disk (WAL with ``synchronous=NORMAL``); the engine
awaits :meth:`StateStore.flush` before it answers a request (engine.daemon.routes), which
fsyncs the WAL in a worker thread, one fsync for every commit made so far. So, as with
``synchronous=FULL``, nothing is acknowledged before it is on disk, but concurrent requests
share their fsyncs and the event loop never waits on the disk. Commits made outside a
request (a container's exit) are flushed at once by :meth:`StateStore.flush_forever`.
The file is ``0600``: create bodies hold environment values and secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from engine.errors import Conflict, NotFound
from engine.file_modes import private_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,             -- creating | created | removing
    created REAL NOT NULL,
    image TEXT NOT NULL,              -- the reference as the client wrote it
    image_id TEXT NOT NULL,
    body TEXT NOT NULL,               -- ContainerCreate JSON, as received
    networks TEXT NOT NULL DEFAULT '{}'  -- unused; kept so that older engines can open it
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (time_nano);
"""

RETIRED = """
DROP TABLE IF EXISTS networks;
DROP TABLE IF EXISTS volumes;
"""
"""Tables databases of earlier engines have and nothing reads: dropped on open (they never
held rows; an older engine opening the database again makes them anew, empty)."""

MAX_EVENTS = 10_000
PRUNE_EVERY = 1_000  # the history is cut back to MAX_EVENTS at every PRUNE_EVERY-th event


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    id: str
    name: str
    status: str
    created: float
    image: str
    image_id: str
    body: dict[str, Any]


def _container(row: tuple[Any, ...]) -> ContainerRecord:
    return ContainerRecord(
        id=row[0],
        name=row[1],
        status=row[2],
        created=row[3],
        image=row[4],
        image_id=row[5],
        body=json.loads(row[6]),
    )


_CONTAINER_COLUMNS = "id, name, status, created, image, image_id, body"


class StateStore:
    """The engine's SQLite database at ``path`` (created with its schema when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        private_database(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # commits are made durable by flush() (group commit, see the module doc)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA + RETIRED)
        self._commits = _Commits()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._commits.sync(self._wal)  # what no flush covered yet
        self._commits.close()

    @property
    def _wal(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock, self._commits)

    # --- durability -----------------------------------------------------------------

    async def flush(self) -> None:
        """Return once every commit made before the call is on disk.

        One fsync of the WAL (in a worker thread) covers all the commits made before it
        began; callers that come while one runs wait for it, then for one more if theirs
        came after its start. Error handling: a failed fsync raises OSError.
        """
        commits = self._commits
        target = commits.made
        while commits.durable < target:
            if commits.flushing is not None:
                await commits.flushing.wait()
                continue
            done = commits.flushing = anyio.Event()
            covered = commits.made
            try:
                await anyio.to_thread.run_sync(commits.sync, self._wal, covered)
            finally:
                commits.flushing = None
                done.set()

    async def flush_forever(self) -> None:
        """Flush the commits made outside requests as they come (a task of the engine)."""
        while True:
            await anyio.wait_readable(self._commits.wakeup)
            self._commits.drain_wakeup()
            await self.flush()

    # --- containers -----------------------------------------------------------------

    def begin_container(
        self,
        container_id: str,
        name: str,
        image: str,
        image_id: str,
        body: dict[str, Any],
        created: float,
    ) -> None:
        """Intent record of a container being made (rule 2); Conflict if the name is taken."""
        with self._transaction() as db:
            try:
                db.execute(
                    f"INSERT INTO containers ({_CONTAINER_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                    (
                        container_id,
                        name,
                        "creating",
                        created,
                        image,
                        image_id,
                        json.dumps(body),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f'The container name "/{name}" is already in use',
                    hint="remove or rename that container, or choose another name",
                ) from exc

    def set_container_status(self, container_id: str, status: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE containers SET status = ? WHERE id = ?", (status, container_id))

    def rename_container(self, container_id: str, name: str) -> None:
        with self._transaction() as db:
            try:
                db.execute("UPDATE containers SET name = ? WHERE id = ?", (name, container_id))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f'The container name "/{name}" is already in use') from exc

    def delete_container(self, container_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def containers(self) -> list[ContainerRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CONTAINER_COLUMNS} FROM containers ORDER BY created DESC, id"
            ).fetchall()
        return [_container(row) for row in rows]

    def container(self, ref: str) -> ContainerRecord:
        """By full id, name (with or without ``/``) or unambiguous id prefix."""
        name = ref.lstrip("/")
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CONTAINER_COLUMNS} FROM containers WHERE id = ? OR name = ? "
                "ORDER BY id = ? DESC LIMIT 1",
                (ref, name, ref),
            ).fetchone()
            rows = (
                []
                if row is not None or not ref
                else self._db.execute(
                    f"SELECT {_CONTAINER_COLUMNS} FROM containers WHERE id LIKE ? LIMIT 2",
                    (ref.replace("%", "").replace("_", "") + "%",),
                ).fetchall()
            )
        if row is not None:
            return _container(row)
        if len(rows) == 1:
            return _container(rows[0])
        if len(rows) > 1:
            raise Conflict(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def unfinished(self) -> list[ContainerRecord]:
        """Containers left ``creating`` or ``removing`` by a crash (rule 2)."""
        return [c for c in self.containers() if c.status in ("creating", "removing")]

    # --- events ---------------------------------------------------------------------

    def add_event(self, time_nano: int, body: dict[str, Any]) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (time_nano, body) VALUES (?, ?)", (time_nano, json.dumps(body))
            )
            seq = cursor.lastrowid or 0
            if seq % PRUNE_EVERY == 0:
                db.execute("DELETE FROM events WHERE seq <= ?", (seq - MAX_EVENTS,))

    def events_since(self, since_nano: int, until_nano: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE time_nano >= ? AND time_nano <= ? ORDER BY seq",
                (since_nano, until_nano if until_nano is not None else 2**63 - 1),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]


class _Commits:
    """How many commits were made and how many are known on disk; an eventfd that wakes
    :meth:`StateStore.flush_forever` after a commit (from any thread)."""

    def __init__(self) -> None:
        self.made = 0
        self.durable = 0
        self.flushing: anyio.Event | None = None
        self.wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def committed(self) -> None:
        self.made += 1
        os.eventfd_write(self.wakeup, 1)

    def drain_wakeup(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self.wakeup)

    def sync(self, wal: Path, covered: int | None = None) -> None:
        """fsync the WAL (SQLite's own fsync under ``synchronous=FULL``): the commits made
        up to ``covered`` are then on disk (a checkpoint syncs what it moved itself)."""
        covered = self.made if covered is None else covered
        try:
            fd = os.open(wal, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # no WAL: every commit is checkpointed into the database
            fd = -1
        if fd >= 0:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.durable = max(self.durable, covered)

    def close(self) -> None:
        os.close(self.wakeup)


class _Transaction:
    """``with`` block = one IMMEDIATE transaction under the store's lock (rule 1)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, commits: _Commits) -> None:
        self._db = db
        self._lock = lock
        self._commits = commits

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
            if exc_type is None:
                self._commits.committed()
        finally:
            self._lock.release()
