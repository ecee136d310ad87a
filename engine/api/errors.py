"""The engine's errors as API clients see them: :mod:`engine.errors`, re-exported.

A client (compose, the CLI) catches :class:`EngineError` and its kinds from here; the
HTTP status of an answer maps back to the kind with :func:`error_for_status`.
"""

from __future__ import annotations

from engine.errors import (
    STATUS_BY_KIND,
    Conflict,
    EngineError,
    EngineInternal,
    EngineUnavailable,
    InvalidParameter,
    NotFound,
    Unsupported,
    error_for_status,
    status_for,
)

__all__ = [
    "STATUS_BY_KIND",
    "Conflict",
    "EngineError",
    "EngineInternal",
    "EngineUnavailable",
    "InvalidParameter",
    "NotFound",
    "Unsupported",
    "error_for_status",
    "status_for",
]
