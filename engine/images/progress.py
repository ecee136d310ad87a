"""Progress events of pulls and pushes, and the error rule of their task groups.

A pull or push reports through a callback (``ProgressCallback``), synchronously, in
Docker's words; the daemon turns each event into one line of its JSON stream with
:meth:`Progress.to_message`, the CLI into progress bars.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from engine.errors import EngineError


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """One progress event, in Docker's words (``Downloading``, ``Pull complete``…).

    ``id`` is the layer's short digest (12 hex), or "" for the image as a whole.
    """

    id: str
    status: str
    current: int = 0
    total: int = 0

    def to_message(self) -> dict[str, object]:
        """The JSON message Docker streams for it (``POST /images/create``, push)."""
        message: dict[str, object] = {"status": self.status}
        if self.id:
            message["id"] = self.id
        if self.total:
            message["progressDetail"] = {"current": self.current, "total": self.total}
        return message


ProgressCallback = Callable[[Progress], None]


def short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def ignore_progress(_: Progress) -> None:
    return None


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for error in group.exceptions:
        out += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return out


@contextlib.contextmanager
def first_error() -> Iterator[None]:
    """Raise the first engine error of a task group's failures, not the group."""
    try:
        yield
    except BaseExceptionGroup as group:
        for error in _leaves(group):
            if isinstance(error, EngineError):
                raise error from group
        raise


def into_stream(send: MemoryObjectSendStream[Progress]) -> ProgressCallback:
    """A callback that forwards events into a memory object stream (an async event stream).

    Give it a stream with an unbounded buffer (``math.inf``): a pull emits about one event
    per MB and layer, and the callback must never block the pull. Events sent after the
    receiver went away are dropped.

    Example::

        send, receive = anyio.create_memory_object_stream[Progress](math.inf)
        task_group.start_soon(images.pull, name, progress=into_stream(send))
        async for event in receive: ...
    """

    def forward(event: Progress) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            send.send_nowait(event)

    return forward
