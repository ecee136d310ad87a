"""Real containers through conmon and runc: what a process sees inside, and its lifecycle."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from runtime_helpers import needs_runtime, runtime_in

from engine.api.errors import Conflict
from engine.api.models import ContainerCreate
from engine.runtime.containers import ContainerRuntime
from engine.runtime.runc import Runc
from engine.runtime.state import ContainerState, HealthStatus
from tests.waiting import wait_until_async

pytestmark = [pytest.mark.root, pytest.mark.anyio, needs_runtime]


def config(command: str | list[str], **fields) -> ContainerCreate:
    cmd = ["sh", "-c", command] if isinstance(command, str) else command
    return ContainerCreate.model_validate({"Cmd": cmd, **fields})


async def run_to_end(runtime, rootfs: Path, command: str, **fields) -> tuple[int, str]:
    info = await runtime.create(config(command, **fields), rootfs=str(rootfs))
    await runtime.start(info.id)
    code = await runtime.wait(info.id)
    output = "".join([entry.message.decode() + "\n" async for entry in runtime.logs(info.id)])
    await runtime.remove(info.id)
    return code, output


async def printed(runtime, container_id: str, text: str) -> bool:
    """Whether the container's log holds a line containing ``text`` (for wait_until_async)."""
    return any([text.encode() in entry.message async for entry in runtime.logs(container_id)])


