"""Labels through which pycompose asks its engine for what the Docker API has no field for.

Labels keep the API Docker-compatible: a dockerd stores them and does nothing. The engine
validates their values (they come from API clients: hostile) and refuses a bad one.
"""

from __future__ import annotations

import re
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


# start-first updates: the new container of a service takes over the old one's published
# ports and service names once it has been ready (running, and healthy if it has a health
# check) for TAKEOVER_AFTER seconds; the engine then reports a container ``update`` event
# whose TOOK_OVER attribute names the old container.
TAKES_OVER = "io.pycompose.takes-over"
TAKEOVER_AFTER = "io.pycompose.takeover-after"
TOOK_OVER = "io.pycompose.took-over"
MAX_TAKEOVER_AFTER = 3600.0
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def takeover(labels: Mapping[str, str] | None) -> tuple[str, float] | None:
    """The container a new one takes over and after how many seconds of readiness, or None.

    Error handling: a malformed reference or delay is InvalidParameter.
    """
    labels = labels or {}
    ref = labels.get(TAKES_OVER)
    if ref is None or ref == "":
        if labels.get(TAKEOVER_AFTER):
            raise InvalidParameter(f"label {TAKEOVER_AFTER} needs {TAKES_OVER}")
        return None
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        shown = str(ref)[:40].encode("unicode_escape").decode()
        raise InvalidParameter(f"label {TAKES_OVER}: invalid container reference {shown!r}")
    raw = labels.get(TAKEOVER_AFTER) or "0"
    try:
        after = float(raw) if len(raw) <= 32 else -1.0
    except ValueError:
        after = -1.0
    if not 0.0 <= after <= MAX_TAKEOVER_AFTER:  # also refuses nan and inf
        shown = raw[:40].encode("unicode_escape").decode()
        raise InvalidParameter(
            f"label {TAKEOVER_AFTER}: {shown!r} is not a number of seconds "
            f"from 0 to {MAX_TAKEOVER_AFTER:g}"
        )
    return ref, after
