"""compose.load: errors cite the file and place they are in, all issues at once.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

import pytest

from compose.errors import (
    ComposeError,
    DependencyCycleError,
    InterpolationError,
    ModelError,
    UndefinedReferenceError,
    YamlSyntaxError,
)
from compose.load_text import load_from_text
from tests.compose.load_helpers import WEB, Loader, issues_of

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


# --- every phase at once, and beyond the schema ----------------------------------------------


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


def test_a_service_with_no_body_is_an_empty_service(load: Loader) -> None:
    with pytest.raises(ModelError):
        # an empty service has neither image nor build
        load({"/p/compose.yaml": "services:\n  web:\n"}, cwd="/p")


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
