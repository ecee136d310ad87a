"""compose.model: what docker compose accepts is accepted, the rest is a located error."""

from __future__ import annotations

import pytest
from pipeline import project_of

from compose.errors import ModelError
from compose.model import Project, ServiceDependency


def issues_of(text: str) -> list[str]:
    with pytest.raises(ModelError) as error:
        project_of(text)
    return [issue.render() for issue in error.value.issues]


def one_issue(text: str) -> str:
    (issue,) = issues_of(text)
    return issue


def test_the_graph_fields_are_typed() -> None:
    project = project_of(
        """
services:
  web:
    image: nginx
    depends_on: {db: {condition: service_healthy, restart: true}}
    links: [db]
    volumes_from: [db]
    profiles: [web]
  db:
    image: postgres
    network_mode: "service:web"
"""
    )
    assert isinstance(project, Project)
    web, db = project.services["web"], project.services["db"]
    assert web.depends_on["db"] == ServiceDependency(
        condition="service_healthy", required=True, restart=True
    )
    assert web.links == ["db"] and web.volumes_from == ["db"] and web.profiles == ["web"]
    assert db.network_mode == "service:web"
    assert db.networks == {}
    assert web.networks == {"default": None}


def test_lenient_booleans_as_docker_compose_reads_them() -> None:
    service = project_of(
        "services:\n  app:\n    image: x\n    tty: 'yes'\n    init: 'off'\n    read_only: 'True'\n"
    ).services["app"]
    assert (service.tty, service.init, service.read_only) == (True, False, True)


def test_numbers_are_not_booleans() -> None:
    message = one_issue("services:\n  app:\n    image: x\n    tty: '1'\n")
    assert (
        message
        == 'compose.yaml:4:10: services.app.tty: expected a boolean (true or false), got "1"'
    )


def test_unknown_keys_get_a_did_you_mean() -> None:
    message = one_issue("services:\n  app:\n    image: x\n    enviroment: {A: b}\n")
    assert message.startswith("compose.yaml:4:5: services.app.enviroment: unknown key")
    assert 'did you mean "environment"?' in message


def test_unknown_keys_deep_inside_are_located_at_the_key() -> None:
    message = one_issue(
        "services:\n  app:\n    image: x\n    deploy:\n"
        "      resources:\n        impossible: {x: 1}\n"
    )
    assert message.startswith(
        "compose.yaml:6:9: services.app.deploy.resources.impossible: unknown key"
    )


def test_x_extensions_are_accepted_everywhere() -> None:
    project = project_of(
        """
x-top: 1
services:
  app:
    image: x
    x-service: 1
    ports: [{target: 80, x-port: 1}]
    deploy: {x-deploy: 1, resources: {x-res: 1}}
networks:
  n: {x-net: 1}
"""
    )
    assert project.extensions == {"x-top": 1}


def test_type_errors_say_what_was_expected_and_what_was_found() -> None:
    assert one_issue("services:\n  app:\n    image: [a, b]\n") == (
        "compose.yaml:3:12: services.app.image: expected a string, got a list"
    )
    assert one_issue("services:\n  app:\n    image: x\n    user: 1000\n") == (
        "compose.yaml:4:11: services.app.user: expected a string, got 1000"
    )
    assert one_issue("services:\n  app:\n    image: x\n    ports: [{target: abc}]\n") == (
        'compose.yaml:4:22: services.app.ports[0].target: expected an integer, got "abc"'
    )


def test_errors_inside_mappings_and_lists_point_at_the_entry() -> None:
    assert one_issue(
        "services:\n  app:\n    image: x\n    environment:\n      A: [1]\n"
    ).startswith(
        "compose.yaml:5:10: services.app.environment.A: expected a string, a number or a boolean"
    )
    assert one_issue("services:\n  app:\n    image: x\n    command: [echo, 1]\n") == (
        "compose.yaml:4:21: services.app.command[1]: expected a string, got 1"
    )


def test_all_problems_are_reported_together() -> None:
    issues = issues_of(
        "services:\n  a:\n    image: 1\n  b:\n    image: x\n    tty: maybe\n    scale: -1\n"
    )
    assert len(issues) == 3
    assert [issue.split(":")[1] for issue in issues] == ["3", "6", "7"]


