"""When a service's image is pulled: a pure function of (policy, last pull time, now).

docker compose 2.40 (compose-go's ``ServiceConfig.GetPullPolicy`` and compose's ``mustPull``):

- ``always``: pull every time; ``never`` and ``build``: never pull;
- ``missing``, ``if_not_present``, and any other word, ``refresh`` included (compose-go
  lists it as a constant but maps the word itself to ``missing``): pull when absent;
- ``daily``, ``weekly``, ``every_<duration>`` (units ``w d h m s ms us ns``, as
  ``go-str2duration``): pull when absent, or when ``now`` is strictly after the time the
  engine last tagged the image (``Metadata.LastTagTime``, set by a pull or a tag) plus the
  interval. An engine that does not know when (Go's zero time) gets a pull.

The engine's record is read at the edge (compose/apply.py ``observe``); here only the
decision, so that it is the same against pycompose's engine and dockerd.
"""

from __future__ import annotations

import datetime
import re

_UNITS = {
    "ns": datetime.timedelta(microseconds=0.001),
    "us": datetime.timedelta(microseconds=1),
    "µs": datetime.timedelta(microseconds=1),
    "ms": datetime.timedelta(milliseconds=1),
    "s": datetime.timedelta(seconds=1),
    "m": datetime.timedelta(minutes=1),
    "h": datetime.timedelta(hours=1),
    "d": datetime.timedelta(days=1),
    "w": datetime.timedelta(weeks=1),
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h|d|w)")
_NAMED = {"daily": datetime.timedelta(days=1), "weekly": datetime.timedelta(weeks=1)}


class PullPolicyError(ValueError):
    """A ``pull_policy`` whose ``every_`` duration does not parse."""


def parse_duration(text: str) -> datetime.timedelta:
    """``1h30m``, ``2d``, ``1w``, ``500ms`` (``go-str2duration``'s syntax, unsigned)."""
    position, total = 0, datetime.timedelta()
    if not text:
        raise PullPolicyError("an empty duration")
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or match.group(1) in ("", "."):
            raise PullPolicyError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total


def refresh_interval(policy: str) -> datetime.timedelta | None:
    """The interval of ``daily``/``weekly``/``every_<duration>``; None for other policies."""
    if policy in _NAMED:
        return _NAMED[policy]
    if policy.startswith("every_"):
        return parse_duration(policy.removeprefix("every_"))
    return None


def effective(policy: str) -> str:
    """The policy as docker compose acts on it: ``always``, ``never``, ``build``,
    ``missing`` or ``refresh`` (a timed policy)."""
    if policy in ("always", "never", "build"):
        return policy
    if policy in _NAMED or policy.startswith("every_"):
        return "refresh"
    return "missing"


def pull_reason(
    policy: str,
    present: bool,
    last_pulled: datetime.datetime | None,
    now: datetime.datetime | None,
) -> str | None:
    """Why the image is pulled now (the plan's reason), or None when it is not.

    ``last_pulled`` is the engine's last tag time of the image (None when it has none);
    ``now`` an aware datetime (None: the observation has no clock, so a timed policy
    pulls, as for an unknown last pull). Raises :class:`PullPolicyError` for a bad ``every_``.
    """
    kind = effective(policy)
    if kind == "always":
        return "pull policy always"
    if kind in ("never", "build"):
        return None
    if not present:
        return "not found"
    if kind == "missing":
        return None
    interval = refresh_interval(policy)
    assert interval is not None
    if last_pulled is None or now is None:
        return f"pull policy {policy}: the engine does not know when it was last pulled"
    if now > last_pulled + interval:
        when = last_pulled.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pull policy {policy}: last pulled {when}"
    return None


def parse_last_tag_time(value: object) -> datetime.datetime | None:
    """An image inspect's ``Metadata.LastTagTime`` (RFC 3339, nanoseconds, ``Z`` or an
    offset); None for Go's zero time, a missing or an unreadable value."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None:
        return None
    fraction = (match.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        parsed = datetime.datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")
    except ValueError:
        return None
    return parsed
