"""compose.load: the variables of interpolation (shell, dotenv) and services' env_file and
label_file.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

from typing import Any

import pytest

from compose.errors import ProjectError
from tests.compose.load_helpers import WEB, Loader, issues_of, services_of

# --- environment and env files ---------------------------------------------------------------

TAGGED = {
    "/p/compose.yaml": "services:\n  web:\n    image: nginx:${TAG:-unset}\n",
    "/p/.env": "TAG=dotenv\n",
    "/p/custom.env": "TAG=custom\n",
    "/p/more.env": "TAG=more\n",
}


@pytest.mark.parametrize(
    ("options", "image", "source"),
    [
        ({}, "nginx:dotenv", "/p/.env"),
        ({"environment": {"TAG": "shell"}}, "nginx:shell", "environment"),
        ({"environment": {"TAG": ""}}, "nginx:unset", "environment"),
        ({"env_files": ["custom.env"]}, "nginx:custom", "/p/custom.env"),
        ({"env_files": ["custom.env", "more.env"]}, "nginx:more", "/p/more.env"),
        ({"environment": {"COMPOSE_ENV_FILES": "custom.env,more.env"}}, "nginx:more", None),
        ({"environment": {"COMPOSE_DISABLE_ENV_FILE": "true"}}, "nginx:unset", None),
        (
            {"env_files": ["custom.env"], "environment": {"TAG": "shell"}},
            "nginx:shell",
            "environment",
        ),
    ],
    ids=[
        "dotenv",
        "shell-wins",
        "shell-empty-wins",
        "env-file-option",
        "later-env-file-wins",
        "COMPOSE_ENV_FILES",
        "COMPOSE_DISABLE_ENV_FILE",
        "shell-wins-over-env-file",
    ],
)
def test_variables_come_from_the_shell_then_the_env_files(
    load: Loader, options: dict[str, Any], image: str, source: str | None
) -> None:
    result = load(TAGGED, cwd="/p", **options)
    assert services_of(result)["web"]["image"] == image
    if source is not None:
        assert result.env_sources["TAG"] == source


@pytest.mark.parametrize(
    "options",
    [{"env_files": ["missing.env"]}, {"environment": {"COMPOSE_ENV_FILES": "missing.env"}}],
    ids=["--env-file", "COMPOSE_ENV_FILES"],
)
def test_an_env_file_named_explicitly_must_exist(load: Loader, options: dict[str, Any]) -> None:
    with pytest.raises(ProjectError, match=r"env file /p/missing.env not found"):
        load(TAGGED, cwd="/p", **options)


def test_the_dotenv_of_the_compose_file_s_directory_is_read_too(load: Loader) -> None:
    disk = {
        "/w/.env": "COMPOSE_FILE=sub/compose.yaml\nA=from-cwd\n",
        "/w/sub/compose.yaml": "services:\n  web:\n    image: x:${A}-${B}\n",
        "/w/sub/.env": "A=from-sub\nB=from-sub\n",
    }
    result = load(disk, cwd="/w")
    # the first .env read wins for A; the project directory's .env adds B
    assert services_of(result)["web"]["image"] == "x:from-cwd-from-sub"


def test_with_a_file_option_the_dotenv_is_the_one_next_to_the_file(load: Loader) -> None:
    disk = {
        "/w/.env": "A=from-cwd\n",
        "/w/sub/compose.yaml": "services:\n  web:\n    image: x:${A}\n",
        "/w/sub/.env": "A=from-sub\n",
    }
    result = load(disk, cwd="/w", files=["sub/compose.yaml"])
    assert services_of(result)["web"]["image"] == "x:from-sub"


def test_dotenv_values_may_use_earlier_values_and_the_shell(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: ${IMAGE}\n",
        "/p/.env": "REGISTRY=${MIRROR:-docker.io}\nIMAGE=${REGISTRY}/nginx\n",
    }
    assert services_of(load(disk, cwd="/p"))["web"]["image"] == "docker.io/nginx"
    result = load(disk, cwd="/p", environment={"MIRROR": "mirror.local"})
    assert services_of(result)["web"]["image"] == "mirror.local/nginx"


def test_the_dotenv_may_enable_profiles(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": WEB + "  debug:\n    image: d\n    profiles: [debug]\n",
        "/p/.env": "COMPOSE_PROFILES=debug\n",
    }
    result = load(disk, cwd="/p")
    assert sorted(result.project.services) == ["debug", "web"]


def test_compose_project_name_is_available_to_interpolation(load: Loader) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    image: ${COMPOSE_PROJECT_NAME}-web\n"}
    result = load(disk, cwd="/p", project_name="shop")
    assert services_of(result)["web"]["image"] == "shop-web"


def test_interpolate_false_keeps_dollar_expressions(load: Loader) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    image: ${IMAGE:?}\n"}
    result = load(disk, cwd="/p", interpolate=False)
    assert result.project.services["web"].image == "${IMAGE:?}"


def test_an_unset_variable_gives_one_warning(load: Loader) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    image: ${NAME}\n    user: ${NAME}\n"}
    result = load(disk, cwd="/p")
    assert result.warnings == ['The "NAME" variable is not set. Defaulting to a blank string.']


def test_the_obsolete_version_key_gives_a_warning(load: Loader) -> None:
    result = load({"/p/compose.yaml": "version: '3.8'\n" + WEB}, cwd="/p")
    assert len(result.warnings) == 1
    assert "the attribute `version` is obsolete" in result.warnings[0]


# --- env_file and label_file -----------------------------------------------------------------

ENV_FILES = {
    "/p/compose.yaml": (
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    env_file:\n"
        "      - a.env\n"
        "      - path: optional.env\n"
        "        required: false\n"
        "      - path: raw.env\n"
        "        format: raw\n"
        "    environment:\n"
        "      OVER: mine\n"
        "      FROM_SHELL:\n"
    ),
    "/p/a.env": "A=1\nOVER=file\nREF=${A}-x\n",
    "/p/raw.env": "RAW=${NOT_EXPANDED} 'quotes kept'\n",
}


def test_env_files_fill_environment_and_environment_wins(load: Loader) -> None:
    result = load(ENV_FILES, cwd="/p", environment={"FROM_SHELL": "sh"})
    assert result.project.services["web"].environment == {
        "A": "1",
        "OVER": "mine",
        "REF": "1-x",
        "RAW": "${NOT_EXPANDED} 'quotes kept'",
        "FROM_SHELL": "sh",
    }


def test_a_required_env_file_must_exist_and_is_reported_where_it_is_named(
    load: Loader,
) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    image: x\n    env_file: [nope.env]\n"}
    with pytest.raises(ProjectError) as error:
        load(disk, cwd="/p")
    assert issues_of(error) == [("/p/compose.yaml:4:16", "env file /p/nope.env not found")]


def test_label_files_fill_labels_and_labels_win(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: x\n    label_file: l.txt\n"
        "    labels: {b: own}\n",
        "/p/l.txt": "a=1\nb=2\n",
    }
    assert services_of(load(disk, cwd="/p"))["web"]["labels"] == {"a": "1", "b": "own"}