def test_a_wrong_shape_is_not_reported_twice_for_each_union_branch() -> None:
    message = one_issue("services:\n  app:\n    image: x\n    ulimits:\n      nofile: {soft: 1}\n")
    assert "services.app.ulimits.nofile.hard: missing required key" in message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("stop_grace_period: forever", 'time: invalid duration "forever"'),
        ("mem_limit: lots", "expected a size such as 512m or 1g"),
        (
            "volumes: [{type: tmpfs, target: /t, tmpfs: {size: -1}}]",
            "must be greater than or equal to 0",
        ),
        ("volumes: [{type: volume, source: data}]", "the mount has no target"),
        ("volumes: [{type: bind, target: /app}]", 'a mount of type "bind" needs a source'),
        ("volumes: [{type: floppy, target: /a}]", "expected one of 'bind', 'volume'"),
        ("ports: [{published: 80}]", "the port has no target"),
        ("depends_on: db", 'expected a mapping, got "db"'),
        ("environment: FOO=1", "expected a mapping (or a list of KEY=VALUE strings)"),
        ("command: {run: server}", "expected a string, a list of strings or null, got a mapping"),
        ("deploy: {replicas: many}", 'expected an integer, got "many"'),
        (
            "deploy: {resources: {reservations: {devices: [{count: some}]}}}",
            "the only value allowed is 'all' or a number",
        ),
        (
            "deploy: {resources: {reservations: {devices: [{count: 1}]}}}",
            "capabilities: missing required key",
        ),
        ("profiles: debug", "expected a list"),
        ("healthcheck: {retries: -1}", "must be greater than or equal to 0"),
        ("cgroup: foo", "expected one of 'host' or 'private'"),
    ],
)
def test_values_docker_compose_rejects(body: str, fragment: str) -> None:
    text = f"services:\n  app:\n    image: x\n    {body}\nvolumes:\n  data: {{}}\n"
    message = " ".join(issues_of(text))
    assert fragment in message
    assert message.startswith("compose.yaml:")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("services:\n  app: {build: .}\n  other: {}\n", "neither an image nor a build context"),
        (
            "services:\n  app: {image: x, scale: 3, deploy: {replicas: 2}}\n",
            "deploy.replicas (2) differ",
        ),
        (
            "services:\n  app: {image: x, container_name: c, scale: 2}\n",
            "container names must be unique",
        ),
        (
            "services:\n  app: {image: x, mem_limit: 1g,"
            " deploy: {resources: {limits: {memory: 2g}}}}\n",
            "mem_limit and deploy.resources.limits.memory",
        ),
        (
            "services:\n  app: {image: x, network_mode: host, networks: [a]}\nnetworks: {a: {}}\n",
            "network_mode and networks",
        ),
        (
            "services:\n  app: {image: x, secrets: [s]}\nsecrets:\n  s: {labels: {a: b}}\n",
            "one of file or environment",
        ),
        (
            "services:\n  app: {image: x, develop: {watch: [{path: ., action: sync}]}}\n",
            'action "sync" needs a target',
        ),
        ("version: 3\nservices: {}\n", "version: expected a string"),
    ],
)
def test_project_rules(text: str, fragment: str) -> None:
    assert fragment in " ".join(issues_of(text))


def test_values_docker_compose_accepts_without_checking() -> None:
    project = project_of(
        """
services:
  web:
    image: "registry.example.com/My Image:latest"
    restart: sometimes
    isolation: bogus
    expose: ["abc", 80]
    ulimits: {nofile: {soft: 5000, hard: 100}}
    environment: {"A B": c}
    networks: {default: {ipv4_address: not-an-ip}}
    ports: [{target: 70000}]
"""
    )
    assert project.services["web"].expose == ["abc", "80"]


def test_octal_file_modes_and_sizes() -> None:
    service = project_of(
        """
services:
  app:
    image: x
    mem_limit: 1.5g
    secrets: [{source: s, mode: 0440}, {source: t, mode: "0400"}]
secrets:
  s: {file: ./s}
  t: {environment: T}
"""
    ).services["app"]
    assert service.mem_limit == 1610612736
    assert [secret.mode for secret in service.secrets or []] == [0o440, 0o400]


def test_unused_resources_are_checked_before_they_are_dropped() -> None:
    message = one_issue("services:\n  app: {image: x}\nvolumes:\n  unused:\n    labels: {a: [1]}\n")
    assert message.startswith("compose.yaml:5:17: volumes.unused.labels.a: expected a string")


