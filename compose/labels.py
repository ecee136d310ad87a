"""The ``com.docker.compose.*`` labels: the only link between engine objects and a project.

docker compose finds its containers, networks and volumes by these labels alone,
so pycompose writes the same ones and reads docker compose's: either tool sees the
other's stacks. The values are computed here, from plain data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONTAINER_NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
IMAGE = "com.docker.compose.image"
DEPENDS_ON = "com.docker.compose.depends_on"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
VERSION = "com.docker.compose.version"
SLUG = "com.docker.compose.slug"
REPLACE = "com.docker.compose.replace"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
# pycompose's own: the service configuration the container was made from, so that a
# plan can say *what* changed ("environment.DEBUG changed"), not only that the hash did
SERVICE_CONFIG = "io.pycompose.service-config"

COMPOSE_VERSION = "2.40.3"  # the docker compose behaviour pycompose follows

# Fields that do not make a container different (docker compose's ServiceHash clears them).
_NOT_HASHED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def hashed_config(service: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a service's config (``config --format json`` shape) that the hash covers."""
    relevant = {key: value for key, value in service.items() if key not in _NOT_HASHED}
    deploy = relevant.get("deploy")
    if isinstance(deploy, dict):
        relevant["deploy"] = {key: value for key, value in deploy.items() if key != "replicas"}
    return relevant


# Go's encoding/json escapes these even with non-ASCII output left as it is
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _digest(data: Any) -> str:
    """SHA-256 of ``data`` encoded as Go's ``json.Marshal`` does (compact, keys in order)."""
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)
    return hashlib.sha256(encoded.encode()).hexdigest()


def service_hash(service: Mapping[str, Any]) -> str:
    """com.docker.compose.config-hash of a service (docker compose's ``ServiceHash``).

    ``service`` is the service as ``config --format json`` prints it, keys in that order,
    but with ``$`` as the container gets it (``config_dict(..., escape_dollars=False)``):
    docker compose hashes its in-memory model, where ``$$`` is already ``$``. The one
    function behind both the label ``up`` writes and ``config --hash``.
    """
    return _digest(hashed_config(service))


def resource_hash(config: Mapping[str, Any]) -> str:
    """com.docker.compose.config-hash of a network or volume."""
    return _digest(dict(config))


def depends_on_value(service: Mapping[str, Any]) -> str:
    """``db:service_healthy:false,cache:service_started:true`` (empty when none)."""
    depends_on = service.get("depends_on") or {}
    parts = []
    for name in sorted(depends_on):
        spec = depends_on[name] or {}
        condition = spec.get("condition", "service_started")
        restart = "true" if spec.get("restart") else "false"
        parts.append(f"{name}:{condition}:{restart}")
    return ",".join(parts)


def is_true(value: str | None) -> bool:
    """docker compose writes booleans as ``True``/``False``."""
    return (value or "").lower() == "true"


def python_bool(value: bool) -> str:
    return "True" if value else "False"
