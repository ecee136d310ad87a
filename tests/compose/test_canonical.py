"""compose.canonical: every short syntax becomes the long syntax docker compose prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compose.canonical import canonicalize
from compose.errors import ModelError
from compose.paths import resolve_paths
from compose.short_syntax import parse_port, parse_volume
from compose.source import MapNode, parse


def canonical(text: str) -> Any:
    return canonicalize(parse(text, "compose.yaml"))


def service(body: str) -> Any:
    indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    return canonical(f"services:\n  app:\n{indented}")["services"]["app"]


# --- ports -------------------------------------------------------------------------------


def test_a_bare_container_port_is_not_published() -> None:
    assert parse_port("80") == [{"mode": "ingress", "target": 80, "protocol": "tcp"}]


def test_host_ip_host_port_and_protocol() -> None:
    assert parse_port("127.0.0.1:8080:80/udp") == [
        {
            "mode": "ingress",
            "host_ip": "127.0.0.1",
            "target": 80,
            "published": "8080",
            "protocol": "udp",
        }
    ]


def test_ipv6_host_ip_in_brackets() -> None:
    (entry,) = parse_port("[::1]:8080:80")
    assert entry["host_ip"] == "::1"
    assert entry["published"] == "8080"


def test_ranges_expand_to_one_entry_per_port() -> None:
    entries = parse_port("9090-9091:8080-8081")
    assert [(e["published"], e["target"]) for e in entries] == [("9090", 8080), ("9091", 8081)]


def test_a_host_range_for_one_container_port_stays_a_range() -> None:
    assert parse_port("8000-8005:80") == [
        {"mode": "ingress", "target": 80, "published": "8000-8005", "protocol": "tcp"}
    ]


def test_expanded_ports_are_ordered_as_docker_sorts_them() -> None:
    targets = [e["target"] for e in parse_port("9999-10000")]
    assert targets == [10000, 9999]  # "10000/tcp" < "9999/tcp" as strings


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("http:80", "invalid hostPort: http"),
        ("70000:80", "invalid hostPort: 70000"),
        ("abc", "invalid containerPort: abc"),
        ("8000-8002:9000-9001", "invalid ranges"),
        ("80/xyz", "invalid proto: xyz"),
        ("bad.ip:80:80", "invalid IP address"),
    ],
)
def test_malformed_port_specs_say_why(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_port(spec)


def test_ports_list_mixes_short_and_long_and_drops_duplicates() -> None:
    ports = service('ports: ["8080:80", 9000, "8080:80", {target: 81}]')["ports"]
    assert [dict(p) for p in ports] == [
        {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"},
        {"mode": "ingress", "target": 9000, "protocol": "tcp"},
        {"target": 81, "protocol": "tcp", "mode": "ingress"},
    ]


def test_a_bad_port_is_reported_at_its_list_item() -> None:
    with pytest.raises(ModelError) as error:
        service('image: x\nports:\n  - "8080:80"\n  - "http:80"')
    (issue,) = error.value.issues
    assert issue.path == ("services", "app", "ports", 1)
    assert issue.location is not None and (issue.location.line, issue.location.column) == (6, 9)
    assert "invalid hostPort: http" in issue.message


# --- volumes -----------------------------------------------------------------------------


def test_relative_bind_mount_with_options() -> None:
    assert parse_volume("./data:/data:ro,z") == {
        "type": "bind",
        "source": "./data",
        "target": "/data",
        "read_only": True,
        "bind": {"selinux": "z", "create_host_path": True},
    }


def test_named_volume_with_nocopy() -> None:
    assert parse_volume("data:/var/lib/data:nocopy") == {
        "type": "volume",
        "source": "data",
        "target": "/var/lib/data",
        "volume": {"nocopy": True},
    }


def test_anonymous_volume() -> None:
    assert parse_volume("/var/lib/anonymous") == {
        "type": "volume",
        "target": "/var/lib/anonymous",
        "volume": {},
    }


def test_propagation_and_cleaned_target() -> None:
    volume = parse_volume("/abs:/mnt//x/../y:rshared")
    assert volume["target"] == "/mnt/y"
    assert volume["bind"] == {"propagation": "rshared", "create_host_path": True}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "invalid empty volume spec"),
        ("vol::/data", "empty section"),
        ("vol:/data:ro:extra", "too many colons"),
    ],
)
def test_malformed_volume_specs(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_volume(spec)


def test_the_last_mount_on_a_target_wins() -> None:
    volumes = service("volumes: ['./a:/data', './b:/data', 'named:/other']")["volumes"]
    assert [(v["source"], v["target"]) for v in volumes] == [("./b", "/data"), ("named", "/other")]


# --- lists to mappings -------------------------------------------------------------------


def test_environment_list_becomes_a_mapping_and_bare_names_stay_unset() -> None:
    environment = service("environment: [A=1, B=x=y, C, D=]")["environment"]
    assert dict(environment) == {"A": "1", "B": "x=y", "C": None, "D": ""}


def test_labels_list_bare_names_become_empty_strings() -> None:
    assert dict(service("labels: [a=b, c]")["labels"]) == {"a": "b", "c": ""}


def test_a_mapping_inside_an_environment_list_is_an_error() -> None:
    with pytest.raises(ModelError, match='expected a "KEY=VALUE" string, got a mapping'):
        service("environment:\n  - FOO: bar")


def test_depends_on_list_and_partial_mappings_get_defaults() -> None:
    short = service("depends_on: [db]")["depends_on"]
    assert short == {"db": {"condition": "service_started", "required": True}}
    long = service(
        "depends_on: {db: {condition: service_healthy},"
        " cache: {condition: service_started, required: false}}"
    )
    assert long["depends_on"] == {
        "db": {"condition": "service_healthy", "required": True},
        "cache": {"condition": "service_started", "required": False},
    }


def test_networks_list_becomes_a_mapping_of_nulls() -> None:
    assert service("networks: [front, back]")["networks"] == {"front": None, "back": None}


def test_env_file_forms() -> None:
    assert service("env_file: .env")["env_file"] == [{"path": ".env", "required": True}]
    assert service("env_file: [a.env, {path: b.env, required: false}]")["env_file"] == [
        {"path": "a.env", "required": True},
        {"path": "b.env", "required": False},
    ]


# --- scalars to lists and mappings -------------------------------------------------------


def test_command_string_is_split_into_shell_words() -> None:
    app = service("""command: sh -c 'echo "hello world"'""")
    assert app["command"] == ["sh", "-c", 'echo "hello world"']


def test_healthcheck_test_string_runs_in_a_shell() -> None:
    assert service("healthcheck: {test: curl -f localhost}")["healthcheck"]["test"] == [
        "CMD-SHELL",
        "curl -f localhost",
    ]


def test_build_string_is_the_context() -> None:
    assert service("build: ./app")["build"] == {"context": "./app"}
    assert service("build: {dockerfile: X}")["build"]["context"] == "."


def test_secrets_short_names_become_sources() -> None:
    assert service("secrets: [token]")["secrets"] == [{"source": "token"}]


def test_devices_short_syntax() -> None:
    assert service("devices: ['/dev/a:/dev/b', /dev/c]")["devices"] == [
        {"source": "/dev/a", "target": "/dev/b", "permissions": "rwm"},
        {"source": "/dev/c", "target": "/dev/c", "permissions": "rwm"},
    ]


def test_extra_hosts_forms_all_become_name_equals_ip() -> None:
    listed = service("extra_hosts: ['a:1.2.3.4', 'b=::1', 'c=5.6.7.8,9.9.9.9']")["extra_hosts"]
    assert listed == ["a=1.2.3.4", "b=::1", "c=5.6.7.8", "c=9.9.9.9"]
    mapped = service("extra_hosts: {a: 1.2.3.4, b: [::1, ::2]}")["extra_hosts"]
    assert mapped == ["a=1.2.3.4", "b=::1", "b=::2"]


def test_extra_host_without_ip_is_an_error() -> None:
    with pytest.raises(ModelError, match="missing IP: myhost"):
        service("extra_hosts: [myhost]")


def test_dns_string_becomes_a_list() -> None:
    assert service("dns: 8.8.8.8")["dns"] == ["8.8.8.8"]


def test_values_of_the_wrong_type_are_left_for_the_model() -> None:
    app = service("depends_on: db\nenvironment: FOO=1")
    assert app["depends_on"] == "db"
    assert app["environment"] == "FOO=1"


def test_top_level_external_name_moves_to_name() -> None:
    tree = canonical("volumes:\n  data:\n    external:\n      name: real\n")
    assert tree["volumes"]["data"] == {"external": True, "name": "real"}


def test_new_nodes_keep_the_location_of_their_short_syntax() -> None:
    app = service("image: x\nports:\n  - '8080:80'")
    assert isinstance(app["ports"][0], MapNode)
    assert app["ports"][0].loc is not None and app["ports"][0].loc.line == 5


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    with pytest.raises(ModelError) as error:
        service("ports: ['x:1']\nvolumes: ['']\ndevices: ['a:b:c:d']")
    assert len(error.value.issues) == 3


# --- paths -------------------------------------------------------------------------------


def test_relative_paths_become_absolute() -> None:
    tree = canonical(
        """
services:
  app:
    build: {context: ./app, additional_contexts: {base: ../base, img: docker-image://alpine}}
    volumes: ['./data:/data', '~/cache:/cache', 'named:/named']
    env_file: ./app.env
secrets:
  token: {file: ./token.txt}
"""
    )
    tree = resolve_paths(tree, Path("/work/project"), "/home/me")
    app = tree["services"]["app"]
    assert app["build"]["context"] == "/work/project/app"
    assert app["build"]["additional_contexts"] == {
        "base": "/work/base",
        "img": "docker-image://alpine",
    }
    assert [v.get("source") for v in app["volumes"]] == [
        "/work/project/data",
        "/home/me/cache",
        "named",
    ]
    assert app["env_file"][0]["path"] == "/work/project/app.env"
    assert tree["secrets"]["token"]["file"] == "/work/project/token.txt"


def test_remote_build_contexts_are_left_alone() -> None:
    for context in (
        "https://github.com/docker/compose.git#main",
        "git@github.com:docker/compose.git",
    ):
        tree = resolve_paths(
            canonical(f"services:\n  app:\n    build: '{context}'\n"), Path("/p"), None
        )
        assert tree["services"]["app"]["build"]["context"] == context
