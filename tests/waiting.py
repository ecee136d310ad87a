"""Bounded condition polling for tests: wait for what must happen, never for a fixed time.

A test that sleeps and then asserts flakes on a loaded machine; one that polls a condition
up to a generous deadline passes as soon as the condition holds and, when it never does,
fails saying what it waited for and what it saw last.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import pytest

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns a true value (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        seen = predicate()
        if seen:
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g}s for {what}; last saw {seen!r}")
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> T:
    """:func:`wait_until` for async tests; ``predicate`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        seen = predicate()
        if isinstance(seen, Awaitable):
            seen = await seen
        if seen:
            return seen  # type: ignore[return-value]
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g}s for {what}; last saw {seen!r}")
        await anyio.sleep(interval)
