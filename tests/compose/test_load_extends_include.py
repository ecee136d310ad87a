"""compose.load: extends and include, across files.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

import pytest

from compose.errors import ComposeError, ModelError, ProjectError, UndefinedReferenceError
from tests.compose.load_helpers import WEB, Loader, issues_of, services_of

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


def test_an_include_of_several_files_merges_them_as_one_project(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "include:\n  - path: [a/one.yaml, a/two.yaml]\n" + WEB,
        "/p/a/one.yaml": "services:\n  db:\n    image: d\n",
        "/p/a/two.yaml": "services:\n  db:\n    user: u\n",
    }
    db = services_of(load(disk, cwd="/p"))["db"]
    assert (db["image"], db["user"]) == ("d", "u")
