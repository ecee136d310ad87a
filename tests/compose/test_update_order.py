"""Start-first updates in the plan (pure): pacing by parallelism, failure_action checked,
stop-first where two containers cannot serve side by side."""

from __future__ import annotations

import textwrap

import pytest

from compose.errors import PlanError
from compose.reconcile import ReconcileOptions, reconcile
from tests.compose.test_reconcile import desired, running

WEB = """
services:
  web:
    image: web
    environment: {{V: "{value}"}}
    deploy:
      replicas: 3
      update_config: {{order: start-first, parallelism: {parallelism}, delay: 2s, monitor: 1500ms{extra}}}
"""


def plan_for(parallelism: int, extra: str = ""):
    before = desired(textwrap.dedent(WEB.format(value="1", parallelism=parallelism, extra=extra)))
    after = desired(textwrap.dedent(WEB.format(value="2", parallelism=parallelism, extra=extra)))
    return reconcile(after, running(before), ReconcileOptions())


def test_start_first_recreates_in_batches_of_parallelism() -> None:
    plan = plan_for(2)
    assert plan.render().splitlines() == [
        "#1 recreate container shop-web-1 (environment.V changed; start-first)",
        "#2 recreate container shop-web-2 (environment.V changed; start-first)",
        "#3 recreate container shop-web-3 (environment.V changed; start-first) after #1",
    ]
    updates = [op.details["update"] for op in plan.operations]
    assert [u["batch"] for u in updates] == [0, 0, 1]
    assert updates[0] | {"batch": 0} == {
        "parallelism": 2,
        "delay": 2.0,
        "monitor": 1.5,
        "failure_action": "pause",
        "batch": 0,
    }


def test_parallelism_zero_updates_all_at_once() -> None:
    assert all(not op.after for op in plan_for(0).operations)


def test_an_unknown_failure_action_is_refused() -> None:
    with pytest.raises(PlanError, match="failure_action: 'explode'"):
        plan_for(1, ", failure_action: explode")


def test_host_networking_is_recreated_stop_first_with_a_warning() -> None:
    def stack(value: str) -> str:
        text = WEB.format(value=value, parallelism=1, extra="")
        return textwrap.dedent(
            text.replace("    image: web\n", "    image: web\n    network_mode: host\n")
        )

    plan = reconcile(desired(stack("2")), running(desired(stack("1"))), ReconcileOptions())
    assert "start-first" not in "".join(op.cause for op in plan.operations)
    assert any("network_mode host" in warning for warning in plan.warnings)
    assert all("update" not in op.details for op in plan.operations)
