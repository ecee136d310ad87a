"""What a CLI start-up imports: `version`, `--help` and `config` must not pay for what they
do not use (the engine client, the API's models, the YAML parser...)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# runs the console script's code, then writes the names of the modules loaded at exit
RECORD = (
    "import atexit, sys\n"
    "out = sys.argv.pop(1)\n"
    "def record():\n"
    "    with open(out, 'w') as f:\n"
    "        f.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(record)\n"
    "from compose.cli import main\n"
    "sys.argv[0] = 'pycompose'\n"
    "sys.exit(main())\n"
)

ENGINE_CLIENT = ("httpx", "httpcore", "h11", "engine.api.client", "engine.api.models", "anyio")
FOR_VERSION = (
    *ENGINE_CLIENT,
    *("pydantic", "pydantic_core", "ruamel", "compose.load", "rich"),
    "compose.errors",  # and so dataclasses: loaded when something fails
)
FOR_CONFIG = (*ENGINE_CLIENT, "networkx", "rich", "compose.desired", "compose.commands.session")


def imported(tmp_path: Path, *argv: str, cwd: Path | None = None) -> tuple[set[str], str]:
    out = tmp_path / "modules.txt"
    environment = {
        **os.environ,
        # no engine answers there: `version` looks and says so
        "PYCOMPOSE_HOST": f"unix://{tmp_path}/no-engine.sock",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    run = subprocess.run(
        [sys.executable, "-c", RECORD, str(out), *argv],
        cwd=cwd or tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode in (0, 2), run.stderr
    return set(out.read_text().split()), run.stdout + run.stderr


def forbidden(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize(
    "argv", [["version"], ["--version"], ["--help"], ["help"], [], ["version", "--short"]]
)
def test_version_and_help_import_no_client_no_models_no_yaml(
    tmp_path: Path, argv: list[str]
) -> None:
    modules, output = imported(tmp_path, *argv)
    assert "compose.cli" in modules  # the recorder ran the CLI
    assert forbidden(modules, FOR_VERSION) == []
    if argv == ["version"]:
        assert "pycompose version" in output
        assert "engine: not running" in output


def test_config_imports_nothing_of_the_engine_client(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    depends_on: [db]\n  db:\n    image: busybox\n"
    )
    for argv in (["config"], ["config", "--services"], ["config", "--format", "json"]):
        modules, output = imported(tmp_path, *argv)
        assert "compose.load" in modules, output  # it did load the project
        assert forbidden(modules, FOR_CONFIG) == [], argv


def test_an_unused_command_family_is_not_imported(tmp_path: Path) -> None:
    """Parsing makes only the command's parser: `version` loads no command module."""
    modules, _ = imported(tmp_path, "version")
    assert forbidden(modules, ("compose.commands.lifecycle", "compose.kube.cluster")) == []


def test_ps_on_an_answering_engine_imports_nothing_of_the_engine_client(tmp_path: Path) -> None:
    """`ps` asks a running engine with one request of the standard library's."""
    import json
    import socket
    import threading

    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n")
    body = json.dumps(
        [
            {
                "Id": "ab" * 32,
                "Names": ["/demo-web-1"],
                "Image": "busybox",
                "Command": "sleep 1",
                "Labels": {
                    "com.docker.compose.project": "demo",
                    "com.docker.compose.service": "web",
                },
                "State": "running",
                "Status": "Up 2 seconds",
            }
        ]
    ).encode()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "engine.sock"))
    server.listen(1)
    heard: list[bytes] = []

    def serve() -> None:
        with server:
            server.settimeout(60)
            conn, _ = server.accept()
            with conn:
                heard.append(conn.recv(4096))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    thread = threading.Thread(target=serve)
    thread.start()
    out = tmp_path / "modules.txt"
    run = subprocess.run(
        [sys.executable, "-c", RECORD, str(out), "-p", "demo", "ps", "--format", "{{.Name}}"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYCOMPOSE_HOST": f"unix://{tmp_path}/engine.sock",
            "DOCKER_HOST": "",
            "PYCOMPOSE_CLI_SERVER": "0",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    thread.join(timeout=60)
    assert (run.returncode, run.stdout) == (0, "demo-web-1\n"), run.stderr
    assert heard[0].startswith(b"GET /v1.41/containers/json?filters=")
    assert forbidden(set(out.read_text().split()), ENGINE_CLIENT) == []
