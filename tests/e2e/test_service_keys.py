"""Service keys honoured end to end: the effect inside the container and in the engine's record.

Every scenario runs with both CLIs on both engines (the ``stack`` fixture): what docker
compose on dockerd shows is what pycompose on its engine must show. The cgroup files are
read from inside the container (cgroup v1 on this host: ``/sys/fs/cgroup/<controller>/``;
v2: ``/sys/fs/cgroup/``), the HostConfig from ``GET /containers/{id}/json``.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_helpers import EngineAPI
from tests.e2e.conftest import IMAGE, Stack

pytestmark = pytest.mark.slow  # each scenario runs on both CLIs and both engines

RESOURCES = f"""
services:
  limited:
    image: {IMAGE}
    command: ["sleep", "1000000"]
    mem_limit: 64m
    mem_reservation: 32m
    memswap_limit: 96m
    mem_swappiness: 10
    cpu_shares: 512
    cpu_period: 50000
    cpu_quota: 25000
    cpuset: "0"
    oom_kill_disable: true
    oom_score_adj: 300
    pids_limit: 42
    device_cgroup_rules: ["c 1:9 rwm"]
    uts: host
    annotations:
      org.example.key: a-value
    extra_hosts: ["extra.example:10.208.0.250"]
  reserved:
    image: {IMAGE}
    command: ["sleep", "1000000"]
    deploy:
      resources:
        limits:
          cpus: "0.5"
          memory: 48m
          pids: 24
        reservations:
          memory: 16m
      restart_policy:
        condition: on-failure
        max_attempts: 3
    logging:
      driver: local
      options:
        max-size: 1m
        max-file: "2"
  quiet:
    image: {IMAGE}
    command: ["sh", "-c", "echo not-kept; exec sleep 1000000"]
    logging:
      driver: none
"""


def _inside(stack: Stack, service: str, *paths: str) -> list[str]:
    """Files read inside the container in one exec: one line each ("-" when missing)."""
    script = "; ".join(f"(cat {p} 2>/dev/null || echo -) | tr '\\n' ' '; echo" for p in paths)
    lines = stack.pycompose("exec", "-T", service, "sh", "-c", script).stdout.splitlines()
    assert len(lines) == len(paths), lines
    return [line.strip() for line in lines]


def _host_config(stack: Stack, service: str) -> dict[str, Any]:
    found = EngineAPI(stack.engine.socket).container(f"{stack.name}-{service}-1")
    assert found is not None
    return dict(found["HostConfig"])


def test_resource_keys_reach_the_cgroup_and_the_record(stack: Stack) -> None:
    stack.write(RESOURCES)
    stack.pycompose("up", "-d")
    host = _host_config(stack, "limited")
    assert host["Memory"] == 64 * 1024**2
    assert host["MemoryReservation"] == 32 * 1024**2
    assert host["MemorySwap"] == 96 * 1024**2
    assert host["MemorySwappiness"] == 10
    assert host["CpuShares"] == 512
    assert (host["CpuPeriod"], host["CpuQuota"]) == (50000, 25000)
    assert host["CpusetCpus"] == "0"
    assert host["OomKillDisable"] is True
    assert host["OomScoreAdj"] == 300
    assert host["PidsLimit"] == 42
    assert host["DeviceCgroupRules"] == ["c 1:9 rwm"]
    assert host["UTSMode"] == "host"
    assert host["ExtraHosts"] == ["extra.example:10.208.0.250"]

    cgroup = "/sys/fs/cgroup"
    (
        limit,
        soft,
        pids,
        quota,
        cpus,
        swappiness,
        oom_control,
        devices,
        oom_adj,
        hosts,
        hostname,
    ) = _inside(
        stack,
        "limited",
        f"{cgroup}/memory/memory.limit_in_bytes",
        f"{cgroup}/memory/memory.soft_limit_in_bytes",
        f"{cgroup}/pids/pids.max",
        f"{cgroup}/cpu/cpu.cfs_quota_us",
        f"{cgroup}/cpuset/cpuset.effective_cpus",
        f"{cgroup}/memory/memory.swappiness",
        f"{cgroup}/memory/memory.oom_control",
        f"{cgroup}/devices/devices.list",
        "/proc/self/oom_score_adj",
        "/etc/hosts",
        "/proc/sys/kernel/hostname",
    )
    if Path(f"{cgroup}/memory").is_dir():  # cgroup v1, as on this host
        assert (limit, soft, pids, quota) == (str(64 << 20), str(32 << 20), "42", "25000")
        assert (cpus, swappiness) == ("0", "10")
        assert "oom_kill_disable 1" in oom_control
        assert "c 1:9 rwm" in devices
    assert oom_adj == "300"
    assert "10.208.0.250 extra.example" in hosts.replace("\t", " ")
    assert hostname == socket.gethostname()  # uts: host

    reserved = _host_config(stack, "reserved")
    assert reserved["NanoCpus"] == 500_000_000
    assert reserved["Memory"] == 48 * 1024**2
    assert reserved["MemoryReservation"] == 16 * 1024**2
    assert reserved["PidsLimit"] == 24
    assert reserved["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    (quota,) = _inside(stack, "reserved", f"{cgroup}/cpu/cpu.cfs_quota_us")
    assert quota == "50000" or not Path(f"{cgroup}/memory").is_dir()
    assert reserved["LogConfig"] == {"Type": "local", "Config": {"max-file": "2", "max-size": "1m"}}
    assert _host_config(stack, "quiet")["LogConfig"] == {"Type": "none", "Config": {}}
    api = EngineAPI(stack.engine.socket)
    refused = api.client.get(f"/containers/{stack.name}-quiet-1/logs?stdout=1&stderr=1")
    assert refused.status_code == 501
    assert "does not support reading" in refused.text


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("runtime", "no-such-runtime", "runtime"),
        ("storage_opt", "{size: 1G}", "storage"),
    ],
)
def test_what_the_engine_cannot_do_is_refused_by_name(
    stack: Stack, key: str, value: str, expected: str
) -> None:
    stack.write(f"services:\n  app:\n    image: {IMAGE}\n    {key}: {value}\n")
    result = stack.pycompose("up", "-d", check=False)
    assert result.returncode != 0
    assert expected in result.stderr.lower()
    assert not [c for c in stack.ps() if c.get("State") == "running"]


HOOKS = f"""
services:
  hooked:
    image: {IMAGE}
    command: ["sleep", "1000000"]
    volumes: ["marks:/marks"]
    post_start:
      - command: ["sh", "-c", "echo started-$$GREETING-in-$$(pwd) > /marks/post"]
        environment:
          GREETING: hi
        working_dir: /tmp
    pre_stop:
      - command: ["sh", "-c", "echo stopping-as-$$(id -u) > /marks/pre"]
        user: "0"
