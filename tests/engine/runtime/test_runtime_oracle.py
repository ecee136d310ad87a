"""Differential tests: the same busybox root and settings on Docker and on engine.runtime.

Run where a Docker engine answers (``DOCKER_HOST``, or the default socket; see
scripts/oracle-docker.sh, which scripts/test.sh starts: a private dockerd with
``--iptables=false --bridge=none`` is enough). The root file system is imported into Docker with
``docker import``, so no registry is involved; containers run with ``--network none``.

Compared from inside: capability sets, groups, seccomp mode, no_new_privs (status), id,
hostname, working directory, environment, the mount table (mount point, options, type,
super options; the root's own file system aside), masked and read-only paths, the limits
that were set, and exit codes. Known, intended differences: Docker releases before 25 do not
mask /proc/interrupts and /sys/devices/virtual/powercap; engine.runtime follows current
Docker.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
from runtime_helpers import make_busybox_rootfs, needs_runtime, runtime_in

from engine.api.models import ContainerCreate
from tests.oracle import DOCKER_HOST, docker_answers
from tests.waiting import wait_until, wait_until_async

PROBE = r"""
echo "== status"; grep -E '^(Cap|Groups|NoNewPrivs|Seccomp:)' /proc/self/status
echo "== id"; id; echo "== hostname"; hostname; echo "== pwd"; pwd
echo "== env"; env | sort
echo "== nofile"; ulimit -n
echo "== mounts"
sed 's/ - / | /' /proc/self/mountinfo | awk -F' [|] ' '{split($1, a, " "); split($2, b, " "); print a[5], a[6], b[1], b[3]}' | sort
echo "== masked"
for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /sys/firmware /proc/acpi /proc/scsi; do
  if [ -e $p ]; then ls -ld $p | cut -c1-1; else echo absent; fi
done
echo "== readonly"
for p in /proc/sys/kernel/domainname /proc/sysrq-trigger /proc/bus /proc/fs /proc/irq; do
  (touch $p/x 2>/dev/null || echo x > $p) 2>&1 | sed 's/.*: //' | head -1
done
echo "== root"; (touch /probe) 2>&1 | sed 's/.*: //'
"""
NEWER_MASKS = ("/proc/interrupts", "/sys/devices/virtual/powercap")


@pytest.fixture(autouse=True)
def _docker_cli_reaches_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", DOCKER_HOST)


pytestmark = [
    pytest.mark.oracle,
    pytest.mark.root,
    pytest.mark.anyio,
    needs_runtime,
    pytest.mark.skipif(not docker_answers(), reason=f"no Docker engine answers at {DOCKER_HOST}"),
]


def sections(output: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            result[current] = []
        elif current:
            result[current].append(line.rstrip())
    mounts = [
        line
        for line in result.get("mounts", [])
        if line.split(" ")[0] != "/" and line.split(" ")[0] not in NEWER_MASKS
    ]
    result["mounts"] = mounts
    return result


@pytest.fixture
def docker_image(tmp_path):
    root = make_busybox_rootfs(tmp_path / "image-root")
    tag = f"pycompose-oracle:{uuid.uuid4().hex[:12]}"
    tar = subprocess.Popen(["tar", "-C", str(root), "-cf", "-", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "import", "-", tag], stdin=tar.stdout, check=True, capture_output=True
    )
    tar.wait()
    try:
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def docker_run(image: str, args: list[str], script: str) -> tuple[int, str]:
    name = f"pycompose-oracle-{uuid.uuid4().hex[:12]}"
    try:
        result = subprocess.run(
            [
                "docker",
                "run",
                "--name",
                name,
                "--network",
                "none",
                *args,
                image,
                "sh",
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    return result.returncode, result.stdout + result.stderr


async def ours_run(runtime, rootfs, fields: dict, script: str) -> tuple[int, str]:
    config = ContainerCreate.model_validate({"Cmd": ["sh", "-c", script], **fields})
    info = await runtime.create(config, rootfs=str(rootfs))
    await runtime.start(info.id)
    code = await runtime.wait(info.id)
    lines = [entry.message.decode() async for entry in runtime.logs(info.id)]
    await runtime.remove(info.id)
    return code, "\n".join(lines)


SCENARIOS = {
    "defaults": (
        ["--hostname", "oracle", "-e", "A=1", "-w", "/srv"],
        {"Hostname": "oracle", "Env": ["A=1"], "WorkingDir": "/srv"},
        "",
    ),
    "hardened": (
        [
            "--hostname",
            "oracle",
            "-u",
            "app",
            "--group-add",
            "daemon",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "CHOWN",
            "--ulimit",
            "nofile=512:1024",
            "--read-only",
            "--tmpfs",
            "/run:size=1m",
            "--shm-size",
            "128m",
            "--security-opt",
            "no-new-privileges",
        ],
        {
            "Hostname": "oracle",
            "User": "app",
            "HostConfig": {
                "GroupAdd": ["daemon"],
                "CapAdd": ["NET_ADMIN"],
                "CapDrop": ["CHOWN"],
                "Ulimits": [{"Name": "nofile", "Soft": 512, "Hard": 1024}],
                "ReadonlyRootfs": True,
                "Tmpfs": {"/run": "size=1m"},
                "ShmSize": 128 << 20,
                "SecurityOpt": ["no-new-privileges"],
            },
        },
        "; exit 3",
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_inside_view_matches_docker(scenario, docker_image, tmp_path, rootfs):
    docker_args, fields, suffix = SCENARIOS[scenario]
    script = PROBE + suffix
    docker_code, docker_output = docker_run(docker_image, docker_args, script)
    async with runtime_in(tmp_path) as runtime:
        our_code, our_output = await ours_run(runtime, rootfs, fields, script)
    assert our_code == docker_code
    expected, actual = sections(docker_output), sections(our_output)
    if scenario == "defaults":
        # The open-files limit is inherited from the engine's own process on both sides.
        expected.pop("nofile"), actual.pop("nofile")
    for name in expected:
        assert actual.get(name) == expected[name], (
            f"section {name}: {actual.get(name)} != {expected[name]}"
        )
    assert set(actual) == set(expected)


def docker_logs(name: str) -> str:
    return subprocess.run(
        ["docker", "logs", name], capture_output=True, text=True, check=False
    ).stdout


@pytest.mark.parametrize(
    ("script", "stop_timeout"),
    [
        # each prints "ready" once set up, and is stopped only then
        ("echo ready; sleep 60", 1),  # PID 1 without a TERM handler: killed after the grace period
        ("trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done", 30),
    ],
)
async def test_stop_exit_codes_match_docker(script, stop_timeout, docker_image, tmp_path, rootfs):
    name = f"pycompose-oracle-{uuid.uuid4().hex[:12]}"
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            docker_image,
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        check=True,
    )
    try:
        wait_until(lambda: "ready" in docker_logs(name), 60, f"{name} to print ready in Docker")
        subprocess.run(
            ["docker", "stop", "-t", str(stop_timeout), name], capture_output=True, check=True
        )
        inspected = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
            check=True,
        )
        docker_code = int(inspected.stdout.strip())
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            ContainerCreate.model_validate({"Cmd": ["sh", "-c", script]}), rootfs=str(rootfs)
        )
        await runtime.start(info.id)

        async def ready() -> bool:
            return any([entry.message == b"ready" async for entry in runtime.logs(info.id)])

        await wait_until_async(ready, 60, "the container to print ready")
        await runtime.stop(info.id, timeout=stop_timeout)
        our_code = runtime.inspect(info.id).exit_code
    assert our_code == docker_code
