"""The engine's containers as the API knows them: one index the resource parts share.

Records come from :class:`engine.state.StateStore` (the create body, name, image); the
runtime says whether a container exists and in which state. Only ``created`` records are
visible to clients: ``creating`` and ``removing`` ones are half-made or half-gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter, NotFound
from engine.runtime import ContainerRuntime, ContainerState
from engine.state import ContainerRecord, StateStore

ACTIVE_STATES = (ContainerState.RUNNING, ContainerState.PAUSED, ContainerState.RESTARTING)


class ContainerIndex:
    """Container records by id, looked up by reference, with their runtime state."""

    def __init__(self, data_root: Path, state: StateStore, runtime: ContainerRuntime) -> None:
        self.data_root = data_root
        self.state = state
        self.runtime = runtime
        self.records: dict[str, ContainerRecord] = {r.id: r for r in state.containers()}

    def find(self, ref: str) -> ContainerRecord:
        """A visible container by full id, name (with or without ``/``) or unique id prefix."""
        record = self.records.get(ref)
        if record is not None and record.status == "created":
            return record
        name = ref.lstrip("/")
        for record in self.records.values():
            if record.name == name and record.status == "created":
                return record
        if len(ref) >= 1:
            matches = [
                r for r in self.records.values() if r.id.startswith(ref) and r.status == "created"
            ]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def visible(self) -> list[ContainerRecord]:
        return [r for r in self.records.values() if r.status == "created"]

    def has(self, container_id: str) -> bool:
        """Whether the runtime knows the container (its bundle exists)."""
        try:
            self.runtime.inspect(container_id)
        except NotFound:
            return False
        return True

    def info(self, record: ContainerRecord) -> Any:
        """The runtime's view of the container (state, pid, exit code, health...)."""
        return self.runtime.inspect(record.id)

    def running(self, container_id: str) -> bool:
        """Running, paused or restarting: it has (or is about to have) processes."""
        try:
            info = self.runtime.inspect(container_id)
        except NotFound:
            return False
        return info.state in ACTIVE_STATES

    def rootfs(self, container_id: str) -> Path:
        """Where the container's overlay root is mounted."""
        return self.data_root / "rootfs" / container_id

    def put(self, record: ContainerRecord) -> None:
        self.records[record.id] = record

    def forget(self, container_id: str) -> None:
        self.records.pop(container_id, None)
