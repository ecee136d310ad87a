"""compose.load: the whole pipeline, from files on a (fake) disk and an environment.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compose.errors import (
    ComposeError,
    DependencyCycleError,
    InterpolationError,
    Location,
    ModelError,
    ProjectError,
    UndefinedReferenceError,
    YamlSyntaxError,
)
from compose.load import LoadOptions, LoadResult, load_from_text, load_project
from compose.output import config_dict

Loader = Callable[..., LoadResult]

WEB = "services:\n  web:\n    image: nginx\n"


def services_of(result: LoadResult) -> dict[str, Any]:
    return config_dict(result.project)["services"]


def issues_of(error: pytest.ExceptionInfo[ComposeError]) -> list[tuple[str, str]]:
    """(location, message) of every issue, in the order the error lists them."""
    return [(str(issue.location), issue.message) for issue in error.value.issues]


# --- 1. which files ------------------------------------------------------------------------


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


# --- 1. environment and env files ------------------------------------------------------------

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


# --- errors cite the file they are in --------------------------------------------------------

BAD_PORT = "    ports: ['1:2:3:4:5']\n"
EXTENDS_APP = "services:\n  web:\n    extends: {file: base.yaml, service: app}\n"


@pytest.mark.parametrize(
    ("disk", "location"),
    [
        (
            {
                "/p/compose.yaml": WEB,
                "/p/compose.override.yaml": "services:\n  web:\n" + BAD_PORT,
            },
            "/p/compose.override.yaml:3:13",
        ),
        (
            {
                "/p/compose.yaml": EXTENDS_APP.replace("base.yaml", "lib/base.yaml"),
                "/p/lib/base.yaml": "services:\n  app:\n    image: a\n" + BAD_PORT,
            },
            "/p/lib/base.yaml:4:13",
        ),
        (
            {
                "/p/compose.yaml": "include:\n  - sub/compose.yaml\n" + WEB,
                "/p/sub/compose.yaml": "services:\n  db:\n    image: d\n" + BAD_PORT,
            },
            "/p/sub/compose.yaml:4:13",
        ),
    ],
    ids=["override", "extends", "include"],
)
def test_a_model_error_cites_the_line_of_the_file_it_is_in(
    load: Loader, disk: dict[str, str], location: str
) -> None:
    with pytest.raises(ModelError) as error:
        load(disk, cwd="/p")
    assert [str(issue.location) for issue in error.value.issues] == [location]


@pytest.mark.parametrize(
    ("disk", "location"),
    [
        (
            {
                "/p/compose.yaml": WEB,
                "/p/compose.override.yaml": "services:\n  web:\n    user: ${WHO:?}\n",
            },
            "/p/compose.override.yaml:3:11",
        ),
        (
            {
                "/p/compose.yaml": EXTENDS_APP,
                "/p/base.yaml": "services:\n  app:\n    image: a\n    user: ${WHO:?}\n",
            },
            "/p/base.yaml:4:11",
        ),
        (
            {
                "/p/compose.yaml": "include:\n  - sub/compose.yaml\n" + WEB,
                "/p/sub/compose.yaml": "services:\n  db:\n    image: d\n    user: ${WHO:?}\n",
            },
            "/p/sub/compose.yaml:4:11",
        ),
    ],
    ids=["override", "extends", "include"],
)
def test_an_interpolation_error_cites_the_line_of_the_file_it_is_in(
    load: Loader, disk: dict[str, str], location: str
) -> None:
    with pytest.raises(InterpolationError) as error:
        load(disk, cwd="/p")
    assert issues_of(error) == [(location, "required variable WHO is missing a value")]


@pytest.mark.parametrize(
    ("disk", "location"),
    [
        (
            {
                "/p/compose.yaml": WEB,
                "/p/compose.override.yaml": "services:\n  web:\n    user: a\n    user: b\n",
            },
            "/p/compose.override.yaml:4:5",
        ),
        (
            {
                "/p/compose.yaml": EXTENDS_APP,
                "/p/base.yaml": "services:\n  app:\n    image: a\n    image: b\n",
            },
            "/p/base.yaml:4:5",
        ),
        (
            {
                "/p/compose.yaml": "include:\n  - sub/compose.yaml\n" + WEB,
                "/p/sub/compose.yaml": "services:\n  db:\n    image: a\n\n    image: b\n",
            },
            "/p/sub/compose.yaml:5:5",
        ),
    ],
    ids=["override", "extends", "include"],
)
def test_a_duplicate_key_cites_the_line_of_the_file_it_is_in(
    load: Loader, disk: dict[str, str], location: str
) -> None:
    with pytest.raises(YamlSyntaxError) as error:
        load(disk, cwd="/p")
    ((where, message),) = issues_of(error)
    assert where == location
    assert message.startswith("duplicate key")


def test_an_unknown_key_cites_the_key_and_suggests_the_right_one(load: Loader) -> None:
    disk = {"/p/compose.yaml": "services:\n  web:\n    image: a\n    enviroment: {}\n"}
    with pytest.raises(ModelError) as error:
        load(disk, cwd="/p")
    (issue,) = error.value.issues
    assert (str(issue.location), issue.path) == (
        "/p/compose.yaml:4:5",
        ("services", "web", "enviroment"),
    )
    assert issue.hint == 'did you mean "environment"?'


# --- all the issues of a phase at once -------------------------------------------------------


def test_every_model_issue_is_reported_at_once_sorted_by_place(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  web:\n"
            "    image: a\n"
            "    enviroment: {}\n"
            "    user: [1]\n"
            "  db:\n"
            "    image: [x]\n"
        )
    }
    with pytest.raises(ModelError) as error:
        load(disk, cwd="/p")
    assert [where for where, _ in issues_of(error)] == [
        "/p/compose.yaml:4:5",
        "/p/compose.yaml:5:11",
        "/p/compose.yaml:7:12",
    ]


def test_every_undefined_reference_is_reported_at_once(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  web:\n"
            "    image: a\n"
            "    depends_on: [nope]\n"
            "    networks: [nonet]\n"
            "    volumes: ['novol:/x']\n"
            "    secrets: [nosecret]\n"
            "    configs: [noconfig]\n"
            "  db:\n"
            "    image: b\n"
            "    volumes_from: [ghost]\n"
            "    network_mode: service:phantom\n"
        )
    }
    with pytest.raises(UndefinedReferenceError) as error:
        load(disk, cwd="/p")
    assert issues_of(error) == [
        ("/p/compose.yaml:4:18", 'service "web" depends on undefined service "nope"'),
        ("/p/compose.yaml:5:16", 'service "web" refers to undefined network "nonet"'),
        ("/p/compose.yaml:6:15", 'service "web" refers to undefined volume "novol"'),
        ("/p/compose.yaml:7:15", 'service "web" refers to undefined secret "nosecret"'),
        ("/p/compose.yaml:8:15", 'service "web" refers to undefined config "noconfig"'),
        ("/p/compose.yaml:11:20", 'service "db" depends on undefined service "ghost"'),
        ("/p/compose.yaml:12:19", 'service "db" depends on undefined service "phantom"'),
    ]


def test_interpolation_issues_of_all_files_are_reported_at_once(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: ${A:?}\n    user: ${B:?}\n",
        "/p/compose.override.yaml": "services:\n  web:\n    user: ${C:?}\n",
    }
    with pytest.raises(InterpolationError) as error:
        load(disk, cwd="/p")
    assert issues_of(error) == [
        ("/p/compose.override.yaml:3:11", "required variable C is missing a value"),
        ("/p/compose.yaml:3:12", "required variable A is missing a value"),
        ("/p/compose.yaml:4:11", "required variable B is missing a value"),
    ]


def test_a_dependency_cycle_is_an_error(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  b:\n    image: x\n    depends_on: [c]\n"
            "  a:\n    image: x\n    depends_on: [b]\n"
            "  c:\n    image: x\n    volumes_from: [a]\n"
        )
    }
    with pytest.raises(DependencyCycleError) as error:
        load(disk, cwd="/p")
    assert issues_of(error) == [
        ("/p/compose.yaml:7:17", "dependency cycle detected: a -> b -> c -> a")
    ]


# --- extends ---------------------------------------------------------------------------------


def test_extends_in_the_same_file_merges_the_base_under_the_service(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  base:\n    image: b\n    environment: {A: '1'}\n    command: [base]\n"
            "  web:\n    extends: base\n    environment: {B: '2'}\n"
        )
    }
    web = services_of(load(disk, cwd="/p"))["web"]
    assert web["image"] == "b"
    assert web["environment"] == {"A": "1", "B": "2"}
    assert web["command"] == ["base"]
    assert "extends" not in web


def test_extends_follows_chains(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  web:\n    extends: {service: mid}\n    command: [web]\n"
            "  mid:\n    extends: root\n    user: mid\n"
            "  root:\n    image: r\n    user: root\n    command: [root]\n"
        )
    }
    web = services_of(load(disk, cwd="/p"))["web"]
    assert (web["image"], web["user"], web["command"]) == ("r", "mid", ["web"])


def test_extends_from_another_file_resolves_its_paths_from_that_file(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    extends: {file: lib/base.yaml, service: app}\n",
        "/p/lib/base.yaml": "services:\n  app:\n    build: ./src\n    env_file: app.env\n",
        "/p/lib/app.env": "X=1\n",
    }
    web = services_of(load(disk, cwd="/p"))["web"]
    assert web["build"]["context"] == "/p/lib/src"
    assert web["environment"] == {"X": "1"}


def test_extends_across_files_follows_the_chain_into_further_files(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    extends: {file: a/one.yaml, service: one}\n",
        "/p/a/one.yaml": "services:\n  one:\n    extends: {file: ../b/two.yaml, service: two}\n",
        "/p/b/two.yaml": "services:\n  two:\n    image: two\n    build: .\n",
    }
    web = services_of(load(disk, cwd="/p"))["web"]
    assert (web["image"], web["build"]["context"]) == ("two", "/p/b")


@pytest.mark.parametrize(
    ("disk", "message"),
    [
        (
            {"/p/compose.yaml": "services:\n  a:\n    extends: a\n"},
            "extends loop: compose.yaml:a -> compose.yaml:a",
        ),
        (
            {"/p/compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"},
            "extends loop: compose.yaml:a -> compose.yaml:b -> compose.yaml:a",
        ),
        (
            {
                "/p/compose.yaml": "services:\n  a:\n    extends: {file: x.yaml, service: b}\n",
                "/p/x.yaml": "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n",
            },
            "extends loop: compose.yaml:a -> x.yaml:b -> compose.yaml:a",
        ),
    ],
    ids=["self", "two", "across-files"],
)
def test_an_extends_loop_is_an_error(load: Loader, disk: dict[str, str], message: str) -> None:
    with pytest.raises(ModelError) as error:
        load(disk, cwd="/p")
    assert error.value.issues[0].message == message
    assert str(error.value.issues[0].location) == "/p/compose.yaml:3:14"


@pytest.mark.parametrize(
    ("extends", "error_type", "message"),
    [
        ("nope", UndefinedReferenceError, "cannot extend service 'nope': no such service"),
        (
            "{file: base.yaml, service: nope}",
            UndefinedReferenceError,
            "cannot extend service 'nope': no such service in /p/base.yaml",
        ),
        (
            "{file: missing.yaml, service: x}",
            ProjectError,
            "extends: file /p/missing.yaml not found",
        ),
        ("{file: base.yaml}", ModelError, "extends needs a `service` to extend"),
    ],
)
def test_a_bad_extends_is_reported_at_the_extends_key(
    load: Loader, extends: str, error_type: type[ComposeError], message: str
) -> None:
    disk = {
        "/p/compose.yaml": f"services:\n  web:\n    image: a\n    extends: {extends}\n",
        "/p/base.yaml": "services:\n  app:\n    image: a\n",
    }
    with pytest.raises(error_type) as error:
        load(disk, cwd="/p")
    (issue,) = error.value.issues
    assert issue.message == message
    assert issue.location is not None
    assert (issue.location.file, issue.location.line) == ("/p/compose.yaml", 4)


# --- include ---------------------------------------------------------------------------------


def test_an_included_project_uses_its_own_directory_and_dotenv(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - db/compose.yaml\n" + WEB + "    depends_on: [db]\n",
        "/p/db/compose.yaml": "services:\n  db:\n    image: postgres:${PG}\n    build: .\n",
        "/p/db/.env": "PG=16\n",
    }
    db = services_of(load(disk, cwd="/p"))["db"]
    assert db["image"] == "postgres:16"
    assert db["build"]["context"] == "/p/db"


def test_an_include_may_name_its_env_files_and_project_directory(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "include:\n"
            "  - path: lib/db.yaml\n"
            "    project_directory: data\n"
            "    env_file: lib/db.env\n" + WEB
        ),
        "/p/lib/db.yaml": "services:\n  db:\n    image: postgres:${PG}\n    build: .\n",
        "/p/lib/db.env": "PG=15\n",
    }
    db = services_of(load(disk, cwd="/p"))["db"]
    assert db["image"] == "postgres:15"
    assert db["build"]["context"] == "/p/data"


def test_the_including_project_s_variables_do_not_leak_into_the_include(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - db/compose.yaml\n" + WEB,
        "/p/.env": "PG=from-parent\n",
        "/p/db/compose.yaml": "services:\n  db:\n    image: postgres:${PG:-own}\n",
    }
    assert services_of(load(disk, cwd="/p"))["db"]["image"] == "postgres:own"


def test_an_include_cycle_is_an_error(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - sub/compose.yaml\n" + WEB,
        "/p/sub/compose.yaml": "include:\n  - ../compose.yaml\nservices:\n  db:\n    image: d\n",
    }
    with pytest.raises(ProjectError) as error:
        load(disk, cwd="/p")
    (issue,) = error.value.issues
    assert issue.message.startswith("include cycle detected:")
    assert str(issue.location) == "/p/sub/compose.yaml:2:5"


def test_a_service_defined_differently_in_an_include_is_a_conflict(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  db:\n    image: mine\n",
        "/p/sub/compose.yaml": "services:\n  db:\n    image: theirs\n",
    }
    with pytest.raises(ProjectError) as error:
        load(disk, cwd="/p")
    (issue,) = error.value.issues
    assert (str(issue.location), issue.path) == ("/p/compose.yaml:5:5", ("services", "db"))
    assert issue.message == "conflicts with an imported resource of the same name"


def test_a_missing_included_file_is_reported_at_the_include_item(load: Loader) -> None:
    with pytest.raises(ProjectError) as error:
        load({"/p/compose.yaml": "include:\n  - missing.yaml\n" + WEB}, cwd="/p")
    assert issues_of(error) == [("/p/compose.yaml:2:5", "included file /p/missing.yaml not found")]


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


# --- profiles --------------------------------------------------------------------------------

PROFILED = {
    "/p/compose.yaml": """\