async def test_a_container_runs_logs_and_reports_its_exit_code(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(runtime, rootfs, "echo hello; echo oops >&2; exit 3")
        assert code == 3
        assert "hello\n" in output and "oops\n" in output


async def test_inside_view_matches_dockers_defaults(tmp_path, rootfs):
    script = (
        "grep -E '^Cap(Eff|Bnd)' /proc/self/status; "
        "hostname; pwd; id; "
        "cat /proc/kcore 2>&1 | head -c 0; ls -la /proc/kcore | cut -c1-10; "
        "touch /proc/sysrq-trigger 2>&1 | head -1 || true; "
        "grep -E ' /sys | /dev/shm | /dev/mqueue | /dev/pts ' /proc/self/mountinfo; "
        "ulimit -n; echo ENV=$GREETING"
    )
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(
            runtime,
            rootfs,
            script,
            Hostname="web",
            Env=["GREETING=hi"],
            WorkingDir="/srv/app",
            HostConfig={"Ulimits": [{"Name": "nofile", "Soft": 512, "Hard": 1024}]},
        )
    assert code == 0, output
    # The 14 default capabilities: bits 0,1,3,4,5,6,7,8,10,13,18,27,29,31 = 0xa80425fb.
    assert "CapEff:\t00000000a80425fb" in output
    assert "CapBnd:\t00000000a80425fb" in output
    lines = output.splitlines()
    assert "web" in lines and "/srv/app" in lines
    assert any(
        line.startswith("uid=0(root) gid=0(root) groups=0(root),10(wheel)") for line in lines
    )
    sys_line = next(line for line in lines if " /sys " in line)
    assert " ro," in sys_line or sys_line.split()[5].startswith("ro")
    shm_line = next(line for line in lines if " /dev/shm " in line)
    assert "size=65536k" in shm_line
    assert any(" /dev/mqueue " in line and "mqueue" in line for line in lines)
    assert "512" in lines and "ENV=hi" in lines


async def test_user_and_group_add_resolve_through_the_image(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(
            runtime,
            rootfs,
            "id; grep CapEff /proc/self/status",
            User="app",
            HostConfig={"GroupAdd": ["daemon"]},
        )
    assert code == 0
    assert "uid=1000(app) gid=1000(app) groups=1(daemon),10(wheel),29(audio),1000(app)" in output
    assert "CapEff:\t0000000000000000" in output


async def test_exit_by_signal_is_128_plus_the_signal(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        # PID 1 ignores signals it has no handler for, so the signalled shell is a child.
        code, _ = await run_to_end(runtime, rootfs, "sh -c 'kill -USR1 $$; sleep 5'; exit $?")
    assert code == 128 + 10


async def test_stop_sends_the_stop_signal_then_kills_after_the_grace_period(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        graceful = await runtime.create(
            config(
                "trap 'echo got TERM; exit 7' TERM; echo trapped; while true; do sleep 0.1; done"
            ),
            rootfs=str(rootfs),
            name="graceful",
        )
        await runtime.start(graceful.id)
        await wait_until_async(
            lambda: printed(runtime, graceful.id, "trapped"), 60, "the TERM trap to be set"
        )
        await runtime.stop(graceful.id, timeout=30)
        assert runtime.inspect(graceful.id).exit_code == 7
        assert runtime.inspect(graceful.id).state is ContainerState.EXITED

        stubborn = await runtime.create(
            config("trap '' TERM; echo trapped; while true; do sleep 0.1; done"),
            rootfs=str(rootfs),
        )
        await runtime.start(stubborn.id)
        await wait_until_async(
            lambda: printed(runtime, stubborn.id, "trapped"), 60, "TERM to be ignored"
        )
        started = time.monotonic()
        await runtime.stop(stubborn.id, timeout=1)
        elapsed = time.monotonic() - started
        # it waited the grace period, then killed (60 s: far above any load, far below "never")
        assert 0.9 < elapsed < 60
        assert runtime.inspect(stubborn.id).exit_code == 137


async def test_pause_unpause_kill_and_states(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("sleep 60"), rootfs=str(rootfs))
        assert info.state is ContainerState.CREATED
        with pytest.raises(Conflict):
            await runtime.pause(info.id)
        await runtime.start(info.id)
        await runtime.pause(info.id)
        assert runtime.inspect(info.id).state is ContainerState.PAUSED
        await runtime.unpause(info.id)
        with pytest.raises(Conflict):
            await runtime.remove(info.id)
        await runtime.kill(info.id, "SIGKILL")
        assert await runtime.wait(info.id) == 137
        assert runtime.inspect(info.id).state is ContainerState.EXITED
        await runtime.start(info.id)
        assert runtime.inspect(info.id).state is ContainerState.RUNNING
        await runtime.remove(info.id, force=True)


async def test_exec_with_its_own_env_user_and_workdir(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("sleep 60", Env=["A=container"]), rootfs=str(rootfs))
        await runtime.start(info.id)
        result = await runtime.exec(
            info.id,
            ["sh", "-c", "echo $A $B; id -u; pwd; exit 4"],
            env=["B=exec"],
            user="nobody",
            working_dir="/tmp",
        )
        assert result.exit_code == 4
        assert result.stdout.decode().split("\n")[:3] == ["container exec", "65534", "/tmp"]
        echoed = await runtime.exec(info.id, ["cat"], stdin=b"from stdin")
        assert echoed.stdout == b"from stdin"
        await runtime.remove(info.id, force=True)


async def test_logs_keep_long_lines_whole_and_fast_writers_complete(tmp_path, rootfs):
    script = (
        "head -c 100000 /dev/zero | tr '\\0' x; echo; "
        "i=0; while [ $i -lt 5000 ]; do echo line-$i; i=$((i+1)); done; printf unterminated"
    )
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config(script), rootfs=str(rootfs))
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        entries = [entry async for entry in runtime.logs(info.id)]
        assert entries[0].message == b"x" * 100000
        assert [e.message for e in entries[1:-1]] == [f"line-{i}".encode() for i in range(5000)]
        assert entries[-1].message == b"unterminated"
        tail = [entry.message async for entry in runtime.logs(info.id, tail=2)]
        assert tail == [b"line-4999", b"unterminated"]
        middle = entries[2500].time_ns / 1e9
        since = [entry async for entry in runtime.logs(info.id, since=middle)]
        since_ns = int(middle * 1_000_000_000)
        assert since == [e for e in entries if e.time_ns >= since_ns]
        assert 0 < len(since) < len(entries)
        assert entries[0].timestamp().endswith("Z")


async def test_logs_follow_until_the_container_exits(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config("for i in 1 2 3; do echo tick-$i; sleep 0.2; done"), rootfs=str(rootfs)
        )
        await runtime.start(info.id)
        with anyio.fail_after(60):
            seen = [entry.message async for entry in runtime.logs(info.id, follow=True)]
        assert seen == [b"tick-1", b"tick-2", b"tick-3"]


async def test_health_check_goes_healthy_then_unhealthy(tmp_path, rootfs):
    health = {
        "Test": ["CMD-SHELL", "test -e /tmp/ok"],
        "Interval": 200_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 2,
    }
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            # healthy until the test creates /tmp/flip: no race with a wall-clock window
            config(
                "touch /tmp/ok; until [ -e /tmp/flip ]; do sleep 0.1; done; rm /tmp/ok; sleep 60",
                Healthcheck=health,
            ),
            rootfs=str(rootfs),
        )
        await runtime.start(info.id)
        assert runtime.inspect(info.id).health is HealthStatus.STARTING
        await wait_until_async(
            lambda: runtime.inspect(info.id).health is HealthStatus.HEALTHY, 60, "healthy"
        )
        (rootfs / "tmp/flip").touch()
        await wait_until_async(
            lambda: runtime.inspect(info.id).health is HealthStatus.UNHEALTHY, 60, "unhealthy"
        )
        snapshot = runtime.inspect(info.id)
        assert snapshot.health_failing_streak >= 2
        assert 0 < len(snapshot.health_log) <= 5
        await runtime.remove(info.id, force=True)


async def test_restart_policy_on_failure_backs_off_and_stops_at_the_limit(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config(
                "echo run; exit 2",
                HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
            ),
            rootfs=str(rootfs),
        )
        started = time.monotonic()
        await runtime.start(info.id)
        with anyio.fail_after(60):
            while True:
                snapshot = runtime.inspect(info.id)
                if snapshot.state is ContainerState.EXITED and snapshot.restart_count == 3:
                    break
                await anyio.sleep(0.05)
        elapsed = time.monotonic() - started
        # Delays 0.1 + 0.2 + 0.4 s between the four runs.
        assert elapsed >= 0.7
        runs = [entry async for entry in runtime.logs(info.id)]
        assert len(runs) == 4
        assert runtime.inspect(info.id).exit_code == 2


async def test_restart_always_is_suppressed_by_a_manual_stop(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config("sleep 0.2; exit 0", HostConfig={"RestartPolicy": {"Name": "always"}}),
            rootfs=str(rootfs),
        )
        await runtime.start(info.id)
        await wait_until_async(
            lambda: runtime.inspect(info.id).restart_count >= 2, 60, "two restarts"
        )
        await runtime.stop(info.id, timeout=1)
        count = runtime.inspect(info.id).restart_count
        await anyio.sleep(0.6)
        assert runtime.inspect(info.id).state is ContainerState.EXITED
        assert runtime.inspect(info.id).restart_count == count


async def test_init_reaps_and_forwards_signals(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config(
                "cat /proc/1/cmdline | tr '\\0' ' '; echo; sleep 600", HostConfig={"Init": True}
            ),
            rootfs=str(rootfs),
        )
        await runtime.start(info.id)
        await wait_until_async(
            lambda: printed(runtime, info.id, "docker-init"), 60, "the command line of pid 1"
        )
        started = time.monotonic()
        await runtime.stop(info.id, timeout=120)
        # well below the grace period: tini forwarded SIGTERM to sh's sleep group
        assert time.monotonic() - started < 60
        lines = [entry.message.decode() async for entry in runtime.logs(info.id)]
        assert lines[0].startswith("/sbin/docker-init -- sh -c")


async def test_resource_limits_reach_the_cgroup_and_oom_is_reported(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(
            runtime,
            rootfs,
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares",
            HostConfig={
                "Memory": 64 << 20,
                "PidsLimit": 50,
                "NanoCpus": 500_000_000,
                "CpuShares": 256,
            },
        )
        assert code == 0, output
        assert output.split() == [str(64 << 20), "50", "50000", "256"]
        hog = await runtime.create(
            config(
                "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
                HostConfig={"Memory": 16 << 20, "MemorySwap": 16 << 20},
            ),
            rootfs=str(rootfs),
        )
        await runtime.start(hog.id)
        with anyio.fail_after(30):
            code = await runtime.wait(hog.id)
        assert code == 137
        assert runtime.inspect(hog.id).oom_killed


async def test_masked_paths_readonly_paths_and_readonly_root(tmp_path, rootfs):
    script = (
        "ls -l /proc/keys /proc/timer_list | cut -c1-1; ls /sys/firmware | wc -l; "
        "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo proc-sys-ro; "
        "touch /file 2>/dev/null || echo root-ro; touch /tmp/x 2>/dev/null || echo tmp-ro"
    )
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(
            runtime, rootfs, script, HostConfig={"ReadonlyRootfs": True}
        )
    assert code == 0, output
    assert output.split() == ["c", "c", "0", "proc-sys-ro", "root-ro", "tmp-ro"], output


async def test_logs_rotate_by_size_and_count_without_losing_lines(tmp_path, rootfs):
    script = (
        "i=0; while [ $i -lt 3000 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done; "
        "sleep 2.5"
    )
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config(
                script, HostConfig={"LogConfig": {"Config": {"max-size": "20k", "max-file": "20"}}}
            ),
            rootfs=str(rootfs),
        )
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        rotated = sorted(info.directory.glob("container.log.*"))
        assert rotated, "the rotator renamed the log at least once"
        lines = [entry.message async for entry in runtime.logs(info.id)]
        assert lines == [f"line-{i}-padding-padding-padding".encode() for i in range(3000)]


async def test_an_engine_restart_finds_running_containers_again(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("sleep 60"), rootfs=str(rootfs), name="survivor")
        await runtime.start(info.id)
        async with ContainerRuntime(
            runtime.root, runc=runtime.runc, socket_dir=runtime.socket_dir
        ) as second:
            assert await second.restore() == [info.id]
            assert second.inspect("survivor").state is ContainerState.RUNNING
            await second.kill("survivor", "SIGKILL")
            assert await second.wait("survivor") == 137
        # The first engine saw the same exit through conmon's exit file.
        assert await runtime.wait(info.id) == 137


async def test_attach_writes_stdin_and_reads_output(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config(
                'while read line; do echo "got $line"; echo "err $line" >&2; done', OpenStdin=True
            ),
            rootfs=str(rootfs),
        )
        await runtime.start(info.id)
        async with runtime.attach(info.id) as connection:
            await connection.send(b"hello\n")
            received = {}
            with anyio.fail_after(60):
                while len(received) < 2:
                    stream, data = await connection.receive()
                    received[stream] = data
        assert received == {"stdout": b"got hello\n", "stderr": b"err hello\n"}
        lines = [entry.message async for entry in runtime.logs(info.id)]
        assert b"got hello" in lines
        await runtime.remove(info.id, force=True)
        assert not list(Path(runtime.socket_dir).iterdir())


async def test_a_tty_container_gets_a_terminal_and_logs_its_output(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        code, output = await run_to_end(runtime, rootfs, "tty; echo TERM=$TERM", Tty=True)
    assert code == 0, output
    lines = [line.strip() for line in output.splitlines()]
    assert lines[:2] == ["/dev/pts/0", "TERM=xterm"]


async def read_until(session, needle: bytes) -> bytes:
    seen = b""
    with anyio.fail_after(60):
        while needle not in seen:
            _, data = await session.receive()
            assert data, f"output ended before {needle!r}: {seen!r}"
            seen += data
    return seen


async def test_interactive_exec_with_and_without_a_tty(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("sleep 60"), rootfs=str(rootfs))
        await runtime.start(info.id)
        async with runtime.exec_session(
            info.id, ["sh", "-c", "read x; echo out-$x; echo err-$x >&2; exit 5"]
        ) as session:
            await session.send(b"ping\n")
            chunks = []
            while True:
                stream, data = await session.receive()
                if not data:
                    break
                chunks.append((stream, data))
            assert ("stdout", b"out-ping\n") in chunks and ("stderr", b"err-ping\n") in chunks
            assert await session.wait() == 5
        async with runtime.exec_session(info.id, ["sh"], tty=True, env=["PS1=$ "]) as session:
            await session.send(b"tty; echo TERM=$TERM\n")
            output = await read_until(session, b"TERM=xterm")
            assert b"/dev/pts/" in output
            await session.send(b"exit 3\n")
            assert await session.wait() == 3
        await runtime.remove(info.id, force=True)


async def test_devices_volumes_from_and_joined_namespaces(tmp_path, rootfs):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the first\n")
    async with runtime_in(tmp_path) as runtime:
        first = await runtime.create(
            config("sleep 60", HostConfig={"Binds": [f"{shared}:/shared"]}),
            rootfs=str(rootfs),
            name="first",
        )
        await runtime.start(first.id)
        code, output = await run_to_end(
            runtime,
            rootfs,
            "cat /shared/note; (echo x > /shared/new) 2>/dev/null || echo shared-ro; "
            "head -c 4 /dev/zero2 | wc -c; ps -o comm | grep -c sleep",
            HostConfig={
                "VolumesFrom": ["first:ro"],
                "PidMode": "container:first",
                "Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero2"}],
            },
        )
        assert code == 0, output
        assert output.split("\n")[:4] == ["from the first", "shared-ro", "4", "1"]
        await runtime.remove(first.id, force=True)


async def test_events_in_dockers_vocabulary(tmp_path, rootfs):
    events = []
    async with runtime_in(tmp_path, on_event=events.append) as runtime:
        info = await runtime.create(config("sleep 60"), rootfs=str(rootfs), name="watched")
        await runtime.start(info.id)
        await runtime.pause(info.id)
        await runtime.unpause(info.id)
        runtime.rename(info.id, "renamed")
        await runtime.kill(info.id, "SIGKILL")
        await runtime.wait(info.id)
        await runtime.remove(info.id)
    actions = [(event.action, dict(event.attributes)) for event in events]
    assert actions == [
        ("create", {}),
        ("start", {}),
        ("pause", {}),
        ("unpause", {}),
        ("rename", {"oldName": "/watched"}),
        ("kill", {"signal": "9"}),
        ("die", {"exitCode": "137"}),
        ("destroy", {}),
    ]
    assert {event.container_id for event in events} == {info.id}


async def test_a_root_from_overlay_mounts_is_mounted_and_unmounted(tmp_path, busybox_template):
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    overlay = {
        "type": "overlay",
        "source": "overlay",
        "options": [f"lowerdir={busybox_template}", f"upperdir={upper}", f"workdir={work}"],
    }
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config("echo changed > /etc/motd; cat /etc/motd"), rootfs_mounts=[overlay]
        )
        merged = info.directory / "rootfs"
        assert merged.is_mount()
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        assert (upper / "etc/motd").read_text() == "changed\n"
        assert not (busybox_template / "etc/motd").exists()
        await runtime.remove(info.id)
        assert not merged.exists()


