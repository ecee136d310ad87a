"""config --variables, --environment and --models: pycompose's output against docker
compose's (config needs no engine, so the oracle's binary runs here directly)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from compose import digests
from compose.cli import LocalFileSystem
from compose.errors import ComposeError
from compose.load import LoadOptions, LoadResult, load_project
from compose.variables import file_variables
from tests.e2e.conftest import docker_compose_binary

PYCOMPOSE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pycompose"
FILE = """\
services:
  web:
    image: ${IMG:-busybox}
    command: ${CMD:?need cmd}
    environment:
      A: ${A}
      B: ${B-x}
      C: ${C:+alt} $$NOT_A_VARIABLE $PLAIN
models:
  llm:
    model: ai/smollm2
"""


def test_variables_in_order_with_defaults_required_and_alternates() -> None:
    found = [(v.name, v.required, v.default, v.alternate) for v in file_variables(FILE)]
    assert found == [
        ("IMG", False, "busybox", ""),
        ("CMD", True, "", ""),
        ("A", False, "", ""),
        ("B", False, "x", ""),
        ("C", False, "", "alt"),
        ("PLAIN", False, "", ""),
    ]


def _run(tool: list[str], directory: Path, *args: str) -> str:
    environment = {"PATH": os.environ["PATH"], "CMD": "1", "LC_CTYPE": "C.UTF-8"}
    done = subprocess.run(
        [*tool, *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.oracle
@pytest.mark.parametrize(
    "args",
    [
        ("config", "--variables"),
        ("config", "--variables", "--format", "json"),
        ("config", "--variables", "--format", "yaml"),
        ("config", "--models"),
        ("config", "--environment"),
    ],
)
def test_config_listings_are_docker_composes(tmp_path: Path, args: tuple[str, ...]) -> None:
    binary = docker_compose_binary()
    if binary is None:
        pytest.skip("docker compose binary of the oracle is not installed")
    (tmp_path / "compose.yaml").write_text(FILE)
    (tmp_path / ".env").write_text("FROM_DOTENV=1\n")
    ours = _run([str(PYCOMPOSE)], tmp_path, *args)
    theirs = _run([binary], tmp_path, *args)
    if "--environment" in args:
        # docker compose adds PWD, which its Go runtime knows; the rest must be the same
        theirs = "".join(line for line in theirs.splitlines(True) if not line.startswith("PWD="))
    if "json" in args:
        assert json.loads(ours) == json.loads(theirs)
    ours_lines = [line.rstrip() for line in ours.splitlines()]
    theirs_lines = [line.rstrip() for line in theirs.splitlines()]
    if args == ("config", "--variables"):
        # docker compose's table comes in Go's random map order: compare the rows as a set
        assert ours_lines[0] == theirs_lines[0]
        assert sorted(ours_lines[1:]) == sorted(theirs_lines[1:])
    else:
        assert ours_lines == theirs_lines


# --- --no-consistency, --no-env-resolution ---------------------------------------------------

INCONSISTENT = """\
services:
  web:
    image: busybox
    environment:
      X: "1"
    networks: [nope]
    volumes: [vol:/data]
    secrets: [s1]
    configs: [c1]
    depends_on: [ghost]
  other:
    image: busybox
    container_name: foo
    network_mode: host
    networks: [nope]
    deploy:
      replicas: 2
  cyclic:
    image: busybox
    depends_on: [cyclic2]
  cyclic2:
    image: busybox
    depends_on: [cyclic]
