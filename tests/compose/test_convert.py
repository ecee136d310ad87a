"""Service to Engine API bodies, checked against what docker compose sent to dockerd.

The reference (tests/data/reference/captures/compose-up-d.jsonl) recorded docker compose
v2.40.3 creating the `apicap` stack described in the captures' README; the stack
below is that description. The config hash differs by design (pycompose hashes its
own canonical JSON), everything else a container is made from must be equal.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from compose import labels
from compose.convert import container_create, network_create, volume_create
from compose.desired import config_hashes, desired_state
from compose.errors import PlanError
from compose.graph import build_graph
from compose.load_text import load_from_text
from compose.model import Project
from compose.output import config_dict

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "reference" / "captures"

APICAP = """
services:
  db:
    image: busybox:local
    command: ["sh", "-c", "echo ok > /data/index.html && echo db starting && exec httpd -f -v -p 8080 -h /data"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 20
      start_period: 1s
    volumes: [dbdata:/data]
    networks: [backend]
    stop_grace_period: 2s
  web:
    image: busybox:local
    command: ["sh", "-c", "echo web up GREETING=$$GREETING; echo to-stderr >&2; mkdir -p /www; echo hello > /www/index.html; httpd -p 80 -h /www; i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 1; done"]
    environment:
      GREETING: ${GREETING:-hello}
    ports: ["127.0.0.1:${WEB_PORT-18080}:80"]
    depends_on:
      db: {condition: service_healthy}
    networks: [default, backend]
    stop_grace_period: 2s
networks:
  backend: {}
volumes:
  dbdata: {}
"""


def recorded_bodies() -> dict[str, dict[str, Any]]:
    bodies = {}
    for line in (CAPTURES / "compose-up-d.jsonl").read_text().splitlines():
        exchange = json.loads(line)
        if exchange["method"] == "POST" and exchange["path"].endswith("/create"):
            body = exchange["req_body"]["json"]
            bodies[body.get("Name") or exchange["query"]["name"][0]] = body
    return bodies


@pytest.fixture(scope="module")
def apicap() -> tuple[Project, dict[str, Any]]:
    result = load_from_text(
        textwrap.dedent(APICAP), name="apicap", working_dir=Path("/home/user/stack")
    )
    return result.project, config_dict(result.project, escape_dollars=False)


def ours(apicap: tuple[Project, dict[str, Any]], service: str) -> dict[str, Any]:
    project, config = apicap
    request = container_create(
        "apicap",
        service,
        project.services[service],
        1,
        config=config["services"][service],
        network_names={k: v["name"] for k, v in config["networks"].items()},
        volume_names={k: v["name"] for k, v in config["volumes"].items()},
        image_id="sha256:f987475fc50f3421a0ead44cc49037d9644086795bd0b34d8d2c21ac06a56fb2",
        working_dir="/home/user/stack",
        config_files=["/home/user/stack/compose.yaml"],
    )
    return request.body.request_body() | {"_extra": [name for name, _ in request.extra_networks]}


SAME_FIELDS = [
    "Cmd",
    "Env",
    "Image",
    "Healthcheck",
    "StopTimeout",
    "ExposedPorts",
    "Entrypoint",
    "Tty",
    "OpenStdin",
    "User",
    "WorkingDir",
]
SAME_HOST_FIELDS = [
    "Binds",
    "NetworkMode",
    "PortBindings",
    "RestartPolicy",
    "Privileged",
    "ReadonlyRootfs",
    "ExtraHosts",
]
SAME_LABELS = [
    labels.PROJECT,
    labels.SERVICE,
    labels.CONTAINER_NUMBER,
    labels.ONEOFF,
    labels.DEPENDS_ON,
    labels.IMAGE,
    labels.WORKING_DIR,
    labels.CONFIG_FILES,
    labels.VERSION,
]


@pytest.mark.parametrize("service", ["db", "web"])
def test_container_create_body_matches_docker_compose(apicap, service):
    theirs = recorded_bodies()[f"apicap-{service}-1"]
    mine = ours(apicap, service)
    for field in SAME_FIELDS:
        assert mine.get(field) == theirs.get(field), field
    for field in SAME_HOST_FIELDS:
        assert mine["HostConfig"].get(field) == theirs["HostConfig"].get(field), field
    for label in SAME_LABELS:
        assert mine["Labels"].get(label) == theirs["Labels"].get(label), label
    their_endpoints = theirs["NetworkingConfig"]["EndpointsConfig"]
    my_endpoints = mine["NetworkingConfig"]["EndpointsConfig"]
    assert my_endpoints.keys() == their_endpoints.keys()
    for network, endpoint in their_endpoints.items():
        assert my_endpoints[network]["Aliases"] == endpoint["Aliases"]


def test_second_network_is_connected_after_create_like_docker_compose(apicap):
    assert ours(apicap, "web")["_extra"] == ["apicap_default"]
    assert ours(apicap, "db")["_extra"] == []


def test_network_and_volume_bodies_match_docker_compose(apicap):
    _, config = apicap
    recorded = {}
    for line in (CAPTURES / "compose-up-d.jsonl").read_text().splitlines():
        exchange = json.loads(line)
        if exchange["method"] == "POST" and exchange["path"].endswith(
            ("networks/create", "volumes/create")
        ):
            body = exchange["req_body"]["json"]
            recorded[body["Name"]] = body
    for key, spec in config["networks"].items():
        mine = network_create("apicap", key, spec)
        theirs = recorded[spec["name"]]
        assert mine["Internal"] == theirs["Internal"]
        assert mine["Attachable"] == theirs["Attachable"]
        for label in (labels.PROJECT, labels.NETWORK, labels.VERSION):
            assert mine["Labels"][label] == theirs["Labels"][label]
    mine = volume_create("apicap", "dbdata", config["volumes"]["dbdata"])
    theirs = recorded["apicap_dbdata"]
    assert mine["Name"] == theirs["Name"]
    for label in (labels.PROJECT, labels.VOLUME, labels.VERSION):
        assert mine["Labels"][label] == theirs["Labels"][label]


def test_settings_without_a_recording_map_to_the_engine_fields():
    result = load_from_text(
        textwrap.dedent("""
        services:
          app:
            image: app
            environment: {A: "1", UNSET: null}
            mem_limit: 64m
            cpus: 0.5
            restart: on-failure:3
            ulimits: {nofile: {soft: 10, hard: 20}, nproc: 5}
            tmpfs: [/run]
            volumes:
              - {type: tmpfs, target: /cache, tmpfs: {size: 1m}}
              - {type: volume, source: data, target: /data, volume: {nocopy: true}}
            extra_hosts: ["db.local=10.9.9.9"]
            init: true
        volumes: {data: {}}
    """),
        name="p",
    )
    config = config_dict(result.project, escape_dollars=False)
    body = container_create(
        "p",
        "app",
        result.project.services["app"],
        2,
        config=config["services"]["app"],
        network_names={"default": "p_default"},
        volume_names={"data": "p_data"},
    ).body.request_body()
    host = body["HostConfig"]
    assert body["Env"] == ["A=1", "UNSET"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Ulimits"] == [
        {"Name": "nofile", "Soft": 10, "Hard": 20},
        {"Name": "nproc", "Soft": 5, "Hard": 5},
    ]
    assert host["Tmpfs"] == {"/run": ""}
    assert host["Mounts"] == [
        {
            "Type": "tmpfs",
            "Target": "/cache",
            "ReadOnly": False,
            "TmpfsOptions": {"SizeBytes": 1048576},
        },
        {
            "Type": "volume",
            "Target": "/data",
            "ReadOnly": False,
            "Source": "p_data",
            "VolumeOptions": {"NoCopy": True},
        },
    ]
    assert host["ExtraHosts"] == ["db.local:10.9.9.9"]
    assert host["Init"] is True
    assert body["Labels"][labels.CONTAINER_NUMBER] == "2"
    assert body["NetworkingConfig"]["EndpointsConfig"]["p_default"]["Aliases"] == ["p-app-2", "app"]


# `docker compose -p case config --hash web` (v2.40.3) of DOLLAR_STACK: it hashes the
# service with "$" as the container gets it, and escapes <, > and & as Go's json does
DOLLAR_STACK = """
services:
  web:
    image: busybox
    environment:
      PRICE: "$$5 <&> é"
"""
DOCKER_COMPOSE_HASH = "66f656e493b620e5d37a0a688b51a25cdec8c42d641ee770f5b917190fe9fc58"


def test_config_hash_is_the_label_up_writes_and_docker_composes_hash():
    result = load_from_text(textwrap.dedent(DOLLAR_STACK), name="case")
    printed = config_hashes(result.project)["web"]
    desired = desired_state(result.project, build_graph(result.project))
    body = container_create(
        "case",
        "web",
        desired.services["web"].service,
        1,
        config=desired.services["web"].config,
        network_names={"default": "case_default"},
        volume_names={},
    ).body.request_body()
    assert body["Env"] == ["PRICE=$5 <&> é"]
    assert body["Labels"][labels.CONFIG_HASH] == printed == desired.services["web"].config_hash
    assert printed == DOCKER_COMPOSE_HASH


def _typed_body(stack: str) -> Any:
    result = load_from_text(textwrap.dedent(stack), name="p")
    config = config_dict(result.project, escape_dollars=False)
    return container_create(
        "p",
        "app",
        result.project.services["app"],
        1,
        config=config["services"]["app"],
        network_names={"default": "p_default"},
        volume_names={},
    ).body.request_body()


def test_a_setting_the_engine_refuses_is_a_plan_error_naming_the_service():
    with pytest.raises(PlanError, match="service 'app' cannot be created"):
        _typed_body("services:\n  app:\n    image: app\n    restart: sometimes\n")


def test_a_bind_that_must_not_create_its_source_goes_as_a_mount():
    body = _typed_body("""
    services:
      app:
        image: app
        volumes:
          - {type: bind, source: /srv/a, target: /a}
          - {type: bind, source: /srv/b, target: /b, bind: {create_host_path: false}}
    """)
    assert body["HostConfig"]["Binds"] == ["/srv/a:/a:rw"]
    assert body["HostConfig"]["Mounts"] == [
        {
            "Type": "bind",
            "Target": "/b",
            "ReadOnly": False,
            "Source": "/srv/b",
            "BindOptions": {"CreateMountpoint": False},
        }
    ]


def test_deploy_restart_policy_overrides_restart_as_docker_compose_sends_it() -> None:
    from compose.convert_resources import restart_policy
    from compose.load_text import load_from_text

    def policy(deploy: str) -> tuple[str, int]:
        text = f"services:\n  a:\n    image: x\n    restart: always\n    deploy: {deploy}\n"
        found = restart_policy(load_from_text(text).project.services["a"])
        return found.name, found.maximum_retry_count

    # what docker compose 2.40 sent to dockerd (inspected on the reference engine)
    assert policy("{restart_policy: {max_attempts: 2}}") == ("", 2)
    assert policy("{restart_policy: {condition: none}}") == ("no", 0)
    assert policy("{restart_policy: {condition: any}}") == ("always", 0)
    assert policy("{restart_policy: {condition: on-failure, max_attempts: 3}}") == ("on-failure", 3)
    assert policy("{replicas: 1}") == ("always", 0)
