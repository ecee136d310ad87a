"""compose.explain: `config --explain` tells where every value of the project came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from compose.explain import explain
from compose.load import LoadResult

Loader = Callable[..., LoadResult]

PROJECT = {
    "/p/compose.yaml": (
        "services:\n"
        "  web:\n"
        "    image: ${IMG}:${TAG:-latest}\n"
        "    user: ${WHO}\n"
        "    environment:\n"
        "      A: ${FROM_SHELL}\n"
    ),
    "/p/.env": "IMG=nginx\n",
    "/p/compose.override.yaml": "services:\n  web:\n    ports: ['80:80']\n",
}


@pytest.fixture
def lines(load: Loader) -> dict[str, str]:
    """``path = value`` -> origin, for every line of the explanation."""
    result = load(PROJECT, cwd="/p", environment={"FROM_SHELL": "e"})
    out: dict[str, str] = {}
    for line in explain(result, Path("/p")).splitlines():
        left, _, origin = line.partition(" # ")
        out[left.rstrip()] = origin
    return out


def test_a_value_cites_its_file_line_and_column_relative_to_the_cwd(
    lines: dict[str, str],
) -> None:
    assert lines["services.web.ports[0].target = 80"] == "compose.override.yaml:3:13"


def test_a_value_from_the_override_file_cites_the_override_file(lines: dict[str, str]) -> None:
    assert lines['services.web.ports[0].published = "80"'].startswith("compose.override.yaml:")


def test_a_variable_from_the_dotenv_names_the_env_file(lines: dict[str, str]) -> None:
    assert lines['services.web.image = "nginx:latest"'] == (
        "compose.yaml:3:12 (${IMG} from .env, ${TAG} unset)"
    )


def test_a_variable_from_the_shell_says_so(lines: dict[str, str]) -> None:
    assert lines['services.web.environment.A = "e"'] == (
        "compose.yaml:6:10 (${FROM_SHELL} from the environment)"
    )


def test_an_unset_variable_is_shown_as_unset(lines: dict[str, str]) -> None:
    assert lines['services.web.user = ""'] == "compose.yaml:4:11 (${WHO} unset)"


def test_a_value_no_file_wrote_is_a_default(lines: dict[str, str]) -> None:
    assert lines['name = "p"'] == "default"


def test_a_written_project_name_cites_its_line(load: Loader) -> None:
    result = load({"/p/compose.yaml": "name: shop\nservices:\n  web:\n    image: x\n"}, cwd="/p")
    (line,) = [line for line in explain(result, Path("/p")).splitlines() if line[:5] == "name "]
    assert line.startswith('name = "shop"')
    assert line.endswith("# compose.yaml:1:7")


def test_every_leaf_value_has_one_line_with_aligned_origins(load: Loader) -> None:
    result = load(PROJECT, cwd="/p", environment={"FROM_SHELL": "e"})
    text = explain(result, Path("/p"))
    assert text.endswith("\n")
    columns = {line.index(" # ") for line in text.splitlines()}
    assert len(columns) == 1


def test_files_outside_the_cwd_keep_their_absolute_path(load: Loader) -> None:
    result = load({"/p/compose.yaml": "services:\n  web:\n    image: x\n"}, cwd="/p")
    text = explain(result, Path("/elsewhere"))
    assert 'services.web.image = "x"' in text
    assert "# /p/compose.yaml:3:12" in text
