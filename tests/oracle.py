"""Where the tests find the Docker oracle: PYCOMPOSE_TEST_DOCKER_HOST, else the default socket.

scripts/test.sh starts a private dockerd on a socket of its own (scripts/oracle-docker.sh) and
names it in PYCOMPOSE_TEST_DOCKER_HOST, so that a run never uses, nor is broken by, a Docker
engine that someone else starts and stops. DOCKER_HOST itself is left alone: pycompose's CLI
obeys it, and the tests of pycompose's own engine must not reach Docker by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess

DOCKER_HOST = os.environ.get("PYCOMPOSE_TEST_DOCKER_HOST") or "unix:///var/run/docker.sock"
DOCKER_SOCKET = DOCKER_HOST.removeprefix("unix://")


def docker_environment() -> dict[str, str]:
    """The environment for a ``docker`` CLI that must talk to the oracle."""
    return {**os.environ, "DOCKER_HOST": DOCKER_HOST}


def docker_answers() -> bool:
    """Whether the docker CLI is installed and the oracle answers it."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=30,
            check=False,
            env=docker_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
