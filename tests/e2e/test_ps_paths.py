"""``ps`` answers by one raw request (compose.commands.ps_view.quick_ps) when the engine is
up, else through the full client (compose.commands.listing.cmd_ps): both must print the
same bytes, on pycompose's engine and on dockerd, for every flag."""

from __future__ import annotations

import io
import json

import anyio
import pytest

from compose.arguments import build_parser
from compose.cli import _load
from compose.commands import run_stack_command
from compose.commands.docker_format import go_json
from compose.commands.ps_view import quick_ps
from compose.commands.terminal import Terminal
from tests.e2e.conftest import IMAGE, Stack, docker_compose_binary

PROJECT = f"""\
services:
  web:
    image: {IMAGE}
    command: ["sleep", "1000000000"]
    ports: ["127.0.0.1::80", "9999/udp"]
  db:
    image: {IMAGE}
    command: sh -c 'sleep 1000000000 && echo a command longer than the column'
    deploy: {{replicas: 2}}
  done:
    image: {IMAGE}
    command: ["sh", "-c", "exit 3"]
    volumes: ["data:/data", "/tmp:/host-tmp"]
volumes:
  data: {{}}
"""
EXTRA = f"""\
  extra:
    image: {IMAGE}
    command: ["sleep", "1000000000"]
"""

FLAGS = [
    [],
    ["-a"],
    ["-a", "--no-trunc"],
    ["-q"],
    ["-a", "-q", "--no-trunc"],
    ["--services"],
    ["-a", "--services"],
    ["--status", "exited"],
    ["--filter", "status=running"],
    ["--filter", "status=exited"],
    ["-a", "--format", "json"],
    ["--format", "{{.Name}} {{.Service}} {{.State}} {{.Ports}} {{.ExitCode}}", "-a"],
    ["--orphans=false"],
    ["web"],
    ["db", "done", "-a"],
]


def _outputs(stack: Stack, monkeypatch: pytest.MonkeyPatch, flags: list[str]) -> tuple[str, str]:
    args = build_parser().parse_args(["-p", stack.name, "ps", *flags])
    loaded = _load(args, enable_services=tuple(args.services))
    quick, full = io.StringIO(), io.StringIO()
    assert quick_ps(loaded, args, Terminal(out=quick)) == 0  # the engine answered at once
    assert anyio.run(run_stack_command, loaded, args, Terminal(out=full)) == 0
    return quick.getvalue(), full.getvalue()


def test_the_quick_and_the_full_path_print_the_same(
    pycompose_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = pycompose_stack
    stack.write(PROJECT.replace("volumes:\n  data:", EXTRA + "volumes:\n  data:"))
    stack.pycompose("up", "-d")
    stack.write(PROJECT)  # extra-1: an orphan from here on
    monkeypatch.chdir(stack.directory)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    for key, value in stack.engine.environment.items():
        monkeypatch.setenv(key, value)
    for flags in FLAGS:
        # a second's tick between the two ("Up 2 seconds") is the one allowed difference
        for _ in range(3):
            quick, full = _outputs(stack, monkeypatch, flags)
            if "json" in flags:  # dockerd's order of a container's mounts changes per answer
                quick, full = _labels_in_order(quick), _labels_in_order(full)
            if quick == full:
                break
        assert quick == full, flags
        assert quick.strip(), flags


TABLE_FLAGS = [
    [],
    ["-a"],
    ["-a", "--no-trunc"],
    ["-q"],
    ["--services"],
    ["--status", "exited"],
    ["--filter", "status=exited", "-q"],
    ["web"],
    ["-a", "--format", "{{.Name}} {{.Command}} {{.Ports}} {{.RunningFor}} {{.ExitCode}}"],
    ["-a", "--format", "table {{.Name}}\t{{.Command}}\t{{.Status}}\t{{.Ports}}"],
    ["--format", "table {{.ID}}\t{{.Service}}"],
    ["-a", "--format", "json"],
    ["-a", "--no-trunc", "--format", "json"],
    # running containers: none has two mounts, whose order dockerd does not keep
    ["--format", "{{.Mounts}} {{.LocalVolumes}} {{.Networks}} {{.Size}} {{.CreatedAt}}"],
]


def _labels_in_order(text: str) -> str:
    """``--format json`` with each ``Labels`` and ``Mounts`` string's entries sorted: docker
    compose joins labels in Go's (random) map order, and dockerd lists a container's mounts
    in such an order too, another in each answer."""
    lines = []
    for line in text.splitlines():
        record = json.loads(line)
        for key in ("Labels", "Mounts"):
            record[key] = ",".join(sorted(record[key].split(",")))
        lines.append(go_json(record))
    return "\n".join(lines)


def test_ps_prints_what_docker_compose_prints(pycompose_stack: Stack) -> None:
    """The same project on the same engine: pycompose's ps and docker compose's, byte for
    byte (tables, ids, services, templates and --format json, the order of its labels and
    mounts aside)."""
    if docker_compose_binary() is None:
        pytest.skip("docker compose v2 is not installed (scripts/oracle-docker.sh installs it)")
    stack = pycompose_stack
    stack.write(PROJECT)
    stack.pycompose("up", "-d")
    docker = Stack(stack.engine, stack.directory, "docker-compose")
    docker.name = stack.name
    for flags in TABLE_FLAGS:
        for _ in range(3):  # a second's tick between the two is the one allowed difference
            ours = stack.pycompose("ps", *flags).stdout
            theirs = docker.pycompose("ps", *flags).stdout
            if "json" in flags:
                ours, theirs = _labels_in_order(ours), _labels_in_order(theirs)
            if ours == theirs:
                break
        assert ours == theirs, flags
