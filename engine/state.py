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

Blocking: each call is one small SQLite transaction (WAL with ``synchronous=FULL``: each
commit is on disk before it returns, so a power loss keeps it), made directly from the event
loop. The file is ``0600``: create bodies hold environment values and secrets.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        self._db.execute("PRAGMA synchronous=FULL")  # a committed change survives power loss
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA + RETIRED)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

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


class _Transaction:
    """``with`` block = one IMMEDIATE transaction under the store's lock (rule 1)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

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
        finally:
            self._lock.release()
