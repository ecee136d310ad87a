"""compose.cli: `pycompose config` and `pycompose graph` as a user runs them.

Each test writes a project into a temporary directory, runs the command line
in-process from there (the last test runs the real executable), and checks
stdout, stderr and the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compose.cli import main

STACK = """\
services:
  web:
    image: nginx:${TAG:-1.27}
    depends_on: [db]
    ports: ["80:80"]
    volumes: [data:/data]
  db:
    image: postgres
    profiles: [db]
    networks: [back]
  tool:
    build: ./tool
    profiles: [ops]
volumes:
  data:
networks:
  back:
"""


class Run:
    """The outcome of one command line."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory named ``shop`` as the cwd, with a clean COMPOSE_* environment."""
    directory = tmp_path / "shop"
    directory.mkdir()
    (directory / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(directory)
    for name in list(os.environ):
        if name.startswith("COMPOSE_") or name in ("TAG", "DOCKER_HOST"):
            monkeypatch.delenv(name)
    return directory


@pytest.fixture
def pycompose(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*argv: str) -> Run:
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def test_config_prints_the_normalised_project_as_yaml(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config")
    assert (run.code, run.err) == (0, "")
    assert run.out.startswith("name: shop\nservices:\n  db:\n")
    assert "    image: nginx:1.27\n" in run.out


def test_config_format_json_prints_the_same_project_as_json(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "--format", "json")
    assert run.code == 0
    data = json.loads(run.out)
    assert data["name"] == "shop"
    assert sorted(data["services"]) == ["db", "web"]
    assert data["services"]["web"]["ports"] == [
        {"mode": "ingress", "target": 80, "published": "80", "protocol": "tcp"}
    ]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--services", "db\nweb\n"),
        ("--volumes", "data\n"),
        ("--networks", "back\ndefault\n"),
        ("--images", "postgres\nnginx:1.27\n"),
    ],
)
def test_config_listing_flags_print_one_name_a_line(
    project: Path, pycompose, flag: str, expected: str
) -> None:
    run = pycompose("--profile", "db", "config", flag)
    assert (run.code, run.out, run.err) == (0, expected, "")


def test_config_profiles_lists_every_profile_used(project: Path, pycompose) -> None:
    assert pycompose("--profile", "*", "config", "--profiles").out == "db\nops\n"


def test_config_images_names_build_only_services_after_the_project(
    project: Path, pycompose
) -> None:
    assert "shop-tool\n" in pycompose("--profile", "*", "config", "--images").out


def test_config_hash_prints_a_stable_hash_per_service(project: Path, pycompose) -> None:
    first = pycompose("--profile", "db", "config", "--hash", "*")
    again = pycompose("--profile", "db", "config", "--hash", "db,web")
    assert first.code == 0
    assert first.out == again.out
    names = [line.split()[0] for line in first.out.splitlines()]
    assert names == ["db", "web"]
    assert all(len(line.split()[1]) == 64 for line in first.out.splitlines())


def test_config_hash_of_an_unknown_service_fails(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "--hash", "nope")
    assert (run.code, run.out, run.err) == (1, "", "no such service: nope\n")


def test_config_quiet_only_validates(project: Path, pycompose) -> None:
    assert vars(pycompose("--profile", "db", "config", "-q")) == {"code": 0, "out": "", "err": ""}


def test_config_no_interpolate_keeps_variables_unescaped(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "--no-interpolate")
    assert "    image: nginx:${TAG:-1.27}\n" in run.out


def test_config_escapes_dollars_in_interpolated_output(project: Path, pycompose) -> None:
    (project / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    command: echo $$HOME\n"
    )
    run = pycompose("config", "--format", "json")
    assert json.loads(run.out)["services"]["web"]["command"] == ["echo", "$$HOME"]


def test_config_no_path_resolution_keeps_relative_paths(project: Path, pycompose) -> None:
    run = pycompose("--profile", "*", "config", "--no-path-resolution", "--format", "json")
    assert json.loads(run.out)["services"]["tool"]["build"]["context"] == "./tool"


def test_config_no_normalize_leaves_out_the_defaults(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "--no-normalize", "--format", "json")
    assert "default" not in json.loads(run.out).get("networks", {})


def test_config_output_writes_a_file_instead_of_stdout(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "-o", "out.yaml")
    assert (run.code, run.out) == (0, "")
    assert (project / "out.yaml").read_text().startswith("name: shop\n")


def test_config_with_service_names_keeps_them_and_their_dependencies(
    project: Path, pycompose
) -> None:
    assert pycompose("config", "--services", "web", "db").out == "db\nweb\n"


def test_config_explain_shows_origins(project: Path, pycompose) -> None:
    run = pycompose("--profile", "db", "config", "--explain")
    assert run.code == 0
    assert 'services.web.image = "nginx:1.27"' in run.out
    assert "# compose.yaml:3:12 (${TAG} unset)" in run.out


def test_environment_and_dotenv_feed_interpolation(
    project: Path, pycompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".env").write_text("TAG=from-dotenv\n")
    assert "nginx:from-dotenv" in pycompose("--profile", "db", "config", "--images").out
    monkeypatch.setenv("TAG", "from-shell")
    assert "nginx:from-shell" in pycompose("--profile", "db", "config", "--images").out


def test_global_options_select_files_project_name_and_env_file(project: Path, pycompose) -> None:
    (project / "other.yaml").write_text("services:\n  api:\n    image: api:${V}\n")
    (project / "vars.env").write_text("V=2\n")
    run = pycompose(
        "-f", "other.yaml", "-p", "demo", "--env-file", "vars.env", "config", "--format", "json"
    )
    data = json.loads(run.out)
    assert (data["name"], data["services"]["api"]["image"]) == ("demo", "api:2")


