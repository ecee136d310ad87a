"""Secrets and configs as files: targets, owners, the tar, the read-only paths, the digests
that make a changed content recreate a container, and the edge that reads the contents."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from compose import file_mounts
from compose.desired import desired_state
from compose.errors import PlanError
from compose.file_sources import read_sources
from compose.graph import build_graph
from compose.observed import ObservedContainer, ObservedState
from compose.reconcile import ReconcileOptions, reconcile, recreate_cause
from engine.api.models import ContainerCreate, HostConfig
from tests.compose.pipeline import project_of

STACK = """
services:
  app:
    image: busybox
    secrets:
      - db
      - {source: token, target: nested/token, uid: "7", gid: "8", mode: 0440}
      - {source: abs, target: /etc/abs}
    configs:
      - settings
      - {source: relative, target: etc/app.conf, mode: 0600}
secrets:
  db: {file: ./db.txt}
  token: {environment: TOKEN}
  abs: {environment: TOKEN}
configs:
  settings: {content: "a = 1"}
  relative: {content: "b = 2"}
"""

SOURCES = {
    ("secret", "db"): file_mounts.FileSource("secret", "db", b"pw\n"),
    ("secret", "token"): file_mounts.FileSource("secret", "token", b"tok"),
    ("secret", "abs"): file_mounts.FileSource("secret", "abs", b"tok"),
    ("config", "settings"): file_mounts.FileSource("config", "settings", b"a = 1"),
    ("config", "relative"): file_mounts.FileSource("config", "relative", b"b = 2"),
}


def test_targets_owners_and_modes_follow_docker_compose() -> None:
    files = file_mounts.service_files(project_of(STACK), "app", SOURCES)
    found = {(f.kind, f.key): (f.target, f.uid, f.gid, f.mode) for f in files}
    assert found == {
        ("secret", "db"): ("/run/secrets/db", 0, 0, 0o444),
        ("secret", "token"): ("/run/secrets/nested/token", 7, 8, 0o440),
        ("secret", "abs"): ("/etc/abs", 0, 0, 0o444),
        ("config", "settings"): ("/settings", 0, 0, 0o444),
        ("config", "relative"): ("/etc/app.conf", 0, 0, 0o600),
    }


def test_the_tar_carries_each_file_with_owner_and_mode_and_no_directories() -> None:
    files = file_mounts.service_files(project_of(STACK), "app", SOURCES)
    with tarfile.open(fileobj=io.BytesIO(file_mounts.archive(files))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "run/secrets/db",
            "run/secrets/nested/token",
            "etc/abs",
            "settings",
            "etc/app.conf",
        }
        token = members["run/secrets/nested/token"]
        assert (token.uid, token.gid, token.mode, token.isfile()) == (7, 8, 0o440, True)
        extracted = tar.extractfile(token)
        assert extracted is not None and extracted.read() == b"tok"


def test_the_files_are_added_to_dockers_read_only_paths() -> None:
    files = file_mounts.service_files(project_of(STACK), "app", SOURCES)
    body = file_mounts.with_files(ContainerCreate(image="x", host_config=HostConfig()), files)
    assert body.host_config is not None and body.host_config.readonly_paths is not None
    assert body.host_config.readonly_paths[:5] == list(file_mounts.DEFAULT_READONLY_PATHS)
    assert "/run/secrets/nested/token" in body.host_config.readonly_paths
    assert body.labels is not None and "secret db" in body.labels[file_mounts.FILES_LABEL]
    unconfined = HostConfig(security_opt=["systempaths=unconfined"])
    body = file_mounts.with_files(ContainerCreate(image="x", host_config=unconfined), files)
    assert body.host_config is not None
    assert body.host_config.readonly_paths == [f.target for f in files]
    privileged = HostConfig(privileged=True)
    body = file_mounts.with_files(ContainerCreate(image="x", host_config=privileged), files)
    assert body.host_config is not None and body.host_config.readonly_paths is None


def test_an_external_secret_is_refused_with_docker_composes_message() -> None:
    project = project_of(
        "services: {app: {image: busybox, secrets: [s]}}\nsecrets: {s: {external: true}}"
    )
    with pytest.raises(PlanError, match=r"^unsupported external secret s$"):
        file_mounts.service_files(project, "app", {})
    project = project_of(
        "services: {app: {image: busybox, configs: [c]}}\nconfigs: {c: {external: true}}"
    )
    with pytest.raises(PlanError, match=r"^unsupported external config c$"):
        file_mounts.service_files(project, "app", {})


def test_a_non_numeric_uid_and_a_shared_target_are_refused() -> None:
    project = project_of(
        'services: {app: {image: busybox, secrets: [{source: s, uid: "root"}]}}\n'
        "secrets: {s: {environment: X}}"
    )
    with pytest.raises(PlanError, match="uid 'root' of secret s is not a number"):
        file_mounts.service_files(project, "app", {("secret", "s"): SOURCES[("secret", "db")]})
    project = project_of(
        "services: {app: {image: busybox, secrets: [a, {source: b, target: a}]}}\n"
        "secrets: {a: {environment: X}, b: {environment: X}}"
    )
    sources = {("secret", k): file_mounts.FileSource("secret", k, b"") for k in "ab"}
    with pytest.raises(PlanError, match="have the same target /run/secrets/a"):
        file_mounts.service_files(project, "app", sources)


def test_a_changed_content_is_a_recreate_cause_and_a_problem_stops_the_plan() -> None:
    project = project_of(STACK)
    graph = build_graph(project)
    before = desired_state(project, graph, SOURCES).services["app"]
    label = file_mounts.files_label(before.files)
    container = ObservedContainer(
        "id1",
        "case-app-1",
        "app",
        1,
        "created",
        labels={
            "com.docker.compose.config-hash": before.config_hash,
            file_mounts.FILES_LABEL: label,
        },
    )
    assert recreate_cause(container, before, None, ReconcileOptions()) is None
    rotated = {**SOURCES, ("secret", "token"): file_mounts.FileSource("secret", "token", b"new")}
    after = desired_state(project, graph, rotated).services["app"]
    assert after.config_hash == before.config_hash  # docker compose's hash misses it
    assert recreate_cause(container, after, None, ReconcileOptions()) == (
        "secret token content changed"
    )
    # containers made by docker compose (no pycompose labels) are left alone
    theirs = ObservedContainer(
        "id2",
        "case-app-1",
        "app",
        1,
        "created",
        labels={"com.docker.compose.config-hash": before.config_hash},
    )
    assert recreate_cause(theirs, after, None, ReconcileOptions()) is None
    missing = {**SOURCES, ("secret", "token"): file_mounts.FileSource("secret", "token", None, "x")}
    desired = desired_state(project, graph, missing)
    with pytest.raises(PlanError, match="service app: x"):
        reconcile(desired, ObservedState("case"), ReconcileOptions())


def test_the_edge_reads_files_and_variables_and_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "db.txt").write_bytes(b"pw\n")
    (tmp_path / "big").write_bytes(b"")
    with (tmp_path / "big").open("r+b") as big:
        big.truncate(file_mounts.MAX_CONTENT + 1)
    text = f"""
services:
  app:
    image: busybox
    secrets: [db, token, dir, big, gone]
secrets:
  db: {{file: {tmp_path}/db.txt}}
  token: {{environment: TOKEN}}
  dir: {{file: {tmp_path}}}
  big: {{file: {tmp_path}/big}}
  gone: {{file: {tmp_path}/gone}}
"""
    sources = read_sources(project_of(text), {})
    assert sources[("secret", "db")].content == b"pw\n"
    assert sources[("secret", "token")].problem == (
        'environment variable "TOKEN" required by secret "case_token" is not set'
    )
    assert "is a directory" in (sources[("secret", "dir")].problem or "")
    assert "more than the" in (sources[("secret", "big")].problem or "")
    assert "No such file" in (sources[("secret", "gone")].problem or "")
    assert read_sources(project_of(text), {"TOKEN": "t"})[("secret", "token")].content == b"t"
