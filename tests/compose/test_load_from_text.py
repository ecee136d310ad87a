"""compose.load_text.load_from_text: one file, no disk.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import Location, ModelError, ProjectError
from compose.load_text import load_from_text
from tests.compose.load_helpers import WEB, issues_of

# --- load_from_text --------------------------------------------------------------------------


def test_load_from_text_loads_one_file_without_a_disk() -> None:
    result = load_from_text(WEB, environment={"X": "1"}, name="demo")
    assert result.project.name == "demo"
    assert result.files == [Path("/project/compose.yaml")]
    assert result.project.services["web"].image == "nginx"


def test_load_from_text_reads_other_files_through_the_callback() -> None:
    files = {Path("/project/app.env"): "A=1\n"}

    def read_file(path: Path) -> str:
        if path not in files:
            raise FileNotFoundError(path)
        return files[path]

    result = load_from_text(
        "services:\n  web:\n    image: x\n    env_file: app.env\n", read_file=read_file
    )
    assert result.project.services["web"].environment == {"A": "1"}


def test_an_empty_file_is_an_error() -> None:
    with pytest.raises(ProjectError) as error:
        load_from_text("# nothing here\n")
    assert issues_of(error) == [("/project/compose.yaml:1:1", "empty compose file")]


def test_a_top_level_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(ModelError, match="must be a mapping"):
        load_from_text("- a\n- b\n")


def test_the_result_records_where_each_value_came_from() -> None:
    result = load_from_text("services:\n  web:\n    image: ${IMG}\n", environment={"IMG": "x"})
    assert result.used_variables == {Location("/project/compose.yaml", 3, 12): ["IMG"]}
    assert result.env_sources["IMG"] == "environment"
