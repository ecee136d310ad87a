"""publish's artifact: docker compose's OCI 1.1 shape (compose/pkg/remote ocipush)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from compose.commands.publish import layers, manifest, split_reference
from compose.errors import PlanError


def test_manifest_has_docker_composes_shape() -> None:
    parts = layers([("compose.yaml", b"services: {}\n")], [(".env", b"A=1\n")])
    body = json.loads(manifest(parts, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)))
    assert body["artifactType"] == "application/vnd.docker.compose.project"
    assert body["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
        "size": 2,
        "data": "e30=",
    }
    file, env = body["layers"]
    assert file["mediaType"] == "application/vnd.docker.compose.file+yaml"
    assert file["digest"] == "sha256:" + hashlib.sha256(b"services: {}\n").hexdigest()
    assert file["annotations"]["com.docker.compose.file"] == "compose.yaml"
    assert env["mediaType"] == "application/vnd.docker.compose.envfile"
    assert body["annotations"] == {"org.opencontainers.image.created": "2025-01-02T03:04:05Z"}


def test_references() -> None:
    assert split_reference("127.0.0.1:5000/team/app:v1") == ("127.0.0.1:5000", "team/app", "v1")
    assert split_reference("localhost/app") == ("localhost", "app", "latest")
    assert split_reference("user/app:2") == ("registry-1.docker.io", "user/app", "2")
    with pytest.raises(PlanError):
        split_reference("127.0.0.1:5000/Bad Name")
