"""``deploy.update_config`` for ``up``: whether a recreate is start-first, and its pacing.

Pure. docker compose ignores ``update_config`` outside swarm (every recreate is
stop-first); pycompose honours ``order: start-first`` with swarm's ``parallelism``
(default 1; 0 = all replicas at once), ``delay`` (between batches), ``monitor`` (how long
the new container must stay ready before it takes over; default 0s) and
``failure_action`` (``pause``, the default, ``rollback`` or ``continue``; see
:mod:`compose.rolling`). ``max_failure_ratio`` keeps swarm's meaning only in swarm.
"""

from __future__ import annotations

from typing import Any

from compose import model as models
from compose.errors import PlanError

FAILURE_ACTIONS = ("pause", "rollback", "continue")
NANOS = 1_000_000_000


def start_first(service: models.Service) -> dict[str, Any] | None:
    """The pacing of a start-first update of ``service``, or None for stop-first.

    Error handling: PlanError for a ``failure_action`` swarm does not know.
    """
    deploy = service.deploy
    config = deploy.update_config if deploy is not None else None
    if config is None or config.order != "start-first":
        return None
    action = config.failure_action or "pause"
    if action not in FAILURE_ACTIONS:
        raise PlanError(
            f"deploy.update_config.failure_action: {action!r} is not one of "
            f"{', '.join(FAILURE_ACTIONS)}"
        )
    mode = service.network_mode or ""
    if mode == "host" or mode.startswith(("container:", "service:")):
        return None  # shares one network namespace: two containers cannot both serve
    return {
        "parallelism": 1 if config.parallelism is None else int(config.parallelism),
        "delay": (config.delay or 0) / NANOS,
        "monitor": (config.monitor or 0) / NANOS,
        "failure_action": action,
    }


def why_not(service: models.Service) -> str | None:
    """Why a start-first service is recreated stop-first anyway (for a plan warning)."""
    deploy = service.deploy
    config = deploy.update_config if deploy is not None else None
    if config is None or config.order != "start-first":
        return None
    mode = service.network_mode or ""
    if mode == "host" or mode.startswith(("container:", "service:")):
        return f"network_mode {mode} shares one network namespace: recreated stop-first"
    return None
