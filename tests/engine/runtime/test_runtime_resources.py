"""The resource, cgroup and logging options of HostConfig, seen from inside a real container.

cgroup v1 here: the container sees its own groups at /sys/fs/cgroup/<controller>/. What the
host cannot do is refused at create, by the option's name, with nothing left behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from runtime_helpers import needs_runtime, runtime_in

from engine.api.errors import InvalidParameter
from engine.api.models import ContainerCreate
from engine.errors import Unsupported

pytestmark = [pytest.mark.root, pytest.mark.anyio, needs_runtime]

V1 = Path("/sys/fs/cgroup/memory").is_dir()


def config(command: str, **host_config: object) -> ContainerCreate:
    return ContainerCreate.model_validate({"Cmd": ["sh", "-c", command], "HostConfig": host_config})


async def run_to_end(runtime, rootfs: Path, command: str, **host_config: object) -> str:
    info = await runtime.create(config(command, **host_config), rootfs=str(rootfs))
    await runtime.start(info.id)
    code = await runtime.wait(info.id)
    output = "".join([entry.message.decode() + "\n" async for entry in runtime.logs(info.id)])
    await runtime.remove(info.id)
    assert code == 0, output
    return output


def made(tmp_path: Path) -> list[str]:
    """The container directories (not those removed, whose trash is cleared in the background)."""
    return [p.name for p in (tmp_path / "containers").iterdir() if not p.name.startswith(".")]


def block_device() -> tuple[str, int, int]:
    """A block device of the host: (path, major, minor)."""
    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode):
            rdev = os.stat(path).st_rdev
            return path, os.major(rdev), os.minor(rdev)
    raise AssertionError("no block device on this host")


@pytest.mark.skipif(not V1, reason="cgroup v1 paths")
async def test_memory_cpu_and_oom_options_reach_the_cgroup(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        output = await run_to_end(
            runtime,
            rootfs,
            "cd /sys/fs/cgroup; cat memory/memory.soft_limit_in_bytes memory/memory.swappiness "
            "cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us; grep oom_kill_disable "
            "memory/memory.oom_control",
            Memory=64 << 20,
            MemoryReservation=32 << 20,
            MemorySwappiness=7,
            CpuPeriod=50000,
            CpuQuota=20000,
            OomKillDisable=True,
        )
        assert output.split() == [str(32 << 20), "7", "50000", "20000", "oom_kill_disable", "1"]


@pytest.mark.skipif(not V1, reason="cgroup v1 paths")
async def test_a_real_time_budget_is_given_to_the_container(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        output = await run_to_end(
            runtime,
            rootfs,
            "cat /sys/fs/cgroup/cpu/cpu.rt_period_us /sys/fs/cgroup/cpu/cpu.rt_runtime_us",
            CpuRealtimePeriod=1_000_000,
            CpuRealtimeRuntime=10_000,
        )
        assert output.split() == ["1000000", "10000"]
        with pytest.raises(InvalidParameter, match="cpu-rt-runtime cannot be higher"):
            await runtime.create(
                config("true", CpuRealtimePeriod=1000, CpuRealtimeRuntime=2000), rootfs=str(rootfs)
            )


@pytest.mark.skipif(not V1, reason="cgroup v1 paths")
async def test_block_io_throttles_name_the_device_and_weights_need_a_scheduler(tmp_path, rootfs):
    path, major, minor = block_device()
    async with runtime_in(tmp_path) as runtime:
        output = await run_to_end(
            runtime,
            rootfs,
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
            "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
            BlkioDeviceReadBps=[{"Path": path, "Rate": 1 << 20}],
            BlkioDeviceWriteIOps=[{"Path": path, "Rate": 100}],
        )
        assert output.split() == [f"{major}:{minor}", str(1 << 20), f"{major}:{minor}", "100"]
        with pytest.raises(InvalidParameter, match="not a block device"):
            await runtime.create(
                config("true", BlkioDeviceReadBps=[{"Path": "/etc/hostname", "Rate": 1}]),
                rootfs=str(rootfs),
            )
        weighted = config("cat /sys/fs/cgroup/blkio/blkio*weight", BlkioWeight=300)
        if Path("/sys/fs/cgroup/blkio/blkio.weight").exists():
            info = await runtime.create(weighted, rootfs=str(rootfs))
            await runtime.remove(info.id, force=True)
        else:
            with pytest.raises(InvalidParameter, match="block I/O weights"):
                await runtime.create(weighted, rootfs=str(rootfs))
        assert runtime.all() == []


async def test_logging_driver_none_keeps_nothing_and_unknown_drivers_are_refused(tmp_path, rootfs):
    async with runtime_in(tmp_path) as runtime:
        info = await runtime.create(
            config("echo secret-output", LogConfig={"Type": "none"}), rootfs=str(rootfs)
        )
        await runtime.start(info.id)
        assert await runtime.wait(info.id) == 0
        with pytest.raises(Unsupported, match="does not support reading"):
            [entry async for entry in runtime.logs(info.id)]
        assert not any(b"secret-output" in p.read_bytes() for p in tmp_path.rglob("*.log*"))
        await runtime.remove(info.id)
        kept = await run_to_end(
            runtime, rootfs, "echo kept", LogConfig={"Type": "local", "Config": {"max-size": "1m"}}
        )
        assert kept == "kept\n"
        for log_config, words in (
            ({"Type": "syslog"}, "logging driver 'syslog'"),
            ({"Type": "json-file", "Config": {"compress": "true"}}, "unknown log opt 'compress'"),
            ({"Type": "none", "Config": {"max-size": "1m"}}, "unknown log opt 'max-size'"),
        ):
            with pytest.raises(InvalidParameter, match=words):
                await runtime.create(config("true", LogConfig=log_config), rootfs=str(rootfs))
        assert runtime.all() == []
        assert made(tmp_path) == []


@pytest.mark.parametrize(
    ("host_config", "words"),
    [
        ({"Runtime": "kata"}, "unknown or invalid runtime name: kata"),
        ({"UsernsMode": "private"}, "user namespace mode"),
        ({"StorageOpt": {"size": "1G"}}, "storage options"),
        ({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, "device driver"),
        ({"MemorySwappiness": 101}, "swappiness range is 0-100"),
        ({"Memory": 64 << 20, "MemoryReservation": 128 << 20}, "memory reservation"),
        ({"CgroupnsMode": "private"} if V1 else {"CgroupnsMode": "bad"}, "cgroup"),
    ],
)
async def test_what_the_engine_cannot_honour_is_refused_at_create(
    tmp_path, rootfs, host_config, words
):
    async with runtime_in(tmp_path) as runtime:
        with pytest.raises(InvalidParameter, match=words):
            await runtime.create(config("true", **host_config), rootfs=str(rootfs))
        assert runtime.all() == []
        assert made(tmp_path) == []
