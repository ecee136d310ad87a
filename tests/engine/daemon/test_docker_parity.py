"""What a container sees, as Docker 20.10 shows it: the engine's answer checked on its own,
then, where a Docker oracle answers (tests/oracle.py), the same probe on dockerd as well.

Each test states the expected value and checks the engine against it; the oracle run only
confirms that the expected value is Docker's (it never replaces the check on the engine).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import skip_reason

from engine.api.client import EngineClient
from engine.api.models import ContainerCreate, ExecCreate, NetworkConnect, NetworkCreate
from tests.oracle import docker_answers, docker_environment

SKIP = skip_reason()
pytestmark = [
    pytest.mark.root,
    pytest.mark.anyio,
    pytest.mark.skipif(SKIP is not None, reason=SKIP or ""),
]


class Oracle:
    """The docker CLI against the oracle, with the daemon tests' busybox image loaded."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=docker_environment(),
        )

    def run(self, *args: str) -> tuple[int, str]:
        """``docker run --rm ARGS``: exit code and stdout."""
        result = self.docker("run", "--rm", *args)
        return result.returncode, result.stdout

    def network(self, name: str) -> str:
        name = f"{name}-{uuid.uuid4().hex[:6]}"
        assert self.docker("network", "create", name).returncode == 0
        self.made.append(("network", name))
        return name

    def container(self, *args: str) -> str:
        name = f"parity-{uuid.uuid4().hex[:8]}"
        result = self.docker("run", "-d", "--name", name, *args)
        assert result.returncode == 0, result.stderr
        self.made.insert(0, ("container", name))
        return name

    def cleanup(self) -> None:
        for kind, name in self.made:
            if kind == "container":
                self.docker("rm", "-f", name)
            else:
                self.docker("network", "rm", name)


@pytest.fixture(scope="module")
def oracle_image(busybox_tar: bytes) -> bool:
    """Whether the oracle answers; it then has the busybox image the engine runs."""
    if not docker_answers():
        return False
    loaded = subprocess.run(
        ["docker", "load"],
        input=busybox_tar,
        capture_output=True,
        timeout=120,
        check=False,
        env=docker_environment(),
    )
    assert loaded.returncode == 0, loaded.stderr
    return True


@pytest.fixture
def oracle(oracle_image: bool) -> Iterator[Oracle | None]:
    if not oracle_image:
        yield None
        return
    made = Oracle()
    try:
        yield made
    finally:
        made.cleanup()


async def run(
    client: EngineClient, body: dict[str, Any], name: str | None = None
) -> tuple[int, str]:
    """Create, start and wait for a busybox container; its exit code and stdout."""
    created = await client.container_create(
        ContainerCreate.model_validate({"Image": "busybox", **body}), name=name
    )
    try:
        await client.container_start(created.Id)
        code = (await client.container_wait(created.Id)).StatusCode
        output = b"".join(
            [data async for stream, data in client.container_logs(created.Id) if stream == 1]
        )
    finally:
        await client.container_remove(created.Id, force=True)
    return code, output.decode()


async def exec_in(client: EngineClient, container: str, *command: str) -> tuple[int | None, str]:
    exec_id = (await client.exec_create(container, ExecCreate(Cmd=list(command)))).Id
    output = await client.exec_start(exec_id)
    text = b"".join(data for _, data in output).decode()
    return (await client.exec_inspect(exec_id)).ExitCode, text


async def sleeper(client: EngineClient, name: str, body: dict[str, Any]) -> str:
    created = await client.container_create(
        ContainerCreate.model_validate({"Image": "busybox", "Cmd": ["sleep", "60"], **body}),
        name=name,
    )
    await client.container_start(created.Id)
    return created.Id


async def test_domainname_is_the_uts_domainname(
    client: EngineClient, oracle: Oracle | None
) -> None:
    probe = "cat /proc/sys/kernel/domainname; hostname"
    expected = "example.org\nweb\n"
    body = {"Hostname": "web", "Domainname": "example.org", "Cmd": ["sh", "-c", probe]}
    assert await run(client, body) == (0, expected)
    if oracle is not None:
        args = ["--hostname", "web", "--domainname", "example.org"]
        assert oracle.run(*args, "busybox", "sh", "-c", probe) == (0, expected)


SYSCTL_PROBE = (
    "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range"
)