volumes:
  marks: {{}}
"""


def test_post_start_and_pre_stop_hooks_run_in_the_container(stack: Stack) -> None:
    stack.write(HOOKS)
    stack.pycompose("up", "-d")
    post = stack.pycompose("exec", "-T", "hooked", "cat", "/marks/post").stdout
    assert post.strip() == "started-hi-in-/tmp"
    # docker compose reads no file for `stop -p NAME` (docker/compose#12476) and so runs no
    # hook: the project is named by the environment instead, as most users do
    command = [word for word in stack.command() if word not in ("-p", stack.name)]
    environment = {**os.environ, **stack.engine.environment, "COMPOSE_PROJECT_NAME": stack.name}
    if stack.tool == "docker-compose":  # as Stack.pycompose reaches the engine
        environment["DOCKER_HOST"] = f"unix://{stack.engine.socket}"
    stopped = subprocess.run(
        [*command, "stop", "-t", "1"],
        cwd=stack.directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert stopped.returncode == 0, stopped.stderr
    stack.pycompose("up", "-d")
    pre = stack.pycompose("exec", "-T", "hooked", "cat", "/marks/pre").stdout
    assert pre.strip() == "stopping-as-0"


def test_a_failing_post_start_hook_fails_up(stack: Stack) -> None:
    stack.write(
        f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        "    post_start:\n      - command: [sh, -c, 'exit 3']\n"
    )
    result = stack.pycompose("up", "-d", check=False)
    assert result.returncode != 0
    assert "3" in result.stderr


def _resolved(stack: Stack, service: str, name: str) -> str:
    """The address ``name`` resolves to inside ``service`` (busybox ping's first line)."""
    out = stack.pycompose("exec", "-T", service, "ping", "-c", "1", "-W", "1", name, check=False)
    first = (out.stdout.splitlines() or [""])[0]
    return first.split("(")[1].split(")")[0] if "(" in first else f"unresolved: {out.stderr}"


def test_links_and_external_links_resolve_in_the_linking_container(stack: Stack) -> None:
    stack.write(
        f"services:\n"
        f"  db:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        f"  web:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        f"    links: ['db:database']\n"
        f"    external_links: ['{stack.name}-db-1:elsewhere']\n"
    )
    stack.pycompose("up", "-d")
    api = EngineAPI(stack.engine.socket)
    db = api.container(f"{stack.name}-db-1")
    assert db is not None
    address = next(iter(db["NetworkSettings"]["Networks"].values()))["IPAddress"]
    for name in ("database", "db-1", f"{stack.name}-db-1", "elsewhere"):
        assert _resolved(stack, "web", name) == address, name
    found = api.container(f"{stack.name}-web-1")
    assert found is not None
    [endpoint] = found["NetworkSettings"]["Networks"].values()
    assert set(endpoint["Links"]) == {
        f"{stack.name}-db-1:{alias}"
        for alias in ("database", "db-1", f"{stack.name}-db-1", "elsewhere")
    }


def test_ipam_aux_addresses_are_kept_from_containers(stack: Stack) -> None:
    # a /24 of the project's pool (10.208.0.0/12), far from where engines allocate first
    third = 16 + random.randrange(0, 8 * 256)
    prefix = f"10.{208 + third // 256}.{third % 256}"
    stack.write(
        f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        f"networks:\n  default:\n    ipam:\n      config:\n"
        f"        - subnet: {prefix}.0/24\n"
        f"          aux_addresses:\n            router: {prefix}.2\n"
    )
    stack.pycompose("up", "-d")
    found = EngineAPI(stack.engine.socket).container(f"{stack.name}-app-1")
    assert found is not None
    [endpoint] = found["NetworkSettings"]["Networks"].values()
    assert endpoint["IPAddress"] == f"{prefix}.3"
