"""What only pycompose does (issue 18): restart on unhealthy, ordered restore, wait_for.

Each test drives the ``pycompose`` CLI as a user does and checks the engine's own answers
(inspect, events) over its socket.
"""

from __future__ import annotations

import json
import textwrap
import time
from typing import Any

import pytest

from tests.e2e.cli_helpers import EngineAPI, engine_api
from tests.e2e.conftest import IMAGE, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]


def events(api: EngineAPI, container: str, since: float) -> list[dict[str, Any]]:
    filters = json.dumps({"container": [container]})
    response = api.client.get(
        "/events",
        params={"since": f"{since:.3f}", "until": f"{time.time():.3f}", "filters": filters},
    )
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_a_service_that_turns_unhealthy_is_restarted_and_says_why(own_stack: Stack):
    own_stack.write(
        textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ok; while :; do sleep 0.1; done"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 1s
              retries: 2
            x-pycompose:
              on_unhealthy: restart
    """)
    )
    own_stack.pycompose("up", "-d", "--wait")
    name = f"{own_stack.name}-web-1"
    with engine_api(own_stack.engine) as api:
        before = api.container(name)
        assert before is not None
        assert before["Config"]["Labels"]["io.pycompose.on-unhealthy"] == "restart"
        assert before["RestartCount"] == 0
        since = time.time()
        own_stack.pycompose("exec", "-T", "web", "rm", "/tmp/ok")
        broken = time.monotonic()
        deadline = 1 * 2 + 1  # interval x retries + 1 s
        while True:
            seen = api.container(name)
            assert seen is not None
            if (
                seen["RestartCount"] == 1
                and seen["State"]["StartedAt"] != before["State"]["StartedAt"]
            ):
                break
            elapsed = time.monotonic() - broken
            assert elapsed < deadline, (
                f"not restarted {elapsed:.1f}s after it broke: {seen['State']}"
            )
            time.sleep(0.05)
        assert seen["Id"] == before["Id"]  # the same container, restarted
        actions = [e["Action"] for e in events(api, name, since)]
        print(actions, events(api, name, since))
        unhealthy = actions.index("health_status: unhealthy")
        die = actions.index("die", unhealthy)
        assert "start" in actions[die:], actions
        reasons = [
            e["Actor"]["Attributes"].get("reason")
            for e in events(api, name, since)
            if e["Action"] == "die"
        ]
        assert reasons == ["unhealthy"]
    status = next(c for c in own_stack.ps() if c["Name"] == name)["Status"]
    assert "restarted: unhealthy" in str(status)
    logs = own_stack.pycompose("logs", "web").stdout
    assert "container unhealthy (2 failing checks" in logs and "restarting it" in logs
    # healthy again after the restart (the command made /tmp/ok again)
    with engine_api(own_stack.engine) as api:
        deadline_healthy = time.monotonic() + 30
        while api.state(name).get("Health", {}).get("Status") != "healthy":
            assert time.monotonic() < deadline_healthy, api.state(name)
            time.sleep(0.1)


def test_on_unhealthy_stop_leaves_it_stopped(own_stack: Stack):
    own_stack.write(
        textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "trap 'exit 3' TERM; touch /tmp/ok; while :; do sleep 0.1; done"]
            restart: always
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 1s
              retries: 1
            x-pycompose: {{on_unhealthy: stop}}
    """)
    )
    own_stack.pycompose("up", "-d", "--wait")
    name = f"{own_stack.name}-web-1"
    own_stack.pycompose("exec", "-T", "web", "rm", "/tmp/ok")
    with engine_api(own_stack.engine) as api:
        deadline = time.monotonic() + 10
        while api.state(name)["Status"] != "exited":
            assert time.monotonic() < deadline, api.state(name)
            time.sleep(0.1)
        time.sleep(1)  # restart: always must not bring it back
        state = api.state(name)
        assert state["Status"] == "exited" and state["ExitCode"] == 3
    status = next(c for c in own_stack.ps() if c["Name"] == name)["Status"]
    assert "stopped: unhealthy" in str(status)
