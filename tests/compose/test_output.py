"""compose.output: the project printed exactly as `docker compose config` prints it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pipeline import config_of, project_of, service_of

from compose import canonical, normalize, output, paths
from compose.errors import PycomposeError
from compose.model import validate_project
from compose.source import parse


def test_every_service_prints_command_and_entrypoint_even_when_unset() -> None:
    assert config_of("services:\n  app:\n    image: nginx\n") == {
        "name": "case",
        "services": {
            "app": {
                "command": None,
                "entrypoint": None,
                "image": "nginx",
                "networks": {"default": None},
            }
        },
        "networks": {"default": {"name": "case_default", "ipam": {}}},
    }


def test_an_empty_command_is_printed_as_an_empty_list() -> None:
    assert service_of("services:\n  app:\n    image: x\n    command: []\n")["command"] == []


def test_ports_publish_strings_and_default_mode_and_protocol() -> None:
    ports = service_of("services:\n  app:\n    image: x\n    ports: ['8080:80', 9000]\n")["ports"]
    assert ports == [
        {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"},
        {"mode": "ingress", "target": 9000, "protocol": "tcp"},
    ]


def test_sizes_print_as_byte_strings_and_durations_in_go_format() -> None:
    app = service_of(
        """
services:
  app:
    image: x
    mem_limit: 1.5g
    shm_size: 1gb
    stop_grace_period: 90s
    healthcheck: {test: exit 0, interval: 1m, timeout: 1.5s, start_period: 2h, start_interval: 0s}
    deploy: {restart_policy: {delay: 1m, window: 3600s}}
    volumes: [{type: tmpfs, target: /t, tmpfs: {size: 10000, mode: 0755}}]
"""
    )
    assert app["mem_limit"] == "1610612736"
    assert app["shm_size"] == "1073741824"
    assert app["stop_grace_period"] == "1m30s"
    assert app["healthcheck"] == {
        "test": ["CMD-SHELL", "exit 0"],
        "timeout": "1.5s",
        "interval": "1m0s",
        "start_period": "2h0m0s",
        "start_interval": "0s",
    }
    assert app["deploy"] == {
        "restart_policy": {"delay": "1m0s", "window": "1h0m0s"},
        "resources": {},
        "placement": {},
    }
    assert app["volumes"][0]["tmpfs"] == {"size": "10000", "mode": 493}


def test_file_modes_of_secrets_are_octal_strings() -> None:
    app = service_of(
        "services:\n  app:\n    image: x\n    secrets: [{source: s, mode: 0440}]\n"
        "secrets:\n  s: {file: ./s}\n"
    )
    assert app["secrets"] == [{"source": "s", "target": "/run/secrets/s", "mode": "0440"}]


def test_dollars_are_escaped_in_values_and_keys_but_not_in_names() -> None:
    config = config_of(
        "x-top: $$x\nservices:\n  app:\n    image: x\n    environment: {PRICE: $$5}\n"
        "    labels: {'a$$': b}\n"
    )
    # the tree here is not interpolated, so "$$" reaches the model as it was written
    assert config["services"]["app"]["environment"] == {"PRICE": "$$$$5"}
    assert config["services"]["app"]["labels"] == {"a$$$$": "b"}
    unescaped = output.config_dict(
        project_of("services:\n  app:\n    image: 'a$b'\n"), escape_dollars=False
    )
    assert unescaped["services"]["app"]["image"] == "a$b"


def test_pointer_fields_keep_false_and_zero_others_drop_them() -> None:
    app = service_of(
        "services:\n  app:\n    image: x\n    init: false\n    attach: false\n    tty: false\n"
        "    privileged: false\n    scale: 0\n    cpu_shares: 0\n    deploy: {replicas: 0}\n"
    )
    assert app["init"] is False and app["attach"] is False and app["scale"] == 0
    assert "tty" not in app and "privileged" not in app and "cpu_shares" not in app
    assert app["deploy"]["replicas"] == 0


def test_depends_on_prints_required_always_and_restart_only_when_set() -> None:
    config = config_of(
        "services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_started, required: false}}\n"
        "    links: [cache]\n"
        "  db: {image: x}\n  cache: {image: x}\n"
    )
    assert config["services"]["web"]["depends_on"] == {
        "db": {"condition": "service_started", "required": False},
        "cache": {"condition": "service_started", "restart": True, "required": True},
    }


def test_only_top_level_extensions_are_printed() -> None:
    config = config_of("x-top: {a: 1}\nservices:\n  app:\n    image: x\n    x-inner: 1\n")
    assert config["x-top"] == {"a": 1}
    assert "x-inner" not in config["services"]["app"]


def test_unused_resources_are_dropped_and_used_ones_named() -> None:
    text = """
