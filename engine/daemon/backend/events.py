"""The engine's event sink: every part emits here; ``GET /events`` reads from here.

An event is stored (``engine.state``, bounded history, replayed by ``since``) and sent to
every live subscriber; a subscriber that cannot keep up (1024 events behind) is dropped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from engine.api import models as api
from engine.state import ContainerRecord, StateStore


class EventSink:
    """Emits Docker events (``container start``, ``image pull``...) and serves them."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._subscribers: list[MemoryObjectSendStream[api.Event]] = []

    def emit(self, kind: str, action: str, actor_id: str, attributes: Mapping[str, str]) -> None:
        now = time.time_ns()
        event = api.Event(
            Type=kind,
            Action=action,
            Actor=api.EventActor(ID=actor_id, Attributes=dict(attributes)),
            time=now // 1_000_000_000,
            timeNano=now,
        )
        self.state.add_event(now, event.model_dump(mode="json"))
        for stream in list(self._subscribers):
            try:
                stream.send_nowait(event)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(stream)
                stream.close()

    def container(self, record: ContainerRecord, action: str, **extra: str) -> None:
        """A container event: its labels, image and name are the attributes, as Docker's."""
        labels = record.body.get("Labels") or {}
        self.emit(
            "container",
            action,
            record.id,
            {**labels, "image": record.image, "name": record.name, **extra},
        )

    async def events(self, since: float | None, until: float | None) -> AsyncIterator[api.Event]:
        """Past events from ``since`` then live ones; ends at ``until`` if given."""
        send, receive = anyio.create_memory_object_stream[api.Event](1024)
        self._subscribers.append(send)
        past = (
            [api.Event.model_validate(e) for e in self.state.events_since(int(since * 1e9))]
            if since is not None
            else []
        )
        until_nano = int(until * 1e9) if until is not None else None

        async def generate() -> AsyncIterator[api.Event]:
            try:
                for event in past:
                    if until_nano is not None and event.timeNano > until_nano:
                        return
                    yield event
                if until_nano is not None and until_nano <= time.time_ns():
                    return
                deadline = (until_nano - time.time_ns()) / 1e9 if until_nano else None
                with anyio.move_on_after(deadline):
                    async for event in receive:
                        if not past or event.timeNano > past[-1].timeNano:
                            yield event
            finally:
                send.close()
                receive.close()
                with contextlib.suppress(ValueError):
                    self._subscribers.remove(send)

        return generate()
