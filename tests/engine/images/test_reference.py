"""Reference parsing and normalisation, as Docker's distribution/reference does it."""

from __future__ import annotations

import pytest

from engine.images import InvalidReference, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "normalised", "familiar"),
    [
        ("redis", "docker.io/library/redis:latest", "redis:latest"),
        ("redis:7", "docker.io/library/redis:7", "redis:7"),
        ("library/redis", "docker.io/library/redis:latest", "redis:latest"),
        ("docker.io/redis", "docker.io/library/redis:latest", "redis:latest"),
        ("index.docker.io/library/redis", "docker.io/library/redis:latest", "redis:latest"),
        ("user/app:1.0", "docker.io/user/app:1.0", "user/app:1.0"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        (
            "localhost:5000/a/b@" + DIGEST,
            "localhost:5000/a/b@" + DIGEST,
            "localhost:5000/a/b@" + DIGEST,
        ),
        (
            "127.0.0.1:5000/a:t@" + DIGEST,
            "127.0.0.1:5000/a:t@" + DIGEST,
            "127.0.0.1:5000/a:t@" + DIGEST,
        ),
        ("quay.io/org/img:v1.2-rc_3", "quay.io/org/img:v1.2-rc_3", "quay.io/org/img:v1.2-rc_3"),
        (
            "a.b-c.d:1234/x__y/z-1.w",
            "a.b-c.d:1234/x__y/z-1.w:latest",
            "a.b-c.d:1234/x__y/z-1.w:latest",
        ),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
    ],
)
def test_normalisation(text, normalised, familiar):
    ref = parse_reference(text)
    assert str(ref) == normalised
    assert ref.familiar() == familiar


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Redis", "must be lowercase"),
        ("docker.io/Library/redis", "must be lowercase"),
        ("a//b", "repository name"),
        ("-a", "repository name"),
        ("a:", "bad tag"),
        ("a:-x", "bad tag"),
        ("a@sha256:12", "bad digest"),
        ("a@sha256:" + "A" * 64, "64 lower-case hex"),
        ("a" * 64, "64-byte hexadecimal"),
        ("example.com/" + "a" * 260, "255 characters"),
        ("a b", "repository name"),
    ],
)
def test_invalid_references_are_rejected_with_the_reason(text, reason):
    with pytest.raises(InvalidReference, match=reason):
        parse_reference(text)


def test_no_default_tag_with_a_digest_or_when_asked():
    assert parse_reference("redis@" + DIGEST).tag is None
    assert parse_reference("redis", default_tag=False).tag is None
    assert parse_reference("redis:7").object == "7"
    assert parse_reference("redis:7@" + DIGEST).object == DIGEST
