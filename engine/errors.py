"""The engine's error hierarchy, and the one table mapping its kinds to HTTP status.

    EngineError            raised inside the engine, or came back from it; .message, .hint
    ├── NotFound           404  no such container / image / network / volume
    ├── InvalidParameter   400  the request is malformed or a value is wrong
    ├── Conflict           409  name in use, object in use, wrong state
    ├── Unsupported        501  the engine does not implement this
    ├── EngineUnavailable  503  (client side) socket missing, connection refused
    └── EngineInternal     500  anything else

This module is the bottom of the engine: it imports nothing of pycompose, and every part
of the engine (daemon, images, build, runtime, network, volumes, state) may import it.
:mod:`engine.api.errors` re-exports it for API clients. The daemon maps a raised error to
its status with :data:`STATUS_BY_KIND`; the client maps a status back to the class with
:func:`error_for_status`. Nothing matches on message text.
"""

from __future__ import annotations


class EngineError(Exception):
    """An error of the engine. ``message`` is what Docker puts in ``{"message": ...}``;
    ``hint`` (optional) says what to do, for people, and never goes on the wire."""

    status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The message as a person reads it: the text, then the hint on its own line."""
        return self.message + (f"\n    hint: {self.hint}" if self.hint else "")


class NotFound(EngineError):
    status = 404


class InvalidParameter(EngineError):
    status = 400


class Conflict(EngineError):
    status = 409


class Unsupported(EngineError):
    status = 501


class EngineUnavailable(EngineError):
    status = 503


class EngineInternal(EngineError):
    status = 500


STATUS_BY_KIND: dict[type[EngineError], int] = {
    NotFound: 404,
    InvalidParameter: 400,
    Conflict: 409,
    Unsupported: 501,
    EngineUnavailable: 503,
    EngineInternal: 500,
}

_KIND_BY_STATUS = {status: kind for kind, status in STATUS_BY_KIND.items()}


def status_for(error: EngineError) -> int:
    for kind, status in STATUS_BY_KIND.items():
        if isinstance(error, kind):
            return status
    return 500


def error_for_status(status: int, message: str) -> EngineError:
    """The error class a client raises for an HTTP error status."""
    kind = _KIND_BY_STATUS.get(status)
    if kind is None:
        kind = InvalidParameter if 400 <= status < 500 else EngineInternal
    return kind(message)
