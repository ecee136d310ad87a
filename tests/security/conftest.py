"""Fixtures of the security tests: both resolvers of engine.fs.resolve (the kernel's
openat2 and the O_NOFOLLOW walk), and a destination directory opened as an fd."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.fs import resolve


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once with openat2 and once with the component walk."""
    previous = resolve.set_openat2(request.param == "openat2")
    if request.param == "openat2" and not resolve.openat2_enabled():
        resolve.set_openat2(previous)
        pytest.skip("this kernel has no openat2")
    try:
        yield request.param
    finally:
        resolve.set_openat2(previous)


@pytest.fixture
def outer(tmp_path: Path) -> Path:
    """A directory holding the destination and what an attack would reach outside it."""
    (tmp_path / "dest").mkdir()
    (tmp_path / "flag").write_text("original")
    return tmp_path


@pytest.fixture
def dest_fd(outer: Path) -> Iterator[int]:
    fd = os.open(outer / "dest", os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def outside_entries(outer: Path) -> list[str]:
    """What is next to the destination: an escape would add to ['dest', 'flag']."""
    return sorted(os.listdir(outer))
