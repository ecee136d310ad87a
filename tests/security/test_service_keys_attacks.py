"""Hostile HostConfig resource options: nothing written outside the cgroup tree, nothing
read but device numbers, every bad value a 400 naming it (never a crash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api.models import ContainerCreate
from engine.errors import InvalidParameter
from engine.runtime import bundle, realtime
from engine.runtime.resources import resources_section
from engine.runtime.spec import HostDevice, SpecContext


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "parent", ["../../../escape", "/pycompose/../../escape", "a/../../../../escape"]
)
def test_a_real_time_budget_never_writes_outside_the_cpu_hierarchy(tmp_path, parent):
    root = tmp_path / "cpu"
    root.mkdir()
    realtime.reserve(f"{parent}/c0ffee", 1_000_000, 10_000, root=root)
    assert not (tmp_path / "escape").exists()
    assert all(not name.startswith("..") for name in _tree(root))


def test_a_real_time_budget_stops_at_many_siblings(tmp_path):
    root = tmp_path / "cpu"
    parent = root / "pycompose"
    parent.mkdir(parents=True)
    for index in range(realtime.MAX_CHILDREN + 50):
        (parent / f"c{index}").mkdir()
    realtime.reserve("/pycompose/new", 1_000_000, 10_000, root=root)
    assert (parent / "cpu.rt_runtime_us").read_text() == "10000"


def _context(**fields) -> SpecContext:
    return SpecContext(container_id="c0ffee", rootfs="/nonexistent", **fields)


@pytest.mark.parametrize(
    "host_config",
    [
        {"BlkioDeviceReadBps": [{"Path": "/etc/shadow", "Rate": 1}]},
        {"BlkioDeviceWriteIOps": [{"Path": "/dev/null", "Rate": 1}]},  # a char device
        {"BlkioWeightDevice": [{"Path": "/dev/vda", "Weight": 5}]},
        {"MemorySwappiness": -5},
        {"CpuPeriod": 10**12},
        {"CpuQuota": 1},
    ],
)
def test_bad_resource_values_are_refused_by_name(host_config):
    config = ContainerCreate.model_validate({"HostConfig": host_config})
    devices = {
        "/dev/null": HostDevice("/dev/null", "c", 1, 3),
        "/dev/vda": HostDevice("/dev/vda", "b", 254, 0),
    }
    with pytest.raises(InvalidParameter):
        resources_section(config.host_config, _context(block_devices=devices))


@pytest.mark.parametrize("size", ["1e999k", "nan", "-", "9" * 5000])
def test_hostile_log_sizes_are_a_bad_parameter_not_a_crash(size):
    config = ContainerCreate.model_validate(
        {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": size}}}}
    )
    with pytest.raises(InvalidParameter):
        bundle.log_limits(config)


@pytest.mark.parametrize(
    "link",
    [
        "db:evil\n10.0.0.1 victim",
        "db\n1.2.3.4 x:alias",
        "db:" + "a" * 300,
        "../../etc:alias",
        "db:-leading-dash",
    ],
)
def test_a_link_cannot_write_its_own_lines_into_etc_hosts(link):
    from engine.daemon.networking import link_hosts
    from engine.network.records import Sandbox

    sandbox = Sandbox(id="me", netns="/nonexistent", name="me", hostname="me", upstreams=())
    with pytest.raises(InvalidParameter, match="invalid link"):
        link_hosts(sandbox, [link], lambda ref: ref, {})


def test_links_are_bounded():
    from engine.daemon.networking import MAX_LINKS, link_hosts
    from engine.network.records import Sandbox

    sandbox = Sandbox(id="me", netns="/nonexistent", name="me", hostname="me", upstreams=())
    with pytest.raises(InvalidParameter, match="too many links"):
        link_hosts(sandbox, ["db:x"] * (MAX_LINKS + 1), lambda ref: ref, {})