async def test_own_network_namespace_gets_dockers_default_sysctls(
    client: EngineClient, oracle: Oracle | None
) -> None:
    expected = "0\n0\t2147483647\n"
    for mode in ("none", "bridge"):
        body = {"Cmd": ["sh", "-c", SYSCTL_PROBE], "HostConfig": {"NetworkMode": mode}}
        assert await run(client, body) == (0, expected), mode
    # the user's value wins
    body = {
        "Cmd": ["sh", "-c", SYSCTL_PROBE],
        "HostConfig": {"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "80"}},
    }
    assert await run(client, body) == (0, "80\n0\t2147483647\n")
    # the host's network namespace keeps the host's values
    host_values = "".join(
        Path(f"/proc/sys/net/ipv4/{key}").read_text()
        for key in ("ip_unprivileged_port_start", "ping_group_range")
    )
    body = {"Cmd": ["sh", "-c", SYSCTL_PROBE], "HostConfig": {"NetworkMode": "host"}}
    assert await run(client, body) == (0, host_values)
    if oracle is not None:
        assert oracle.run("--network", "none", "busybox", "sh", "-c", SYSCTL_PROBE) == (
            0,
            expected,
        )


async def test_network_none_has_no_ipv6(client: EngineClient, oracle: Oracle | None) -> None:
    probe = (
        "cat /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/lo/disable_ipv6; "
        "ip addr show lo | grep -c inet"
    )
    expected = "1\n1\n1\n"  # only 127.0.0.1 on lo, no ::1
    body = {"Cmd": ["sh", "-c", probe], "HostConfig": {"NetworkMode": "none"}}
    assert await run(client, body) == (0, expected)
    if oracle is not None:
        assert oracle.run("--network", "none", "busybox", "sh", "-c", probe) == (0, expected)


async def test_dockerenv_and_etc_mtab(client: EngineClient, oracle: Oracle | None) -> None:
    probe = "stat -c '%F %s %a' /.dockerenv; readlink /etc/mtab; head -1 /etc/mtab | cut -d' ' -f2"
    expected = "regular empty file 0 755\n/proc/mounts\n/\n"
    body = {"Cmd": ["sh", "-c", probe], "HostConfig": {"ReadonlyRootfs": True}}
    assert await run(client, body) == (0, expected)
    if oracle is not None:
        assert oracle.run("--read-only", "busybox", "sh", "-c", probe) == (0, expected)


async def test_dns_options_replace_the_embedded_resolvers_default(
    client: EngineClient, oracle: Oracle | None
) -> None:
    await client.network_create(NetworkCreate(Name="opts"))
    cases = {
        ("ndots:2", "timeout:3"): "options ndots:2 timeout:3\n",  # the user's ndots only
        ("timeout:3",): "options timeout:3 ndots:0\n",  # the resolver's default after
        ("ndots:0", "use-vc"): "options ndots:0 use-vc\n",
    }
    oracle_network = oracle.network("opts") if oracle is not None else ""
    for options, expected in cases.items():
        body = {
            "Cmd": ["grep", "^options", "/etc/resolv.conf"],
            "HostConfig": {"NetworkMode": "opts", "DnsOptions": list(options)},
        }
        assert await run(client, body) == (0, expected), options
        if oracle is not None:
            flags = [f"--dns-opt={option}" for option in options]
            args = ["--network", oracle_network, *flags, "busybox"]
            assert oracle.run(*args, "grep", "^options", "/etc/resolv.conf") == (0, expected)


async def test_reverse_lookup_answers_container_dot_network(
    client: EngineClient, oracle: Oracle | None
) -> None:
    await client.network_create(NetworkCreate(Name="rev"))
    server = await sleeper(client, "rev-server", {"HostConfig": {"NetworkMode": "rev"}})
    address = (await client.container_inspect(server)).NetworkSettings.Networks["rev"].IPAddress
    body = {"Cmd": ["nslookup", address, "127.0.0.11"], "HostConfig": {"NetworkMode": "rev"}}
    code, output = await run(client, body)
    assert code == 0 and "name = rev-server.rev\n" in output, output
    await client.container_remove(server, force=True)
    if oracle is not None:
        network = oracle.network("rev")
        name = oracle.container("--network", network, "busybox", "sleep", "60")
        address = oracle.docker(
            "inspect",
            "-f",
            f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}',
            name,
        ).stdout.strip()
        code, output = oracle.run("--network", network, "busybox", "nslookup", address)
        assert code == 0 and f"name = {name}.{network}\n" in output, output


async def test_exec_of_a_missing_or_unrunnable_command_exits_126(
    client: EngineClient, oracle: Oracle | None
) -> None:
    container = await sleeper(client, "exec-target", {})
    cases = {
        "nosuch": 'exec: "nosuch": executable file not found in $PATH',
        "/etc/passwd": 'exec: "/etc/passwd": permission denied',
    }
    for command, reason in cases.items():
        expected = f"OCI runtime exec failed: exec failed: unable to start container process: {reason}: unknown\r\n"
        assert await exec_in(client, container, command) == (126, expected), command
    # the command's own failure keeps its code and its words
    assert await exec_in(client, container, "sh", "-c", "echo oops >&2; exit 255") == (
        255,
        "oops\n",
    )
    assert await exec_in(client, container, "sh", "-c", "echo 'time=\"now\"' >&2; exit 255") == (
        255,
        'time="now"\n',
    )
    await client.container_remove(container, force=True)
    if oracle is not None:
        name = oracle.container("busybox", "sleep", "60")
        for command, reason in cases.items():
            result = oracle.docker("exec", name, command)
            assert (result.returncode, result.stdout) == (126, expected.replace("\r\n", "\n")) or (
                result.returncode == 126 and reason in result.stdout
            ), result


async def test_connected_container_is_known_by_name_and_aliases_on_the_new_network(
    client: EngineClient, oracle: Oracle | None
) -> None:
    for name in ("first", "joined"):
        await client.network_create(NetworkCreate(Name=name))
    late = await sleeper(client, "late", {})  # on the default bridge: no resolver of its own
    peer = await sleeper(client, "peer", {"HostConfig": {"NetworkMode": "joined"}})
    await client.network_connect(
        "joined",
        NetworkConnect.model_validate(
            {"Container": "late", "EndpointConfig": {"Aliases": ["extra"]}}
        ),
    )
    address = (await client.container_inspect(late)).NetworkSettings.Networks["joined"].IPAddress
    for name in ("late", "extra"):
        code, output = await exec_in(client, peer, "nslookup", name, "127.0.0.11")
        assert code == 0 and f"Address: {address}\n" in output, (name, output)
    # the default bridge's container got the embedded resolver with the user network
    code, output = await exec_in(client, late, "cat", "/etc/resolv.conf")
    assert output.startswith("nameserver 127.0.0.11\n") and "ndots:0" in output, output
    peer_address = (await client.container_inspect(peer)).NetworkSettings.Networks["joined"]
    code, output = await exec_in(client, late, "nslookup", "peer", "127.0.0.11")
    assert code == 0 and f"Address: {peer_address.IPAddress}\n" in output, output
    for container in (late, peer):
        await client.container_remove(container, force=True)