services:
  app:
    image: x
    volumes: [data:/data]
    networks: [front]
    secrets: [token]
volumes: {data: {}, unused: {}}
networks: {front: {}, back: {}}
secrets: {token: {external: true}, other: {file: ./x}}
"""
    config = config_of(text)
    assert config["volumes"] == {"data": {"name": "case_data"}}
    assert config["networks"] == {"front": {"name": "case_front", "ipam": {}}}
    assert config["secrets"] == {"token": {"name": "token", "external": True}}
    everything = config_of(text, all_resources=True)
    assert set(everything["volumes"]) == {"data", "unused"}


def test_ipam_options_are_not_printed_and_extra_hosts_are_sorted() -> None:
    config = config_of(
        "services:\n  app:\n    image: x\n    networks: [n]\n"
        "    extra_hosts: [b=1.1.1.1, a=2.2.2.2]\n"
        "networks:\n  n: {ipam: {driver: default, options: {a: b}}}\n"
    )
    assert config["networks"]["n"]["ipam"] == {"driver": "default"}
    assert config["services"]["app"]["extra_hosts"] == ["a=2.2.2.2", "b=1.1.1.1"]


def test_blkio_devices_print_with_go_field_names() -> None:
    app = service_of(
        "services:\n  app:\n    image: x\n    blkio_config:\n"
        "      weight_device: [{path: /dev/sda, weight: 400}]\n"
        "      device_read_bps: [{path: /dev/sda, rate: 1024k}]\n"
    )
    assert app["blkio_config"] == {
        "weight_device": [{"Path": "/dev/sda", "Weight": 400}],
        "device_read_bps": [{"Path": "/dev/sda", "Rate": "1048576"}],
    }


def test_yaml_output_starts_with_the_name_and_keeps_compose_order() -> None:
    text = output.config_yaml(
        project_of("services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n")
    )
    assert text == (
        "name: case\n"
        "services:\n"
        "  web:\n"
        "    image: nginx\n"
        "    networks:\n"
        "      default: null\n"
        "    ports:\n"
        "      - mode: ingress\n"
        "        target: 80\n"
        '        published: "8080"\n'
        "        protocol: tcp\n"
        "networks:\n"
        "  default:\n"
        "    name: case_default\n"
    )


def test_yaml_quotes_like_go_yaml_and_prints_extensions_inline() -> None:
    text = output.config_yaml(
        project_of(
            "services:\n  web:\n    image: nginx\n    x-note: kept\n"
            "    environment: {A: 'yes', B: '123', C: 'a: b', D: '', E: \"two\\nlines\"}\n"
        )
    )
    assert '      A: "yes"\n      B: "123"\n      C: \'a: b\'\n      D: ""\n' in text
    assert "      E: |-\n        two\n        lines\n" in text
    assert "    x-note: kept\n" in text


# --- the conformance corpus (single-file cases that need no environment) ---------------

CASES = Path(__file__).resolve().parents[1] / "data" / "conformance" / "cases"


def _simple_cases() -> list[Path]:
    cases = []
    for case in sorted(CASES.iterdir()):
        names = {path.name for path in case.iterdir()}
        if names & {"args", "environ", ".env"} or "compose.yaml" not in names:
            continue
        text = (case / "compose.yaml").read_text()
        if "$" in text or any(
            word in text for word in ("extends", "include", "env_file", "label_file", "profiles")
        ):
            continue
        cases.append(case)
    return cases


def _with_case_dir(value: Any, case_dir: str) -> Any:
    if isinstance(value, dict):
        return {_with_case_dir(k, case_dir): _with_case_dir(v, case_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_case_dir(item, case_dir) for item in value]
    if isinstance(value, str):
        return value.replace(case_dir, "${CASE_DIR}")
    return value


@pytest.mark.parametrize("case", _simple_cases(), ids=lambda case: case.name)
def test_conformance_case(case: Path) -> None:
    def run() -> dict[str, Any]:
        tree = canonical.canonicalize(parse((case / "compose.yaml").read_text(), "compose.yaml"))
        tree = paths.resolve_paths(tree, case, None)
        tree = normalize.normalize(tree, "case")
        return _with_case_dir(output.config_dict(validate_project(tree)), str(case))

    if (case / "expected.json").exists():
        assert run() == json.loads((case / "expected.json").read_text())
    else:
        try:
            run()
        except PycomposeError:
            return
        # cross-file references are checked by compose.load, not by this half of the pipeline
        assert (
            "undefined" in (case / "expected-error.txt").read_text()
            or "cycle" in (case / "expected-error.txt").read_text()
        )
