"""Labels through which pycompose asks its engine for what the Docker API has no field for.

Labels keep the API Docker-compatible: a dockerd stores them and does nothing. The engine
validates their values (they come from API clients: hostile) and refuses a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InvalidParameter

ON_UNHEALTHY = "io.pycompose.on-unhealthy"
ON_UNHEALTHY_ACTIONS = ("none", "restart", "stop")


def on_unhealthy(labels: Mapping[str, str] | None) -> str:
    """The action a container's labels ask for when it turns unhealthy (``none`` if unset)."""
    value = (labels or {}).get(ON_UNHEALTHY)
    if value is None or value == "":
        return "none"
    if value not in ON_UNHEALTHY_ACTIONS:
        shown = value[:40].encode("unicode_escape").decode()
        raise InvalidParameter(
            f"label {ON_UNHEALTHY}: invalid value {shown!r}: "
            f"must be one of {', '.join(ON_UNHEALTHY_ACTIONS)}"
        )
    return value