async def test_restore_applies_the_restart_policy_to_what_exited_meanwhile(tmp_path, rootfs):
    first = ContainerRuntime(
        tmp_path / "containers",
        runc=Runc(state_root=str(tmp_path / "runc-state")),
        socket_dir=str(tmp_path / "first-attach"),
    )
    async with first:
        info = await first.create(
            config("sleep 0.3; exit 1", HostConfig={"RestartPolicy": {"Name": "always"}}),
            rootfs=str(rootfs),
        )
        await first.start(info.id)
        pid = first.inspect(info.id).pid
    # it exits while no engine watches
    await wait_until_async(lambda: not Path(f"/proc/{pid}").exists(), 60, f"pid {pid} to exit")
    async with runtime_in(tmp_path) as second:
        assert await second.restore() == [info.id]
        await wait_until_async(
            lambda: second.inspect(info.id).restart_count >= 1, 60, "a restart after restore"
        )
        assert second.inspect(info.id).exit_code in (0, 1)


async def test_directories_of_removed_containers_are_deleted_in_the_background(tmp_path, rootfs):
    leftover = tmp_path / "containers" / ".removed-0123"
    (leftover / "deep").mkdir(parents=True)
    (leftover / "deep" / "file").write_text("x")
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("true"), rootfs=str(rootfs))
        await runtime.remove(info.id)
        assert not info.directory.exists()
        await wait_until_async(
            lambda: not any(runtime.root.iterdir()), 60, "the leftover to be deleted"
        )


async def test_wait_next_exit_catches_a_run_shorter_than_any_poll(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(config("exit 4"), rootfs=str(rootfs))
        async with anyio.create_task_group() as group:
            codes = []

            async def waiter():
                codes.append(await runtime.wait(info.id, "next-exit"))

            group.start_soon(waiter)
            await anyio.sleep(0.05)
            await runtime.start(info.id)
        assert codes == [4]
        # Not running now: next-exit waits for the next run, not the last one.
        with anyio.move_on_after(0.5) as scope:
            await runtime.wait(info.id, "next-exit")
        assert scope.cancelled_caught
