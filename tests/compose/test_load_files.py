"""compose.load: which files make the project, where paths start, and the project's name.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compose.errors import ProjectError
from compose.load import LoadOptions, load_project
from tests.compose.load_helpers import WEB, Loader, services_of

# --- which files -----------------------------------------------------------------------------


def test_the_compose_file_is_found_in_a_parent_directory(load: Loader) -> None:
    result = load({"/a/compose.yaml": WEB}, cwd="/a/b/c")
    assert result.files == [Path("/a/compose.yaml")]
    assert result.working_dir == Path("/a")
    assert result.project.name == "a"


def test_the_override_file_next_to_the_compose_file_is_merged(load: Loader) -> None:
    result = load(
        {
            "/a/compose.yaml": WEB,
            "/a/compose.override.yaml": "services:\n  web:\n    user: me\n",
        },
        cwd="/a/b",
    )
    assert result.files == [Path("/a/compose.yaml"), Path("/a/compose.override.yaml")]
    assert services_of(result)["web"]["user"] == "me"


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        (["compose.yaml", "compose.yml", "docker-compose.yml"], ["compose.yaml"]),
        (["compose.yml", "docker-compose.yaml"], ["compose.yml"]),
        (["docker-compose.yaml", "docker-compose.yml"], ["docker-compose.yaml"]),
        (["docker-compose.yml"], ["docker-compose.yml"]),
        (
            ["docker-compose.yml", "docker-compose.override.yml"],
            ["docker-compose.yml", "docker-compose.override.yml"],
        ),
        (
            ["compose.yaml", "compose.override.yml"],
            ["compose.yaml", "compose.override.yml"],
        ),
        # an override file goes with its own base name only
        (["compose.yaml", "docker-compose.override.yml"], ["compose.yaml"]),
    ],
)
def test_default_file_names_are_tried_in_docker_compose_s_order(
    load: Loader, present: list[str], chosen: list[str]
) -> None:
    result = load({f"/p/{name}": WEB for name in present}, cwd="/p")
    assert result.files == [Path(f"/p/{name}") for name in chosen]


def test_no_compose_file_anywhere_is_an_error_that_says_what_to_do(load: Loader) -> None:
    with pytest.raises(ProjectError) as error:
        load({"/elsewhere/compose.yaml": WEB}, cwd="/p/q")
    (issue,) = error.value.issues
    assert issue.message.startswith("no configuration file provided")
    assert "/p/q" in issue.message
    assert issue.hint == "run pycompose where your compose.yaml is, or name it with -f"


def test_file_options_are_relative_to_the_current_directory(load: Loader) -> None:
    result = load(
        {"/p/deploy/base.yaml": WEB, "/p/deploy/prod.yaml": "services:\n  web:\n    user: u\n"},
        cwd="/p",
        files=["deploy/base.yaml", "deploy/prod.yaml"],
    )
    assert result.files == [Path("/p/deploy/base.yaml"), Path("/p/deploy/prod.yaml")]
    # the project directory is the first file's directory
    assert result.working_dir == Path("/p/deploy")
    assert result.project.name == "deploy"


def test_a_missing_file_option_is_an_error(load: Loader) -> None:
    with pytest.raises(ProjectError, match=r"compose file /p/nope.yaml not found"):
        load({"/p/compose.yaml": WEB}, cwd="/p", files=["nope.yaml"])


def test_compose_file_lists_files_with_the_path_separator(load: Loader) -> None:
    disk = {"/p/one.yaml": WEB, "/p/two.yaml": "services:\n  web:\n    user: u\n"}
    environment = {"COMPOSE_FILE": "one.yaml;two.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    result = load(disk, cwd="/p", environment=environment)
    assert result.files == [Path("/p/one.yaml"), Path("/p/two.yaml")]


def test_compose_file_uses_a_colon_by_default(load: Loader) -> None:
    disk = {"/p/one.yaml": WEB, "/p/two.yaml": "services:\n  web:\n    user: u\n"}
    result = load(disk, cwd="/p", environment={"COMPOSE_FILE": "one.yaml:two.yaml"})
    assert result.files == [Path("/p/one.yaml"), Path("/p/two.yaml")]


def test_file_options_win_over_compose_file(load: Loader) -> None:
    disk = {"/p/one.yaml": WEB, "/p/two.yaml": WEB}
    result = load(disk, cwd="/p", files=["two.yaml"], environment={"COMPOSE_FILE": "one.yaml"})
    assert result.files == [Path("/p/two.yaml")]


def test_the_dotenv_of_the_current_directory_may_set_compose_file(load: Loader) -> None:
    disk = {"/p/.env": "COMPOSE_FILE=stack/app.yaml\n", "/p/stack/app.yaml": WEB}
    result = load(disk, cwd="/p")
    assert result.files == [Path("/p/stack/app.yaml")]
    assert result.working_dir == Path("/p/stack")


def test_project_directory_is_where_discovery_and_relative_paths_start(load: Loader) -> None:
    disk = {"/p/app/compose.yaml": "services:\n  web:\n    build: ./src\n"}
    result = load(disk, cwd="/p", project_directory="app")
    assert result.working_dir == Path("/p/app")
    assert services_of(result)["web"]["build"]["context"] == "/p/app/src"


def test_relative_paths_are_resolved_against_the_first_file_s_directory(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    build: ./src\n",
        "/p/sub/override.yaml": "services:\n  web:\n    volumes: ['./data:/data']\n",
    }
    result = load(disk, cwd="/p", files=["compose.yaml", "sub/override.yaml"])
    web = services_of(result)["web"]
    assert web["build"]["context"] == "/p/src"
    assert web["volumes"][0]["source"] == "/p/data"


def test_resolve_paths_false_keeps_relative_paths(load: Loader) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    build: ./src\n"}
    result = load(disk, cwd="/p", resolve_paths=False)
    assert services_of(result)["web"]["build"]["context"] == "./src"


# --- project name ----------------------------------------------------------------------------

NAMED = {"/My Dir/compose.yaml": "name: from-file\n" + WEB}


@pytest.mark.parametrize(
    ("options", "name"),
    [
        (
            {"project_name": "from-flag", "environment": {"COMPOSE_PROJECT_NAME": "env"}},
            "from-flag",
        ),
        ({"environment": {"COMPOSE_PROJECT_NAME": "from-env"}}, "from-env"),
        ({}, "from-file"),
    ],
    ids=["-p", "COMPOSE_PROJECT_NAME", "name:"],
)
def test_the_project_name_comes_from_p_then_the_environment_then_the_file(
    load: Loader, options: dict[str, Any], name: str
) -> None:
    assert load(NAMED, cwd="/My Dir", **options).project.name == name


def test_compose_project_name_may_be_set_in_the_dotenv(load: Loader) -> None:
    disk = {"/p/compose.yaml": "name: from-file\n" + WEB, "/p/.env": "COMPOSE_PROJECT_NAME=dot\n"}
    assert load(disk, cwd="/p").project.name == "dot"


@pytest.mark.parametrize(
    ("directory", "name"),
    [("/My Dir", "mydir"), ("/Web_App.v2", "web_appv2"), ("/-x-", "x-"), ("/123", "123")],
)
def test_without_a_name_the_directory_name_is_normalised(
    load: Loader, directory: str, name: str
) -> None:
    assert load({f"{directory}/compose.yaml": WEB}, cwd=directory).project.name == name


def test_a_name_key_is_interpolated_and_normalised(load: Loader) -> None:
    disk = {"/p/compose.yaml": "name: ${PROJECT:-default}\n" + WEB}
    assert load(disk, cwd="/p", environment={"PROJECT": "My-Shop"}).project.name == "my-shop"


@pytest.mark.parametrize(
    ("options", "source"),
    [
        ({"project_name": "Bad"}, "-p"),
        ({"project_name": "-dash"}, "-p"),
        ({"project_name": "with space"}, "-p"),
        ({"environment": {"COMPOSE_PROJECT_NAME": "bad name!"}}, "COMPOSE_PROJECT_NAME"),
    ],
)
def test_an_explicit_project_name_must_be_valid(
    load: Loader, options: dict[str, Any], source: str
) -> None:
    with pytest.raises(ProjectError) as error:
        load({"/p/compose.yaml": WEB}, cwd="/p", **options)
    (issue,) = error.value.issues
    assert issue.message.startswith("invalid project name ")
    assert issue.message.endswith(f"(from {source})")
    assert issue.hint is not None


def test_a_directory_without_a_usable_name_needs_an_explicit_name(load: Loader) -> None:
    with pytest.raises(ProjectError, match="cannot derive a project name"):
        load({"/__/compose.yaml": WEB}, cwd="/__")


def test_the_last_file_s_name_key_wins(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "name: base\n" + WEB,
        "/p/compose.override.yaml": "name: override\n",
    }
    assert load(disk, cwd="/p").project.name == "override"


# --- paths and the file system ---------------------------------------------------------------


def test_a_tilde_in_a_path_is_the_home_directory(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    build: ~/src\n    volumes: ['~/data:/data']\n"
    }
    web = services_of(load(disk, cwd="/p", environment={"HOME": "/home/u"}))["web"]
    assert web["build"]["context"] == "/home/u/src"
    assert web["volumes"][0]["source"] == "/home/u/data"


def test_the_project_files_are_read_through_the_given_file_system(memory_files: Any) -> None:
    files = memory_files({"/p/compose.yaml": WEB, "/p/.env": "A=1\n"})
    load_project(LoadOptions(cwd=Path("/p"), environment={}), files)
    assert files.reads == [Path("/p/.env"), Path("/p/compose.yaml")]
