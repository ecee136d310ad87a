"""Differences that differential scenarios found, held to docker compose under both engines:
a sidecar in ``network_mode: service:web`` starts once ``web`` exists, and ``ps --services``
lists the services of the running containers, profiles enabled in this call or not."""

from __future__ import annotations

import textwrap

import pytest

from tests.e2e.conftest import IMAGE, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_a_sidecar_in_a_services_network_namespace_starts_after_it(pycompose_stack: Stack):
    # (docker compose creates the sidecar before web runs: pycompose's engine joins the
    # namespace at create, where dockerd waits for start)
    stack = pycompose_stack
    # the sidecar comes first in the file and in the alphabet: only the implied
    # dependency orders it after web
    stack.write(
        textwrap.dedent(f"""
            services:
              a-sidecar:
                image: {IMAGE}
                command: ["sleep", "1000000"]
                network_mode: service:web
                stop_grace_period: 1s
              web:
                image: {IMAGE}
                command: ["sh", "-c", "echo shared > /tmp/i && exec httpd -f -p 8080 -h /tmp"]
                stop_grace_period: 1s
        """)
    )
    stack.pycompose("up", "-d")
    answer = stack.pycompose(
        "exec", "-T", "a-sidecar", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/i"
    )
    assert answer.stdout == "shared\n"


def test_ps_services_lists_running_containers_of_profiles_not_enabled(stack: Stack):
    stack.write(
        textwrap.dedent(f"""
            services:
              base: {{image: {IMAGE}, command: ["sleep", "1000000"], stop_grace_period: 1s}}
              extra:
                image: {IMAGE}
                command: ["sleep", "1000000"]
                profiles: [debug]
                stop_grace_period: 1s
              once: {{image: {IMAGE}, command: ["true"]}}
              never: {{image: {IMAGE}, command: ["true"]}}
        """)
    )
    stack.pycompose("--profile", "debug", "up", "-d", "base", "extra", "once")
    stack.pycompose("wait", "once", check=False)
    assert stack.pycompose("ps", "--services").stdout == "base\nextra\n"
    assert stack.pycompose("ps", "--services", "-a").stdout == "base\nextra\nonce\n"
    stack.pycompose("--profile", "debug", "down", "-t", "1")