services:
  web:
    image: w
    depends_on: [api]
  api:
    image: a
  debug:
    image: d
    profiles: [debug]
    depends_on: [tools]
  tools:
    image: t
    profiles: [debug, ops]
  metrics:
    image: m
    profiles: [ops]
"""
}


ALL_PROFILED = ["api", "debug", "metrics", "tools", "web"]
OPS = ["api", "metrics", "tools", "web"]


@pytest.mark.parametrize(
    ("options", "services"),
    [
        ({}, ["api", "web"]),
        ({"profiles": ["debug"]}, ["api", "debug", "tools", "web"]),
        ({"profiles": ["ops"]}, OPS),
        ({"profiles": ["*"]}, ALL_PROFILED),
        ({"environment": {"COMPOSE_PROFILES": "ops, debug"}}, ALL_PROFILED),
        ({"profiles": ["ops"], "environment": {"COMPOSE_PROFILES": "debug"}}, OPS),
        ({"services": ["debug"]}, ["debug", "tools"]),
        ({"services": ["web"]}, ["api", "web"]),
    ],
    ids=["none", "debug", "ops", "all", "COMPOSE_PROFILES", "flag-wins", "named", "named-deps"],
)  # fmt: skip
def test_only_services_without_profiles_or_with_an_active_one_are_loaded(
    load: Loader, options: dict[str, Any], services: list[str]
) -> None:
    assert sorted(load(PROFILED, cwd="/p", **options).project.services) == services


def test_a_service_named_that_does_not_exist_is_an_error_with_a_suggestion(
    load: Loader,
) -> None:
    with pytest.raises(UndefinedReferenceError) as error:
        load(PROFILED, cwd="/p", services=["wbe"])
    (issue,) = error.value.issues
    assert (issue.message, issue.hint) == ("no such service: wbe", "did you mean 'web'?")


def test_depending_on_a_service_whose_profile_is_off_is_an_error(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: w\n    depends_on: [db]\n"
        "  db:\n    image: d\n    profiles: [x]\n"
    }
    with pytest.raises(UndefinedReferenceError, match='depends on undefined service "db"'):
        load(disk, cwd="/p")


def test_an_optional_dependency_on_a_disabled_service_is_dropped(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: w\n    depends_on:\n"
        "      db: {condition: service_started, required: false}\n"
        "  db:\n    image: d\n    profiles: [x]\n"
    }
    assert sorted(load(disk, cwd="/p").project.services) == ["web"]


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


# --- more ----------------------------------------------------------------------------------


def test_every_issue_of_a_load_is_reported_together_whatever_its_phase(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": (
            "services:\n"
            "  web:\n"
            "    image: ${A:?}\n"
            "    ports: ['1:2:3:4:5']\n"
            "    enviroment: {}\n"
            "    depends_on: [ghost]\n"
        ),
        "/p/compose.override.yaml": "services:\n  web:\n    user: ${B:?}\n",
    }
    with pytest.raises(ComposeError) as error:
        load(disk, cwd="/p")
    assert [where for where, _ in issues_of(error)] == [
        "/p/compose.override.yaml:3:11",  # interpolation, in the override file
        "/p/compose.yaml:3:12",  # interpolation
        "/p/compose.yaml:4:13",  # short syntax
        "/p/compose.yaml:5:5",  # model
        "/p/compose.yaml:6:18",  # references
    ]


def test_the_last_file_s_name_key_wins(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "name: base\n" + WEB,
        "/p/compose.override.yaml": "name: override\n",
    }
    assert load(disk, cwd="/p").project.name == "override"


def test_a_tilde_in_a_path_is_the_home_directory(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    build: ~/src\n    volumes: ['~/data:/data']\n"
    }
    web = services_of(load(disk, cwd="/p", environment={"HOME": "/home/u"}))["web"]
    assert web["build"]["context"] == "/home/u/src"
    assert web["volumes"][0]["source"] == "/home/u/data"


def test_an_include_of_several_files_merges_them_as_one_project(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - path: [a/one.yaml, a/two.yaml]\n" + WEB,
        "/p/a/one.yaml": "services:\n  db:\n    image: d\n",
        "/p/a/two.yaml": "services:\n  db:\n    user: u\n",
    }
    db = services_of(load(disk, cwd="/p"))["db"]
    assert (db["image"], db["user"]) == ("d", "u")


def test_a_service_with_no_body_is_an_empty_service(load: Loader) -> None:
    with pytest.raises(ModelError):
        # an empty service has neither image nor build
        load({"/p/compose.yaml": "services:\n  web:\n"}, cwd="/p")


def test_the_project_files_are_read_through_the_given_file_system(memory_files: Any) -> None:
    files = memory_files({"/p/compose.yaml": WEB, "/p/.env": "A=1\n"})
    load_project(LoadOptions(cwd=Path("/p"), environment={}), files)
    assert files.reads == [Path("/p/.env"), Path("/p/compose.yaml")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  a:\n    image: x\n  b:\n    image: [1]\n    profiles: [debug]\n",
            "services.b.image: expected a string, got a list",
        ),
        (
            "services:\n  a:\n    image: x\n    environment: null\n",
            "services.a.environment: expected a mapping",
        ),
        ("services:\n  a:\n    image: x\n    models: [m1]\n", 'refers to undefined model "m1"'),
        (
            "services:\n  a:\n    image: x\n    build:\n      context: .\n      secrets: [nope]\n",
            'refers to undefined secret "nope"',
        ),
        (
            "services:\n  a:\n    image: x\n    secrets: [{target: /x}]\n",
            'refers to undefined secret ""',
        ),
    ],
    ids=[
        "disabled-service-validated",
        "null-environment",
        "undefined-model",
        "undefined-build-secret",
        "secret-without-source",
    ],
)
def test_what_docker_compose_rejects_beyond_the_schema(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as error:
        load_from_text(text)
    assert message in str(error.value)
