"""Small conversions to Docker's wire formats, shared by the backend's parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.api import models as api

STREAM_NUMBERS = {"stdout": 1, "stderr": 2}
"""The multiplexed-stream number of a log or exec stream (1 = stdout, 2 = stderr)."""


def strip_nulls(value: Any) -> Any:
    """Drop ``null`` members (Docker clients send them for 'unset'; the runtime models
    want the field absent)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def rfc3339(seconds: float) -> str:
    """Go's RFC 3339 with nanoseconds (``2026-01-02T03:04:05.123456000Z``); zero time for 0."""
    if seconds <= 0:
        return api.ZERO_TIME
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def familiar(reference: str) -> str:
    """An image reference as Docker shows it: ``docker.io/library/`` dropped."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            return reference[len(prefix) :]
    return reference
