"""A project loaded from one stack file given as text, on an in-memory file system: for
tests, scripts and the Kubernetes generator, which have no files on disk to read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from compose.load import LoadOptions, LoadResult, load_project


def load_from_text(
    text: str,
    *,
    environment: Mapping[str, str] | None = None,
    name: str = "project",
    working_dir: Path = Path("/project"),
    read_file: Callable[[Path], str] | None = None,
) -> LoadResult:
    """Load a single stack file given as text (handy in tests and scripts)."""
    main = working_dir / "compose.yaml"
    extra: dict[Path, str] = {main: text}

    class _Files:
        def read_text(self, path: Path) -> str:
            if path in extra:
                return extra[path]
            if read_file is not None:
                return read_file(path)
            raise FileNotFoundError(str(path))

        def is_file(self, path: Path) -> bool:
            try:
                self.read_text(path)
            except OSError:
                return False
            return True

        def is_dir(self, path: Path) -> bool:
            return path == working_dir

    options = LoadOptions(
        cwd=working_dir,
        environment=dict(environment or {}),
        files=(str(main),),
        project_name=name,
    )
    return load_project(options, _Files())


__all__ = ["load_from_text"]
