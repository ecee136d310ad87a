"""``commit SERVICE REPOSITORY[:TAG]``: the reference split as docker's client splits it."""

from __future__ import annotations

import pytest

from compose.commands.project import split_reference
from compose.errors import PlanError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repo", ("repo", "")),
        ("repo:v1", ("repo", "v1")),
        ("localhost:5000/team/repo", ("localhost:5000/team/repo", "")),
        ("localhost:5000/team/repo:v2", ("localhost:5000/team/repo", "v2")),
    ],
)
def test_repository_and_tag(text: str, expected: tuple[str, str]) -> None:
    assert split_reference(text) == expected


def test_a_digest_is_refused() -> None:
    with pytest.raises(PlanError, match="digest reference"):
        split_reference("repo@sha256:" + "0" * 64)