def test_configs_take_no_driver_and_secrets_no_content() -> None:
    assert "configs.c.driver: unknown key" in one_issue(
        "services:\n  app: {image: x, configs: [c]}\nconfigs:\n  c: {content: x, driver: y}\n"
    )
    assert "secrets.s.content: unknown key" in one_issue(
        "services:\n  app: {image: x, secrets: [s]}\nsecrets:\n  s: {file: ./s, content: y}\n"
    )


@pytest.mark.parametrize("key", ["cache_from", "cache_to", "tags", "platforms", "ssh"])
def test_build_lists_take_no_single_string(key: str) -> None:
    assert "expected a list" in one_issue(
        f"services:\n  app:\n    build: {{context: ., {key}: x}}\n"
    )


@pytest.mark.parametrize("key", ["image", "environment", "healthcheck", "ports", "tty", "cpus"])
def test_an_explicit_null_is_refused_where_the_specification_allows_none(key: str) -> None:
    message = one_issue(f"services:\n  app:\n    build: .\n    {key}: null\n")
    assert message.startswith("compose.yaml:4:") and f"services.app.{key}: expected" in message
    assert message.endswith("got null")


def test_null_is_accepted_where_the_specification_allows_it() -> None:
    service = project_of(
        "services:\n  app:\n    image: x\n    command: null\n    deploy: null\n    develop: null\n"
    ).services["app"]
    assert service.command is None and service.deploy is None


def test_numbers_typed_number_are_truncated_and_fractional_sizes_ignored() -> None:
    service = project_of(
        "services:\n  app:\n    image: x\n    cpu_shares: 1.5\n    healthcheck: {retries: 2.9}\n"
        "    mem_limit: 1000.5\n"
    ).services["app"]
    assert service.cpu_shares == 1
    assert service.healthcheck is not None and service.healthcheck.retries == 2
    assert service.mem_limit == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("healthcheck: {test: [curl]}", 'test must start with "CMD", "CMD-SHELL" or "NONE"'),
        ("build: {context: ., ssh: [mykey]}", '"default" or "ID=PATH'),
        ("build: {context: ., additional_contexts: [base]}", "expected NAME=CONTEXT"),
        ("build: {context: ., provenance: 1}", "expected a boolean or a string"),
        ("build: {context: ., shm_size: 1.5}", "expected an integer or a size"),
        ("deploy: {resources: {limits: {memory: 1024}}}", "(a string)"),
        ("pull_policy: sometimes", "expected always, never"),
    ],
)
def test_more_values_docker_compose_rejects(body: str, fragment: str) -> None:
    assert fragment in " ".join(issues_of(f"services:\n  app:\n    image: x\n    {body}\n"))


def test_a_long_depends_on_entry_needs_its_condition() -> None:
    message = one_issue(
        "services:\n  app:\n    image: x\n    depends_on:\n      db: {required: true}\n  db: {image: x}\n"
    )
    assert "services.app.depends_on.db.condition: missing required key" in message


def test_secret_and_config_sources_are_mutually_exclusive() -> None:
    message = one_issue(
        "services:\n  app: {image: x, configs: [c]}\nconfigs:\n  c: {file: ./c, content: x}\n"
    )
    assert "file and content cannot be used together" in message


def test_device_requests_default_to_all_devices() -> None:
    service = project_of(
        "services:\n  app:\n    image: x\n    deploy:\n      resources:\n        reservations:\n"
        "          devices: [{capabilities: [gpu], options: [a=b]}]\n"
    ).services["app"]
    assert service.deploy is not None and service.deploy.resources.reservations is not None
    (device,) = service.deploy.resources.reservations.devices or []
    assert device.count == -1 and device.options == {"a": "b"}


def test_empty_keys_are_refused_in_mappings_but_not_in_lists() -> None:
    assert "a key cannot be empty" in one_issue(
        "services:\n  app:\n    image: x\n    labels: {'': x}\n"
    )
    labels = (
        project_of("services:\n  app:\n    image: x\n    labels: ['=x']\n").services["app"].labels
    )
    assert labels == {"": "x"}


def test_a_top_level_section_left_empty_is_an_error() -> None:
    assert "volumes: expected a mapping, got null" in one_issue(
        "services:\n  app: {image: x}\nvolumes:\n"
    )
