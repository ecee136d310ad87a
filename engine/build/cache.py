"""The build cache: step key -> the step's result. SQLite under the images root.

A key is the digest of (the parent state's key, the instruction after substitution, the
digest of the step's inputs: copied files, the source stage, the downloaded URL). A value
is the layer the step made (None for config-only steps) and its history entry (whose
``created`` time keeps a rebuild's image ID the same). A hit is only used when its layer
is still in the store (garbage collection may have removed it since).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.images.store import LayerRecord


class CacheEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    layer: LayerRecord | None = None
    history: dict[str, Any]


def step_key(parent: str, instruction: str, inputs: str = "") -> str:
    data = json.dumps([parent, instruction, inputs], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


class BuildCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, value TEXT)")

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM steps WHERE key = ?", (key,)).fetchone()
        return CacheEntry.model_validate_json(row[0]) if row else None

    def put(self, key: str, entry: CacheEntry) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO steps (key, value) VALUES (?, ?)",
                (key, entry.model_dump_json()),
            )

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM steps")