"""


def _load(directory: Path, text: str, **options: object) -> LoadResult:
    (directory / "compose.yaml").write_text(text)
    return load_project(
        LoadOptions(cwd=directory, environment={}, **options),  # type: ignore[arg-type]
        LocalFileSystem(),
    )


def test_consistency_checks_refuse_undefined_references(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as raised:
        _load(tmp_path, INCONSISTENT)
    text = str(raised.value)
    for expected in ('undefined network "nope"', 'undefined volume "vol"', "container names"):
        assert expected in text


def test_no_consistency_loads_the_project_as_written(tmp_path: Path) -> None:
    result = _load(tmp_path, INCONSISTENT, consistency=False)
    web = result.project.services["web"]
    assert sorted(web.networks or {}) == ["nope"]
    assert [secret.source for secret in web.secrets or []] == ["s1"]
    assert sorted(web.depends_on or {}) == ["ghost"]
    assert result.project.services["other"].container_name == "foo"


def test_no_consistency_still_refuses_what_docker_compose_refuses(tmp_path: Path) -> None:
    # a secret without a source is a loader error in compose-go, not a consistency rule
    with pytest.raises(ComposeError, match="must be set"):
        _load(
            tmp_path,
            "services:\n  a:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {}\n",
            consistency=False,
        )


ENV_FILE = """\
services:
  web:
    image: busybox
    env_file: [a.env, {path: missing.env, required: false}]
    environment:
      X: "1"
      FROMSHELL:
"""


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("text", "args"),
    [
        (INCONSISTENT, ("config", "--no-consistency")),
        (INCONSISTENT, ("config", "--no-consistency", "--format", "json")),
        (ENV_FILE, ("config", "--no-env-resolution")),
        (ENV_FILE, ("config", "--no-env-resolution", "--format", "json")),
    ],
)
def test_consistency_and_env_flags_are_docker_composes(
    tmp_path: Path, text: str, args: tuple[str, ...]
) -> None:
    binary = docker_compose_binary()
    if binary is None:
        pytest.skip("docker compose binary of the oracle is not installed")
    (tmp_path / "compose.yaml").write_text(text)
    (tmp_path / "a.env").write_text("A=from-file\n")
    ours = _run([str(PYCOMPOSE)], tmp_path, *args)
    theirs = _run([binary], tmp_path, *args)
    if "json" in args:
        assert json.loads(ours) == json.loads(theirs)
    else:
        assert ours == theirs
    if "--no-env-resolution" in args:
        assert "from-file" in ours  # docker compose 2.40 resolves env files all the same


def test_no_env_resolution_warns_that_env_files_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(ENV_FILE)
    (tmp_path / "a.env").write_text("A=from-file\n")
    done = subprocess.run(
        [str(PYCOMPOSE), "config", "--no-env-resolution"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--no-env-resolution" in done.stderr and "WARN" in done.stderr
    assert "A: from-file" in done.stdout


# --- --resolve-image-digests, --lock-image-digests: the pure part ----------------------------

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "asked", "printed"),
    [
        (
            "busybox",
            "docker.io/library/busybox:latest",
            f"docker.io/library/busybox:latest@{DIGEST}",
        ),
        ("user/app:1.0", "docker.io/user/app:1.0", f"docker.io/user/app:1.0@{DIGEST}"),
        ("127.0.0.1:5000/t/x:v1", "127.0.0.1:5000/t/x:v1", f"127.0.0.1:5000/t/x:v1@{DIGEST}"),
        ("localhost/x", "localhost/x:latest", f"localhost/x:latest@{DIGEST}"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1", None),
        # an image with a digest keeps it and loses its tag, as docker compose prints it
        (
            f"reg.example:5000/x:v1@{'sha256:' + '1' * 64}",
            None,
            f"reg.example:5000/x@sha256:{'1' * 64}",
        ),
    ],
)
def test_pinned_references_are_docker_composes(
    image: str, asked: str | None, printed: str | None
) -> None:
    assert digests.to_resolve(image) == asked
    if printed is not None:
        assert digests.pinned(image, DIGEST if asked else None) == printed


@pytest.mark.parametrize("image", ["x@sha256:short", "x:bad tag", "reg:5000/"])
def test_bad_references_are_refused(image: str) -> None:
    with pytest.raises(ComposeError, match="invalid image reference"):
        digests.to_resolve(image)


def test_a_registry_answer_without_a_valid_digest_is_refused() -> None:
    with pytest.raises(ComposeError, match="no valid digest"):
        digests.pinned("busybox", "md5:nope")


def test_lock_lists_every_service_with_its_pinned_image_only() -> None:
    assert digests.locked({"b": object(), "a": object()}, {"b": f"x:1@{DIGEST}"}) == {
        "services": {"a": {}, "b": {"image": f"x:1@{DIGEST}"}}
    }
