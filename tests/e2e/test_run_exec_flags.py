"""The flags of `run`, `exec`, `logs` and `events` (issue 13), each seen where it acts: inside
the container (what the process prints) or in the engine's record (its inspect), read
through the engine's own API. The stacks are driven by pycompose's CLI; the run-flag scenario
runs against dockerd too, where docker compose's conversion is the reference.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import (
    EngineAPI,
    RunningCommand,
    engine_api,
    environment,
    pycompose_project,
    wait_for,
)
from tests.e2e.conftest import IMAGE, Engine, Stack, docker_compose_binary

pytestmark = [pytest.mark.root, pytest.mark.slow]

ONLY_OURS = pytest.mark.parametrize("engine", ["pycompose"], indirect=True)

SERVICES = textwrap.dedent(f"""
    services:
      svc:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        ports: ["80"]
        networks:
          default:
            aliases: [svc-alias]
        depends_on: [dep]
      dep:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        volumes: ["data:/x"]
    volumes:
      data: {{}}
""")

CAP_NET_ADMIN, CAP_CHOWN = 1 << 12, 1 << 0


@pytest.fixture
def api(engine: Engine) -> Iterator[EngineAPI]:
    with engine_api(engine) as client:
        yield client


@pytest.fixture
def project(engine: Engine, tmp_path: Path, api: EngineAPI) -> Iterator[Stack]:
    with pycompose_project(engine, tmp_path, api) as stack:
        yield stack


def remove(api: EngineAPI, name: str) -> None:
    api.client.delete(f"/containers/{name}", params={"force": "1"})


def test_run_flags_reach_the_container_and_the_engine_record(project: Stack, api: EngineAPI):
    project.write(SERVICES)
    (project.directory / "hostdir").mkdir()
    (project.directory / "hostdir" / "f").write_text("from-the-host\n")
    one, two = f"{project.name}-one", f"{project.name}-two"
    script = (
        "echo X=$X; id -u; pwd; grep CapEff /proc/self/status; cat /hostdir/f; "
        "grep -c ' /data ' /proc/mounts"
    )
    try:
        ran = project.pycompose(
            "run", "--name", one, "-T", "--no-deps", "-e", "X=from-e", "-w", "/tmp",
            "-l", "run.label=yes", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
            "-P", "--use-aliases", "-v", "./hostdir:/hostdir", "-v", "data:/data",
            "--entrypoint", "sh", "svc", "-c", script,
        )  # fmt: skip
        lines = ran.stdout.splitlines()
        assert lines[:3] == ["X=from-e", "0", "/tmp"], ran.stdout
        effective = int(lines[3].split()[1], 16)
        assert effective & CAP_NET_ADMIN and not effective & CAP_CHOWN, lines[3]
        assert lines[4:] == ["from-the-host", "1"], ran.stdout
        record = api.container(one)
        assert record is not None
        assert record["Config"]["Labels"]["run.label"] == "yes"
        assert record["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
        assert "NET_ADMIN" in record["HostConfig"]["CapAdd"]
        assert "CHOWN" in record["HostConfig"]["CapDrop"]
        assert record["Config"]["Entrypoint"] == ["sh"]
        assert record["Config"]["WorkingDir"] == "/tmp"
        mounts = {m["Destination"]: m for m in record["Mounts"]}
        # a relative host path against the project directory; the file's volume as it defines it
        assert mounts["/hostdir"]["Source"] == str(project.directory / "hostdir")
        assert mounts["/data"]["Name"] == f"{project.name}_data"
        assert "80/tcp" in record["HostConfig"]["PortBindings"]  # -P: the service's ports
        aliases = record["NetworkSettings"]["Networks"][f"{project.name}_default"]["Aliases"]
        assert {"svc", "svc-alias"} <= set(aliases)  # --use-aliases
        # --no-deps: dep was not started
        assert api.container(f"{project.name}-dep-1") is None

        project.pycompose("run", "-d", "--name", two, "-u", "1000", "-p", "127.0.0.1::80", "svc")
        record = api.container(two)
        assert record is not None
        assert record["Config"]["User"] == "1000"
        assert record["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
        aliases = record["NetworkSettings"]["Networks"][f"{project.name}_default"]["Aliases"]
        assert "svc" not in aliases and "svc-alias" not in aliases  # a one-off, no aliases
        assert api.state(f"{project.name}-dep-1")["Running"]  # its dependency, started
    finally:
        remove(api, one)
        remove(api, two)


@ONLY_OURS
def test_run_builds_pulls_and_removes_orphans_when_asked(project: Stack, api: EngineAPI):
    (project.directory / "app").mkdir()
    dockerfile = project.directory / "app" / "Dockerfile"
    dockerfile.write_text(f"FROM {IMAGE}\nRUN echo v1 > /version\n")
    built = f"e2e-run-build-{project.name}:latest"
    project.write(
        textwrap.dedent(f"""
        services:
          app:
            build: ./app
            image: {built}
            command: ["cat", "/version"]
          old:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
    """)
    )
    try:
        assert project.pycompose("run", "--rm", "app").stdout == "v1\n"
        dockerfile.write_text(f"FROM {IMAGE}\nRUN echo v2 > /version\n")
        # without --build the image there is used; with it, it is built again
        assert project.pycompose("run", "--rm", "app").stdout == "v1\n"
        assert project.pycompose("run", "--rm", "--build", "app").stdout == "v2\n"

        project.pycompose("up", "-d", "old")
        text = (project.directory / "compose.yaml").read_text()
        project.write(text.split("  old:")[0])  # old's container is an orphan now
        warned = project.pycompose("run", "--rm", "app")
        assert "orphan" in warned.stderr and f"{project.name}-old-1" in warned.stderr
        assert api.container(f"{project.name}-old-1") is not None
        project.pycompose("run", "--rm", "--remove-orphans", "app")
        assert api.container(f"{project.name}-old-1") is None

        # --pull never: a missing image is an error naming it, and nothing is made
        project.write(
            f"services:\n  app:\n    image: e2e-absent-{project.name}:v1\n    command: [x]\n"
        )
        refused = project.pycompose("run", "--rm", "--pull", "never", "app", check=False)
        assert refused.returncode != 0
        assert f"e2e-absent-{project.name}:v1" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        api.remove_image(built)


@ONLY_OURS
def test_run_input_with_and_without_interactive(project: Stack):
    project.write(f"services:\n  svc:\n    image: {IMAGE}\n")
    piped = project.engine.run(
        "-p", project.name, "run", "--rm", "-T", "svc", "cat",
        cwd=project.directory, input="a\nb\n",
    )  # fmt: skip
    assert piped.stdout == "a\nb\n"
    closed = project.engine.run(
        "-p", project.name, "run", "--rm", "-T", "--no-interactive", "svc", "sh", "-c",
        "cat; echo end", cwd=project.directory, input="never-read\n",
    )  # fmt: skip
    assert closed.stdout == "end\n"


@ONLY_OURS
def test_exec_flags(project: Stack, api: EngineAPI):
    project.write(
        textwrap.dedent(f"""
        services:
          svc:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
            scale: 2
    """)
    )
    project.pycompose("up", "-d")
    started = time.monotonic()
    project.pycompose("exec", "-d", "svc", "sh", "-c", "sleep 20; touch /tmp/late")
    detached_in = time.monotonic() - started
    # exec -d returns while the process runs on
    assert detached_in < 15, detached_in
    processes = project.pycompose("exec", "-T", "svc", "ps", "-o", "args").stdout
    assert "sleep 20" in processes, processes
    assert "late" not in project.pycompose("exec", "-T", "svc", "ls", "/tmp").stdout

    shown = project.pycompose(
        "exec", "-T", "-e", "X=from-e", "-u", "1000", "-w", "/tmp", "--index", "2", "svc",
        "sh", "-c", "echo $X; id -u; pwd; hostname",
    )  # fmt: skip
    second = api.container(f"{project.name}-svc-2")
    assert second is not None
    assert shown.stdout.splitlines() == ["from-e", "1000", "/tmp", second["Config"]["Hostname"]]
    plain = project.pycompose("exec", "-T", "svc", "grep", "CapEff", "/proc/self/status")
    privileged = project.pycompose(
        "exec", "-T", "--privileged", "svc", "grep", "CapEff", "/proc/self/status", check=False
    )
    if host_bounding_set() == (1 << (int(LAST_CAP.read_text()) + 1)) - 1:
        assert int(privileged.stdout.split()[1], 16) > int(plain.stdout.split()[1], 16)
    else:
        # every capability is asked for, more than this host's own bounding set holds:
        # runc refuses, as it does under dockerd here
        assert privileged.returncode == 126, privileged
        assert "unable to apply caps" in privileged.stdout


LAST_CAP = Path("/proc/sys/kernel/cap_last_cap")


def host_bounding_set() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapBnd in /proc/self/status")


def _interrupted(stack: Stack, command: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = subprocess.Popen(
        command,
        cwd=stack.directory,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends the foreground process
        out, _ = process.communicate(timeout=60)
        return process.returncode, out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@ONLY_OURS
def test_ctrl_c_during_exec_without_a_tty_ends_the_client_as_docker_compose(
    project: Stack, api: EngineAPI
):
    """docker compose 2.40 on dockerd: exit 130, the process in the container runs on (no
    signal is forwarded to an exec without a TTY); pycompose does the same."""
    project.write(
        f"services:\n  svc:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        "    stop_grace_period: 1s\n"
    )
    project.pycompose("up", "-d")
    script = "trap 'echo got-int; exit 7' INT; echo started; while true; do sleep 1; done"
    code, out = _interrupted(
        project, [*project.command(), "exec", "-T", "svc", "sh", "-c", script], environment(project)
    )
    assert code == 130 and "got-int" not in out
    processes = project.pycompose("exec", "-T", "svc", "ps", "-o", "args").stdout
    assert "trap" in processes, processes


@pytest.mark.parametrize("engine", ["docker"], indirect=True)
def test_ctrl_c_during_exec_without_a_tty_reference(engine: Engine, tmp_path: Path) -> None:
    """The same with docker compose on dockerd (the oracle's answer)."""
    if docker_compose_binary() is None:
        pytest.skip("docker compose v2 is not installed (scripts/oracle-docker.sh installs it)")
    stack = Stack(engine, tmp_path, "docker-compose")
    stack.write(f"services:\n  svc:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n")
    try:
        stack.pycompose("up", "-d")
        script = "trap 'echo got-int; exit 7' INT; echo started; while true; do sleep 1; done"
        env = {**environment(stack), "DOCKER_HOST": f"unix://{engine.socket}"}
        code, out = _interrupted(
            stack, [*stack.command(), "exec", "-T", "svc", "sh", "-c", script], env
        )
        assert code == 130 and "got-int" not in out
        processes = stack.pycompose("exec", "-T", "svc", "ps", "-o", "args").stdout
        assert "trap" in processes, processes
    finally:
        stack.pycompose("down", "-t", "0", check=False)


@ONLY_OURS
def test_logs_flags(project: Stack):
    project.write(
        textwrap.dedent(f"""
        services:
          svc:
            image: {IMAGE}
            command: ["sh", "-c", "echo line-from-$$HOSTNAME; exec sleep 1000000"]
            stop_grace_period: 1s
            scale: 2
    """)
    )
    project.pycompose("up", "-d")
    wait_for(
        lambda: project.pycompose("logs", "--no-log-prefix").stdout.count("line-from-"),
        lambda count: count == 2,
        "both replicas' lines",
    )
    second = project.pycompose("logs", "--index", "2", "svc").stdout.splitlines()
    assert len(second) == 1 and second[0].startswith("svc-2 | line-from-"), second
    bare = project.pycompose("logs", "--no-log-prefix", "--index", "1", "svc").stdout
    assert bare.startswith("line-from-") and "|" not in bare
    stamped = project.pycompose("logs", "-t", "--no-log-prefix", "--index", "1", "svc").stdout
    moment, _, text = stamped.strip().partition(" ")
    assert text.startswith("line-from-")
    assert abs(datetime.fromisoformat(moment).timestamp() - time.time()) < 600, moment

    def with_colors(*flags: str) -> str:  # (the stacks' runs set NO_COLOR)
        return project.engine.run(
            "-p", project.name, "--ansi", "always", "logs", *flags, "--index", "1", "svc",
            cwd=project.directory, env={"NO_COLOR": ""},
        ).stdout  # fmt: skip

    assert "\x1b[" in with_colors()
    plain = with_colors("--no-color")
    assert "\x1b[" not in plain and "svc-1 | line-from-" in plain


@ONLY_OURS
def test_events_since_until_and_json(project: Stack):
    project.write(
        f"services:\n  svc:\n    image: {IMAGE}\n    command: [sleep, '1000000']\n"
        "    stop_grace_period: 1s\n"
    )
    before = time.time()
    project.pycompose("up", "-d")
    after = time.time() + 0.001
    time.sleep(1.1)
    project.pycompose("restart", "svc")

    def actions(*flags: str) -> list[str]:
        out = project.pycompose("events", "--json", *flags, timeout=60).stdout
        return [json.loads(line)["action"] for line in out.splitlines()]

    # a bounded window of the history: --until ends the stream
    first = actions("--since", f"{before:.3f}", "--until", f"{after:.3f}")
    assert "create" in first and "start" in first and "restart" not in first, first
    # an RFC 3339 time and a duration give the same history
    since_text = datetime.fromtimestamp(before, UTC).isoformat()
    assert actions("--since", since_text, "--until", f"{after:.3f}") == first
    later = actions("--since", "1m", "--until", "0s")
    assert "create" in later and later.count("start") >= 2, later  # up and restart
    record = json.loads(
        project.pycompose(
            "events", "--json", "--since", f"{before:.3f}", "--until", "0s"
        ).stdout.splitlines()[0]
    )
    assert record["service"] == "svc" and record["type"] == "container" and record["id"]
    # live events still come without --until
    watching = RunningCommand(project, "events", "--json", "--since", "0s")
    try:
        time.sleep(2)
        project.pycompose("stop", "svc")
        watching.wait_for_lines(
            lambda lines: any(json.loads(line)["action"] == "stop" for line in lines),
            "a live stop event",
        )
    finally:
        watching.stop()


@ONLY_OURS
def test_run_env_from_file_quiet_and_up_menu(project: Stack):
    """`run --env-from-file` reads an env file before -e; `-q`/`--quiet-build` hide the
    preparation's progress but not the command's output; `exec --no-tty` is -T; `up --menu`
    is refused by name (pycompose has no interactive shortcuts) and `--menu=false` is not."""
    project.write(f"services:\n  svc:\n    image: {IMAGE}\n    command: [sleep, '1000']\n")
    (project.directory / "extra.env").write_text("FROM_FILE=file\nBOTH=file\n")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return project.engine.run("-p", project.name, *args, cwd=project.directory, check=check)

    shown = run(
        "run", "--rm", "-T", "--env-from-file", "extra.env", "-e", "BOTH=flag", "svc",
        "sh", "-c", 'echo "$FROM_FILE $BOTH"',
    )  # fmt: skip
    assert shown.stdout == "file flag\n"
    assert "Created" in shown.stderr  # the network is made: its progress is shown
    quiet = run("run", "--rm", "-T", "-q", "svc", "echo", "still printed")
    assert quiet.stdout == "still printed\n"
    assert quiet.stderr == "", quiet.stderr
    missing = run("run", "--rm", "--env-from-file", "nope.env", "svc", "true", check=False)
    assert missing.returncode == 1 and "--env-from-file nope.env" in missing.stderr

    refused = run("up", "--menu", check=False)
    assert refused.returncode == 1 and "--menu is not supported" in refused.stderr
    assert run("ps", "-a", "-q").stdout == ""  # refused before anything was made
    run("up", "-d", "--menu=false")
    assert (
        run("exec", "--no-tty", "svc", "sh", "-c", "test -t 0 || echo no-tty").stdout == "no-tty\n"
    )
