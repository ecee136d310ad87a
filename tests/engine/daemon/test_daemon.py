"""The real engine daemon: containers through the API, crashes, restarts, the docker CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from daemon_helpers import Daemon, skip_reason

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate, ExecCreate, NetworkCreate, VolumeCreate
from engine.daemon import __main__ as daemon_main
from engine.state import StateStore
from tests.waiting import wait_until

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


async def wait_state(client: EngineClient, ref: str, status: str, timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while (await client.container_inspect(ref)).State.Status != status:
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_create_start_wait_logs_remove(client: EngineClient) -> None:
    labels = {"com.docker.compose.project": "demo", "z": "1", "a": "2"}
    created = await client.container_create(
        ContainerCreate(
            Image="busybox", Cmd=["sh", "-c", "echo out; echo err >&2; exit 3"], Labels=labels
        ),
        name="demo-run-1",
    )
    await client.container_start("demo-run-1")
    assert (await client.container_wait(created.Id)).StatusCode == 3
    assert [item async for item in client.container_logs(created.Id)] == [
        (1, b"out\n"),
        (2, b"err\n"),
    ]
    inspect = await client.container_inspect(created.Id)
    assert inspect.State.Status == "exited" and inspect.State.ExitCode == 3
    assert list(inspect.Config.labels or {}) == list(labels)  # labels kept exactly, in order
    found = await client.container_list(
        all=True, filters={"label": ["com.docker.compose.project=demo"]}
    )
    assert [c.Id for c in found] == [created.Id]
    assert found[0].Status.startswith("Exited (3)")
    await client.container_remove(created.Id)
    with pytest.raises(errors.NotFound):
        await client.container_inspect(created.Id)
    assert await client.container_list(all=True) == []


@pytest.mark.anyio
async def test_exec_stop_and_volumes(client: EngineClient) -> None:
    await client.volume_create(VolumeCreate(Name="data", Labels={"k": "v"}))
    created = await client.container_create(
        ContainerCreate.model_validate(
            {
                "Image": "busybox",
                "Cmd": ["sh", "-c", "echo kept > /data/f; exec sleep 60"],
                "HostConfig": {"Binds": ["data:/data"]},
            }
        )
    )
    await client.container_start(created.Id)
    exec_id = (
        await client.exec_create(
            created.Id, ExecCreate(Cmd=["sh", "-c", "cat; exit 5"], AttachStdin=True)
        )
    ).Id
    with anyio.fail_after(60):
        while True:
            output = await client.exec_start(exec_id, stdin=b"piped\n")
            break
    assert output == [(1, b"piped\n")]
    assert (await client.exec_inspect(exec_id)).ExitCode == 5
    tty_exec = await client.exec_create(
        created.Id, ExecCreate(Cmd=["sh", "-c", "tty; exit 2"], Tty=True)
    )
    tty_output = await client.exec_start(tty_exec.Id, tty=True)
    assert b"/dev/pts/" in b"".join(data for _, data in tty_output)
    assert (await client.exec_inspect(tty_exec.Id)).ExitCode == 2
    with pytest.raises(errors.Conflict):
        await client.container_remove(created.Id)
    await client.container_stop(created.Id, timeout=1)
    assert (await client.container_inspect(created.Id)).State.ExitCode == 137
    await client.container_remove(created.Id)
    volume = await client.volume_inspect("data")
    assert Path(volume.Mountpoint, "f").read_text() == "kept\n"
    with pytest.raises(errors.NotFound):
        await client.image_inspect("no-such-image:1")


@pytest.mark.anyio
async def test_sigkill_then_restart_readopts_running_and_records_exits(
    daemon: Daemon, client: EngineClient
) -> None:
    runner = await client.container_create(
        ContainerCreate(
            Image="busybox", Cmd=["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
        ),
        name="runner",
    )
    ender = await client.container_create(
        ContainerCreate(Image="busybox", Cmd=["sh", "-c", "sleep 1; exit 7"]), name="ender"
    )
    await client.container_start(runner.Id)
    await client.container_start(ender.Id)
    pid = (await client.container_inspect(runner.Id)).State.Pid
    ender_pid = (await client.container_inspect(ender.Id)).State.Pid
    daemon.kill(signal.SIGKILL)
    await client.aclose()
    # the ender exits while no engine runs
    wait_until(lambda: not os.path.exists(f"/proc/{ender_pid}"), 60, "the ender to exit")
    os.kill(pid, 0)  # the container outlived its engine
    daemon.start()
    async with EngineClient(daemon.socket, timeout=30) as again:
        inspect = await again.container_inspect("runner")
        assert inspect.State.Status == "running" and inspect.State.Pid == pid
        ended = await again.container_inspect("ender")
        assert ended.State.Status == "exited" and ended.State.ExitCode == 7
        await again.container_stop("runner", timeout=5)
        assert (await again.container_inspect("runner")).State.ExitCode == 0
        assert len(await again.container_list(all=True)) == 2


def test_half_made_containers_are_repaired_on_start(daemon: Daemon) -> None:
    daemon.kill(signal.SIGTERM)
    store = StateStore(daemon.data_root / "engine.db")
    store.begin_container("f" * 64, "half-made", "busybox", "", {"Image": "busybox"}, 1.0)
    store.close()
    daemon.start()

    async def check() -> None:
        async with EngineClient(daemon.socket, timeout=30) as client:
            with pytest.raises(errors.NotFound):
                await client.container_inspect("half-made")

    anyio.run(check)
    assert StateStore(daemon.data_root / "engine.db").unfinished() == []


def test_one_engine_per_data_root(daemon: Daemon) -> None:
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.daemon",
            "--socket",
            str(daemon.base / "other.sock"),
            "--data-root",
            str(daemon.data_root),
            "--exec-root",
            str(daemon.exec_root),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert second.returncode == 1
    assert "already uses the data root" in second.stderr


def test_socket_is_root_owned_0660(daemon: Daemon) -> None:
    status = os.stat(daemon.socket)
    assert status.st_uid == 0 and (status.st_mode & 0o777) == 0o660


def test_not_root_gets_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(daemon_main.os, "geteuid", lambda: 1000)
    code = daemon_main.main(["--socket", str(tmp_path / "s.sock"), "--data-root", str(tmp_path)])
    assert code == 1
    assert "must run as root" in capsys.readouterr().err
    assert not (tmp_path / "s.sock").exists()


DOCKER = shutil.which("docker")


@pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed")
def test_docker_cli_drives_the_engine(daemon: Daemon, busybox_tar: bytes, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "DOCKER_HOST": f"unix://{daemon.socket}",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }

    def docker(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [DOCKER or "docker", *args],
            input=stdin,
            capture_output=True,
            env=environment,
            timeout=60,
            check=False,
        )

    (tmp_path / "busybox.tar").write_bytes(busybox_tar)
    assert docker("load", "-i", str(tmp_path / "busybox.tar")).returncode == 0
    version = docker("version", "--format", "{{.Server.APIVersion}}")
    assert version.stdout.strip() == b"1.41", version.stderr
    run = docker("run", "--rm", "busybox", "echo", "hello")
    assert (run.returncode, run.stdout) == (0, b"hello\n"), run.stderr
    failing = docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert failing.returncode == 3
    piped = docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done", stdin=b"in\n")
    assert (piped.returncode, piped.stdout) == (0, b"in\ndone\n"), piped.stderr
    assert (
        docker("run", "-d", "--name", "bg", "-l", "k=v", "busybox", "sleep", "60").returncode == 0
    )
    listing = docker("ps", "--filter", "label=k=v", "--format", "{{.Names}} {{.Status}}")
    assert listing.stdout.startswith(b"bg Up"), listing.stderr
    execd = docker("exec", "-i", "bg", "sh", "-c", "cat; exit 4", stdin=b"in\n")
    assert (execd.returncode, execd.stdout) == (4, b"in\n")
    inspect = docker("inspect", "--format", "{{.State.Running}} {{.Config.Labels}}", "bg")
    assert inspect.stdout.strip() == b"true map[k:v]"
    local = tmp_path / "pycompose-cp-probe.txt"
    local.write_text("copied\n")
    assert docker("cp", str(local), "bg:/tmp/").returncode == 0
    assert docker("exec", "bg", "cat", "/tmp/pycompose-cp-probe.txt").stdout == b"copied\n"
    back = tmp_path / "back"
    back.mkdir()
    assert docker("cp", "bg:/tmp/pycompose-cp-probe.txt", str(back)).returncode == 0
    assert (back / "pycompose-cp-probe.txt").read_text() == "copied\n"
    # a symlink in the container pointing at /etc is resolved inside the container
    assert docker("exec", "bg", "ln", "-s", "/etc", "/tmp/escape").returncode == 0
    assert docker("cp", str(local), "bg:/tmp/escape/").returncode == 0
    assert not Path("/etc/pycompose-cp-probe.txt").exists()
    assert docker("exec", "bg", "cat", "/etc/pycompose-cp-probe.txt").stdout == b"copied\n"
    stats = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "bg")
    assert stats.returncode == 0 and stats.stdout.startswith(b"bg "), stats.stderr
    top = docker("top", "bg")
    assert b"sleep 60" in top.stdout, top.stderr
    events = docker(
        "events",
        "--since",
        "0",
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "container=bg",
        "--format",
        "{{.Action}}",
    )
    assert events.stdout.split()[:2] == [b"create", b"start"], events.stderr
    missing = docker("inspect", "nothere")
    assert missing.returncode == 1 and b"No such object" in missing.stderr
    assert docker("network", "create", "--label", "n=1", "netx").returncode == 0
    assert b"netx" in docker("network", "ls").stdout
    assert docker("network", "connect", "netx", "bg").returncode == 0
    connected = docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", "bg")
    assert b'"netx"' in connected.stdout, connected.stderr
    labels = docker("network", "inspect", "--format", "{{.Labels}}", "netx")
    assert labels.stdout.strip() == b"map[n:1]"
    assert docker("network", "disconnect", "netx", "bg").returncode == 0
    assert docker("network", "rm", "netx").returncode == 0
    assert docker("rename", "bg", "bg2").returncode == 0
    assert docker("restart", "-t", "1", "bg2").returncode == 0
    assert docker("kill", "bg2").returncode == 0
    assert docker("wait", "bg2").stdout.strip() == b"137"
    follow = docker("run", "-d", "--name", "f", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    assert follow.returncode == 0
    assert docker("logs", "-f", "f").stdout == b"a\nb\n"
    assert docker("rm", "-f", "bg2", "f").returncode == 0
    assert docker("ps", "-aq").stdout == b""
    assert docker("volume", "create", "v1").returncode == 0
    assert b"v1" in docker("volume", "ls").stdout
    assert docker("volume", "rm", "v1").returncode == 0
    assert docker("run", "--name", "gone", "busybox", "true").returncode == 0
    assert docker("container", "prune", "-f").returncode == 0
    assert docker("ps", "-aq").stdout == b""
    assert docker("system", "df").returncode == 0


@pytest.mark.anyio
async def test_user_network_names_addresses_and_published_ports(
    daemon: Daemon, client: EngineClient
) -> None:
    labels = {"com.docker.compose.project": "demo", "com.docker.compose.network": "default"}
    network_id = (await client.network_create(NetworkCreate(Name="demo_default", Labels=labels))).Id
    with pytest.raises(errors.Conflict):
        await client.network_create(NetworkCreate(Name="demo_default"))
    server = await client.container_create(
        ContainerCreate.model_validate(
            {
                "Image": "busybox",
                "Cmd": ["sleep", "60"],
                "HostConfig": {
                    "NetworkMode": "demo_default",
                    "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
                },
                "NetworkingConfig": {"EndpointsConfig": {"demo_default": {"Aliases": ["db"]}}},
            }
        ),
        name="demo-db-1",
    )
    caller = await client.container_create(
        ContainerCreate.model_validate(
            {
                "Image": "busybox",
                "Cmd": ["sleep", "60"],
                "HostConfig": {"NetworkMode": "demo_default"},
            }
        ),
        name="demo-web-1",
    )
    for created in (server, caller):
        await client.container_start(created.Id)
    inspect = await client.container_inspect(server.Id)
    endpoint = inspect.NetworkSettings.Networks["demo_default"]
    assert endpoint.NetworkID == network_id and endpoint.IPAddress
    published = inspect.NetworkSettings.Ports["80/tcp"]
    assert published and published[0].HostIp == "127.0.0.1" and int(published[0].HostPort) > 0
    summary = (await client.container_list(filters={"name": ["demo-db-1"]}))[0]
    assert summary.NetworkSettings.Networks["demo_default"].NetworkID == network_id
    assert summary.Ports[0].PrivatePort == 80
    host_links = [name for _, name in socket.if_nameindex()]
    assert not [n for n in host_links if network_id[:9] in n]  # bridges in the test's netns
    network = await client.network_inspect("demo_default")
    assert network.Labels == labels and set(network.Containers) == {server.Id, caller.Id}
    exec_id = (await client.exec_create(caller.Id, ExecCreate(Cmd=["ping", "-c1", "-W2", "db"]))).Id
    await client.exec_start(exec_id)
    assert (await client.exec_inspect(exec_id)).ExitCode == 0
    with pytest.raises(errors.Conflict):
        await client.network_remove("demo_default")  # endpoints attached
    for created in (server, caller):
        await client.container_remove(created.Id, force=True)
    await client.network_remove(network_id)
    assert [n.Name for n in await client.network_list()] == ["bridge", "host", "none"]
