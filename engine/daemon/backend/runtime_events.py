"""Runtime events the daemon did not cause itself, reported as Docker events.

The daemon emits ``start``/``die``/``stop`` for what API clients ask; the runtime also acts
on its own: health checks change a container's status (``health_status: healthy``), and
a restart policy or an unhealthy container's ``on-unhealthy`` action starts it again. Those
reach ``GET /events`` through this relay (and a restarted container is watched again, so
its next ``die`` is reported too).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.daemon.backend.events import EventSink
from engine.runtime import RuntimeEvent
from engine.state import ContainerRecord


class RuntimeEventRelay:
    """``ContainerRuntime(on_event=relay)``; ``attach`` once the backend exists."""

    def __init__(self) -> None:
        self._events: EventSink | None = None
        self._records: dict[str, ContainerRecord] = {}
        self._watch: Callable[[str], None] | None = None

    def attach(
        self, events: EventSink, records: dict[str, ContainerRecord], watch: Callable[[str], None]
    ) -> None:
        self._events, self._records, self._watch = events, records, watch

    def __call__(self, event: RuntimeEvent) -> None:
        if self._events is None or self._watch is None:
            return
        record = self._records.get(event.container_id)
        if record is None:
            return
        if event.action.startswith("health_status: "):
            self._events.container(record, event.action)
        elif event.action == "start" and event.attributes.get("automatic"):
            self._events.container(record, "start")
            self._watch(event.container_id)
