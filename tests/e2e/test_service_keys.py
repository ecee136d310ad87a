"""Service keys honoured end to end: the effect inside the container and in the engine's record.

Every scenario runs with both CLIs on both engines (the ``stack`` fixture): what docker
compose on dockerd shows is what pycompose on its engine must show. The cgroup files are
read from inside the container (cgroup v1 on this host: ``/sys/fs/cgroup/<controller>/``;
v2: ``/sys/fs/cgroup/``), the HostConfig from ``GET /containers/{id}/json``.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.e2e.cli_helpers import EngineAPI
from tests.e2e.conftest import IMAGE, Stack

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


def _cgroup(stack: Stack, service: str, v1: str, v2: str) -> str:
    """A cgroup file read inside the container: the v1 path, else the v2 one."""
    script = f"cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}"
    return stack.pycompose("exec", "-T", service, "sh", "-c", script).stdout.strip()


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

    read = lambda v1, v2: _cgroup(stack, "limited", v1, v2)  # noqa: E731
    assert read("memory/memory.limit_in_bytes", "memory.max") == str(64 * 1024**2)
    assert read("memory/memory.soft_limit_in_bytes", "memory.low") == str(32 * 1024**2)
    assert read("pids/pids.max", "pids.max") == "42"
    assert read("cpu/cpu.cfs_quota_us", "cpu.max").split()[0] == "25000"
    assert read("cpuset/cpuset.effective_cpus", "cpuset.cpus.effective") == "0"
    assert read("memory/memory.swappiness", "memory.swappiness") == "10"
    v1 = stack.pycompose("exec", "-T", "limited", "ls", "/sys/fs/cgroup").stdout.split()
    if "memory" in v1:  # cgroup v1 (this host); v2 has no per-group OOM-killer switch
        assert "oom_kill_disable 1" in read("memory/memory.oom_control", "-")
        assert "c 1:9 rwm" in read("devices/devices.list", "-").splitlines()
    oom = stack.pycompose("exec", "-T", "limited", "cat", "/proc/self/oom_score_adj")
    assert oom.stdout.strip() == "300"
    hosts = stack.pycompose("exec", "-T", "limited", "cat", "/etc/hosts").stdout
    assert "10.208.0.250\textra.example" in hosts
    # uts: host: the host's name, not the container id
    hostname = stack.pycompose("exec", "-T", "limited", "hostname").stdout.strip()
    assert hostname == socket.gethostname()

    reserved = _host_config(stack, "reserved")
    assert reserved["NanoCpus"] == 500_000_000
    assert reserved["Memory"] == 48 * 1024**2
    assert reserved["MemoryReservation"] == 16 * 1024**2
    assert reserved["PidsLimit"] == 24
    assert reserved["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    quota = _cgroup(stack, "reserved", "cpu/cpu.cfs_quota_us", "cpu.max").split()[0]
    assert quota == "50000"
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
        ("gpus", "all", "device"),
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
    stack.pycompose("stop", "-t", "1")
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