def test_warnings_go_to_stderr(project: Path, pycompose) -> None:
    (project / "compose.yaml").write_text("services:\n  web:\n    image: x:${UNSET}\n")
    run = pycompose("config", "--services")
    assert run.code == 0
    assert run.out == "web\n"
    assert run.err == 'WARN: The "UNSET" variable is not set. Defaulting to a blank string.\n'


# --- errors -----------------------------------------------------------------------------------


def test_an_invalid_stack_fails_with_every_issue_relative_to_the_cwd(
    project: Path, pycompose
) -> None:
    (project / "compose.yaml").write_text(
        "services:\n  web:\n    image: a\n    depends_on: [db]\n    networks: [nonet]\n"
    )
    run = pycompose("config")
    assert (run.code, run.out) == (1, "")
    assert run.err.splitlines() == [
        'compose.yaml:4:18: services.web.depends_on.db: service "web" depends on undefined '
        'service "db"',
        'compose.yaml:5:16: services.web.networks.nonet: service "web" refers to undefined '
        'network "nonet"',
        "    hint: define it under the top-level `networks:` key",
    ]


def test_a_missing_variable_fails_with_its_location(project: Path, pycompose) -> None:
    (project / "compose.yaml").write_text("services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n")
    run = pycompose("config")
    assert run.code == 1
    assert run.err.startswith(
        "compose.yaml:3:12: services.web.image: required variable IMAGE is missing a value: "
        "set IMAGE\n"
    )


def test_no_compose_file_fails_with_a_hint(tmp_path: Path, project: Path, pycompose) -> None:
    os.chdir(tmp_path)
    (project / "compose.yaml").unlink()
    run = pycompose("config")
    assert run.code == 1
    assert run.err.startswith("no configuration file provided")
    assert "hint: run pycompose where your compose.yaml is, or name it with -f" in run.err


def test_an_invalid_project_name_fails(project: Path, pycompose) -> None:
    run = pycompose("-p", "Bad Name", "config")
    assert run.code == 1
    assert run.err.startswith("invalid project name 'Bad Name' (from -p)")


def test_an_unknown_command_is_a_usage_error(project: Path, pycompose) -> None:
    run = pycompose("nosuch")
    assert run.code == 2
    assert "invalid choice: 'nosuch'" in run.err


def test_no_command_prints_help_and_fails(project: Path, pycompose) -> None:
    run = pycompose()
    assert run.code == 2
    assert run.err.startswith("usage: pycompose")


def test_version_prints_the_version(project: Path, pycompose) -> None:
    run = pycompose("version")
    assert run.code == 0
    assert run.out.startswith("pycompose version ")


# --- graph ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "first_line"),
    [("text", "db"), ("mermaid", "graph TD"), ("dot", "digraph services {")],
)
def test_graph_prints_the_dependency_graph(
    project: Path, pycompose, fmt: str, first_line: str
) -> None:
    run = pycompose("--profile", "db", "graph", "--format", fmt)
    assert run.code == 0
    assert run.out.splitlines()[0] == first_line


def test_graph_text_shows_what_each_service_waits_for(project: Path, pycompose) -> None:
    assert pycompose("--profile", "db", "graph").out == "db\nweb <- db (started)\n"


def test_graph_of_a_cycle_fails_with_the_cycle(project: Path, pycompose) -> None:
    (project / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n"
        "  b:\n    image: x\n    depends_on: [a]\n"
    )
    run = pycompose("graph")
    assert run.code == 1
    assert run.err.startswith(
        "compose.yaml:4:17: services.a: dependency cycle detected: a -> b -> a"
    )


# --- the installed command ------------------------------------------------------------------


def test_the_command_runs_as_a_program_with_exit_codes(project: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    command = [sys.executable, "-m", "compose.cli"]
    ok = subprocess.run(
        [*command, "--profile", "db", "config", "--services"],
        capture_output=True, text=True, env=environment, check=False, timeout=60,
    )  # fmt: skip
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "db\nweb\n", "")
    failed = subprocess.run(
        [*command, "config", "-q"],
        capture_output=True, text=True, env=environment, check=False, timeout=60,
    )  # fmt: skip
    assert failed.returncode == 1
    assert 'depends on undefined service "db"' in failed.stderr


def test_compose_file_and_project_directory_come_from_the_environment_and_flags(
    project: Path, pycompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = project / "stack"
    stack.mkdir()
    (stack / "a.yaml").write_text("services:\n  a:\n    image: a\n    build: ./src\n")
    (stack / "b.yaml").write_text("services:\n  b:\n    image: b\n")
    monkeypatch.setenv("COMPOSE_FILE", "stack/a.yaml,stack/b.yaml")
    monkeypatch.setenv("COMPOSE_PATH_SEPARATOR", ",")
    run = pycompose("--project-directory", ".", "config", "--format", "json")
    data = json.loads(run.out)
    assert (data["name"], sorted(data["services"])) == ("shop", ["a", "b"])
    # relative paths are resolved against the project directory, not the file's
    assert data["services"]["a"]["build"]["context"] == str(project / "src")


def test_every_command_the_parser_offers_has_a_handler():
    from compose.cli import COMMANDS, build_parser

    parser = build_parser()
    offered = {
        name
        for action in parser._subparsers._group_actions  # type: ignore[union-attr]
        for name in action.choices
    }
    assert offered == set(COMMANDS)


def test_every_stack_command_has_an_implementation():
    from compose.cli import STACK_COMMAND_NAMES
    from compose.commands import STACK_COMMANDS

    assert set(STACK_COMMAND_NAMES) - {"ls"} == set(STACK_COMMANDS)
