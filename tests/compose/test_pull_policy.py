"""The pull decision of `pull_policy` (pure): docker compose 2.40's semantics, and the plan
that carries it."""

from __future__ import annotations

import datetime
import textwrap

import pytest

from compose.desired import desired_state
from compose.errors import PlanError
from compose.graph import build_graph
from compose.load_text import load_from_text
from compose.observed import ObservedState
from compose.pull_policy import (
    PullPolicyError,
    effective,
    parse_duration,
    parse_last_tag_time,
    pull_reason,
    refresh_interval,
)
from compose.reconcile import ReconcileOptions, reconcile

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12h", datetime.timedelta(hours=12)),
        ("2d", datetime.timedelta(days=2)),
        ("1w", datetime.timedelta(weeks=1)),
        ("1h30m", datetime.timedelta(minutes=90)),
        ("1s", datetime.timedelta(seconds=1)),
        ("500ms", datetime.timedelta(milliseconds=500)),
        ("1.5h", datetime.timedelta(minutes=90)),
        ("1d2h3m4s", datetime.timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_durations_parse_as_go_str2duration(text: str, expected: datetime.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5m3", "h", "5y", "-1h", "1 h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(PullPolicyError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("policy", "kind", "interval"),
    [
        ("always", "always", None),
        ("never", "never", None),
        ("build", "build", None),
        ("missing", "missing", None),
        ("if_not_present", "missing", None),
        ("refresh", "missing", None),  # compose-go maps the word itself to missing
        ("daily", "refresh", datetime.timedelta(days=1)),
        ("weekly", "refresh", datetime.timedelta(weeks=1)),
        ("every_12h", "refresh", datetime.timedelta(hours=12)),
        ("every_2d", "refresh", datetime.timedelta(days=2)),
    ],
)
def test_policies_map_as_compose_go(
    policy: str, kind: str, interval: datetime.timedelta | None
) -> None:
    assert effective(policy) == kind
    assert refresh_interval(policy) == interval


def test_always_pulls_never_and_build_do_not_even_when_absent() -> None:
    assert pull_reason("always", True, NOW, NOW) == "pull policy always"
    assert pull_reason("never", False, None, NOW) is None
    assert pull_reason("build", False, None, NOW) is None


@pytest.mark.parametrize("policy", ["missing", "if_not_present", "refresh"])
def test_missing_pulls_only_an_absent_image(policy: str) -> None:
    assert pull_reason(policy, False, None, NOW) == "not found"
    assert pull_reason(policy, True, NOW - 1000 * HOUR, NOW) is None


def test_daily_pulls_once_the_day_since_the_last_pull_has_passed() -> None:
    assert pull_reason("daily", True, NOW - 23 * HOUR, NOW) is None
    assert pull_reason("daily", True, NOW - 24 * HOUR, NOW) is None  # strictly after
    reason = pull_reason("daily", True, NOW - 25 * HOUR, NOW)
    assert reason == "pull policy daily: last pulled 2026-12-06 11:00:00 UTC"
    assert pull_reason("daily", False, NOW, NOW) == "not found"


def test_weekly_and_every_use_their_interval() -> None:
    assert pull_reason("weekly", True, NOW - 6 * 24 * HOUR, NOW) is None
    assert pull_reason("weekly", True, NOW - 8 * 24 * HOUR, NOW) is not None
    assert pull_reason("every_12h", True, NOW - 11 * HOUR, NOW) is None
    assert pull_reason("every_12h", True, NOW - 13 * HOUR, NOW) is not None
    second = datetime.timedelta(seconds=1)
    assert pull_reason("every_1s", True, NOW - second, NOW) is None
    assert pull_reason("every_1s", True, NOW - 2 * second, NOW) is not None


def test_an_unknown_last_pull_means_a_pull() -> None:
    reason = pull_reason("daily", True, None, NOW)
    assert reason == "pull policy daily: the engine does not know when it was last pulled"
    assert pull_reason("every_1h", True, NOW, None) is not None  # no clock either


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-07T02:00:00.123456789Z", datetime.datetime(2026, 12, 7, 2, 0, 0, 123456, UTC)),
        ("2026-12-07T02:00:00Z", datetime.datetime(2026, 12, 7, 2, 0, 0, tzinfo=UTC)),
        (
            "2026-12-07T03:00:00.5+01:00",
            datetime.datetime(2026, 12, 7, 2, 0, 0, 500000, UTC),
        ),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: never tagged
        ("", None),
        (None, None),
        ("yesterday", None),
        ("2026-13-45T99:00:00Z", None),
    ],
)
def test_last_tag_time_parses_docker_s_rfc3339(
    value: object, expected: datetime.datetime | None
) -> None:
    assert parse_last_tag_time(value) == expected


def _plan(policy: str, observed: ObservedState) -> str:
    text = f"services:\n  app:\n    image: app\n    pull_policy: {policy}\n"
    result = load_from_text(textwrap.dedent(text), name="shop", environment={})
    state = desired_state(result.project, build_graph(result.project))
    return reconcile(state, observed, ReconcileOptions()).render()


def test_the_plan_pulls_a_stale_image_with_its_reason_and_keeps_a_fresh_one() -> None:
    stale = ObservedState(
        "shop",
        images={"app": "sha256:a"},
        image_pulled={"app": NOW - 25 * HOUR},
        observed_at=NOW,
    )
    assert "pull image app (pull policy daily: last pulled 2026-12-06 11:00:00 UTC)" in _plan(
        "daily", stale
    )
    fresh = ObservedState(
        "shop", images={"app": "sha256:a"}, image_pulled={"app": NOW - HOUR}, observed_at=NOW
    )
    assert "pull image" not in _plan("daily", fresh)
    assert "pull image app (pull policy every_30m" in _plan("every_30m", fresh)
    assert "pull image" not in _plan("refresh", fresh)
    absent = ObservedState("shop", observed_at=NOW)
    assert "pull image app (not found)" in _plan("weekly", absent)


def test_the_plan_refuses_an_every_policy_whose_duration_does_not_parse() -> None:
    observed = ObservedState("shop", images={"app": "sha256:a"}, observed_at=NOW)
    with pytest.raises(PlanError, match="every_5m3"):
        _plan("every_5m3", observed)
