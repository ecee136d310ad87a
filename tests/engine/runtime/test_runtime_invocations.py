"""What a container's run costs in runtime processes: conmon (which runs ``runc create``)
and nothing more; the engine lets the process run and deletes runc's state itself, the way
runc does, and leaves it to runc whenever the case is not the plain one."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import anyio
import pytest
from runtime_helpers import needs_runtime, runtime_in

from engine.api.models import ContainerCreate
from engine.runtime import runc as runc_module
from engine.runtime.runc import RuntimeExitError

pytestmark = [pytest.mark.anyio]


def _record_verbs(runtime) -> list[str]:
    verbs: list[str] = []
    original = runtime.runc._run

    async def run(verb: str, *args: str, check: bool = True) -> bytes:
        verbs.append(verb)
        return await original(verb, *args, check=check)

    runtime.runc._run = run
    return verbs


@pytest.mark.root
@needs_runtime
async def test_a_run_costs_no_runc_start_or_delete_and_leaves_nothing(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        verbs = _record_verbs(runtime)
        config = ContainerCreate.model_validate({"Cmd": ["sh", "-c", "echo up; sleep 60"]})
        info = await runtime.create(config, rootfs=str(rootfs))
        await runtime.start(info.id)
        state_dir = Path(runtime.runc.state_root) / info.id
        state = json.loads((state_dir / "state.json").read_text())
        cgroups = [Path(p) for p in state["cgroup_paths"].values()]
        assert cgroups and all(p.is_dir() for p in cgroups)
        assert not (state_dir / "exec.fifo").exists()  # runc's mark of "created" is gone
        assert (await runtime.runc.state(info.id)).status == "running"
        await runtime.kill(info.id, "SIGKILL")
        assert await runtime.wait(info.id) == 137
        assert not state_dir.exists()
        assert [p for p in cgroups if p.exists()] == []
        assert "start" not in verbs and "delete" not in verbs
        # and the container starts again (a new run on the same bundle)
        await runtime.start(info.id)
        assert runtime.inspect(info.id).state.value == "running"
        await runtime.remove(info.id, force=True)
        assert not state_dir.exists()


@pytest.mark.root
@needs_runtime
async def test_a_shared_pid_namespace_is_deleted_by_runc(tmp_path, rootfs):
    """runc's delete kills what is left in the cgroup when the pid namespace is not the
    container's own: the engine leaves that case to runc."""
    async with runtime_in(tmp_path) as runtime:
        verbs = _record_verbs(runtime)
        config = ContainerCreate.model_validate(
            {"Cmd": ["true"], "HostConfig": {"PidMode": "host"}}
        )
        info = await runtime.create(config, rootfs=str(rootfs))
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        assert "delete" in verbs
        assert not (Path(runtime.runc.state_root) / info.id).exists()
        await runtime.remove(info.id)


async def test_release_of_an_init_reads_its_byte_then_waits_for_its_exec(tmp_path):
    fifo = tmp_path / "exec.fifo"
    os.mkfifo(fifo)
    released = threading.Event()

    def init() -> None:  # runc's init: open, write "0", close as it executes
        with open(fifo, "wb") as writer:
            writer.write(b"0")
            writer.flush()
            released.wait(5)

    thread = threading.Thread(target=init)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    returned = anyio.Event()

    async def release() -> None:
        await runc_module._release_init(fd, os.getpid())
        returned.set()

    thread.start()
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(release)
                await anyio.sleep(0.3)
                assert not returned.is_set()  # the byte came; the exec (close) not yet
                released.set()
            assert returned.is_set()
    finally:
        released.set()
        thread.join()
        os.close(fd)


async def test_release_of_a_dead_init_is_an_error(tmp_path):
    fifo = tmp_path / "exec.fifo"
    os.mkfifo(fifo)
    dead = subprocess.Popen(["true"])
    dead.wait()
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with anyio.fail_after(10), pytest.raises(RuntimeExitError, match="already dead"):
            await runc_module._release_init(fd, dead.pid)
    finally:
        os.close(fd)


@pytest.mark.root
@needs_runtime
async def test_attack_nested_cgroups_below_the_containers_are_removed_too(tmp_path, rootfs):
    """A privileged container (its cgroups writable) can make cgroups below its own, so
    that rmdir cannot remove its own: the engine then hands the delete to runc, which
    removes them all, and nothing stays behind. (Made here from the host: privileged
    containers cannot start on every test machine.)"""
    async with runtime_in(tmp_path) as runtime:
        verbs = _record_verbs(runtime)
        config = ContainerCreate.model_validate({"Cmd": ["sleep", "60"]})
        info = await runtime.create(config, rootfs=str(rootfs))
        await runtime.start(info.id)
        state_dir = Path(runtime.runc.state_root) / info.id
        state = json.loads((state_dir / "state.json").read_text())
        cgroups = [Path(p) for p in state["cgroup_paths"].values()]
        for cgroup in cgroups:
            (cgroup / "nested" / "deeper").mkdir(parents=True)
        await runtime.kill(info.id, "SIGKILL")
        assert await runtime.wait(info.id) == 137
        assert "delete" in verbs  # the engine's rmdir met the nested cgroups
        assert [p for p in cgroups if p.exists()] == []
        assert not state_dir.exists()
        await runtime.remove(info.id)
