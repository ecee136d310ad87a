"""Helpers for the stack-file tests: an in-memory disk and a one-call loader.

Every test of the load pipeline describes its project as a dict of path -> text
and loads it through :func:`compose.load.load_project`, as the CLI does, but
without touching the disk or the process environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from compose.load import LoadOptions, LoadResult, load_project


class MemoryFiles:
    """A :class:`compose.load.FileSystem` over a dict of absolute path -> text."""

    def __init__(self, files: Mapping[str | Path, str]) -> None:
        self.files = {Path(path): text for path, text in files.items()}
        self.reads: list[Path] = []

    def read_text(self, path: Path) -> str:
        self.reads.append(path)
        if path in self.files:
            return self.files[path]
        if self.is_dir(path):
            raise IsADirectoryError(str(path))
        raise FileNotFoundError(str(path))

    def is_file(self, path: Path) -> bool:
        return path in self.files

    def is_dir(self, path: Path) -> bool:
        return any(path in file.parents for file in self.files)


Loader = Callable[..., LoadResult]


def load_files(
    disk: Mapping[str | Path, str],
    /,
    *,
    cwd: str = "/project",
    environment: Mapping[str, str] | None = None,
    **options: Any,
) -> LoadResult:
    """Load the project on ``disk`` (path -> text) as ``pycompose`` run in ``cwd`` would."""
    load_options = LoadOptions(cwd=Path(cwd), environment=dict(environment or {}), **options)
    return load_project(load_options, MemoryFiles(disk))


@pytest.fixture
def load() -> Loader:
    """``load({path: text}, cwd=..., environment=..., **LoadOptions fields)``."""
    return load_files


@pytest.fixture
def memory_files() -> type[MemoryFiles]:
    """The in-memory FileSystem class, for tests that call load_project themselves."""
    return MemoryFiles
