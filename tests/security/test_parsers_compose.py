"""Attack: stack files and build inputs that drive a parser into unbounded recursion, and
names that end with a newline.

``${a:-${a:-...}}`` nested ten thousand levels deep must be a clear interpolation error from
``compose.load`` and from ``pycompose config`` (not a RecursionError, not minutes of work);
a project name with a trailing newline is refused; a symlink loop inside a build's root
gives a clear error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compose.errors import ComposeError
from compose.load import check_project_name
from compose.load_text import load_from_text
from engine.build.files import resolve_in_root

DEPTH = 10_000
DEEP_VALUE = "${a:-" * DEPTH + "x" + "}" * DEPTH
DEEP_STACK = f'services:\n  web:\n    image: "{DEEP_VALUE}"\n'


def test_deep_interpolation_is_a_clear_error_from_compose_load() -> None:
    started = time.monotonic()
    with pytest.raises(ComposeError) as error:
        load_from_text(DEEP_STACK, environment={})
    assert "nested" in str(error.value)
    assert time.monotonic() - started < 10


def test_deep_interpolation_is_a_clear_error_from_pycompose_config(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(DEEP_STACK)
    environment = {k: v for k, v in os.environ.items() if k != "a"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "pycompose"), "config"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "RecursionError" not in result.stderr and "Traceback" not in result.stderr
    assert "nested" in result.stderr, result.stderr[-2000:]


def test_nesting_within_the_bound_still_works() -> None:
    value = "${a:-" * 50 + "x" + "}" * 50
    result = load_from_text(f'services:\n  web:\n    image: "{value}"\n', environment={})
    assert result.project.services["web"].image == "x"


def test_a_project_name_with_a_trailing_newline_is_refused() -> None:
    assert check_project_name("demo", "test") == "demo"
    with pytest.raises(ComposeError):
        check_project_name("demo\n", "test")


def test_a_symlink_loop_in_a_build_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="too many levels of symbolic links"):
        resolve_in_root(tmp_path, "/a/file")
