"""A container's HostConfig resources -> the OCI ``linux.resources`` section. Pure.

Docker's fields and checks (moby ``daemon/daemon_unix.go``): memory, swap, swappiness,
reservation and the OOM killer; CPU shares, CFS period/quota or NanoCpus, real-time period
and runtime, cpusets; the pids limit; block I/O weights and throttles. Where Docker
*discards* a setting the kernel cannot do (with a warning nobody reads), this engine refuses
it: a limit that was asked for and not applied is a lie. The options the engine has no
implementation for (another runtime, user namespaces, storage quotas, device requests)
are refused by :func:`check_host_options`, naming the option.

What the host can do is in the :class:`engine.runtime.spec.SpecContext` the caller fills
in (cgroup files present or not; block devices as ``os.stat`` sees them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.api.models import HostConfig, ThrottleDevice, WeightDevice
from engine.errors import InvalidParameter

if TYPE_CHECKING:
    from engine.runtime.spec import HostDevice, SpecContext

RUNTIMES = ("", "runc")


def check_host_options(host_config: HostConfig) -> None:
    """Refuse the HostConfig options this engine does not implement (Docker's wording)."""
    if host_config.runtime not in RUNTIMES:
        raise InvalidParameter(
            f"unknown or invalid runtime name: {host_config.runtime}",
            hint="this engine runs containers with runc only (runtime: runc, or unset)",
        )
    if host_config.userns_mode not in ("", "host"):
        raise InvalidParameter(
            f"user namespace mode {host_config.userns_mode!r} is not supported: the engine "
            "does not remap users (no --userns-remap)",
            hint="use userns_mode: host, or leave it unset",
        )
    if host_config.storage_opt:
        raise InvalidParameter(
            f"storage options {sorted(host_config.storage_opt)} are not supported: the "
            "overlay storage of this engine has no per-container quota "
            "(Docker needs overlay over xfs with pquota)",
            hint="remove storage_opt",
        )
    if host_config.device_requests:
        drivers = sorted({request.Driver or "(any)" for request in host_config.device_requests})
        capabilities = sorted(
            {
                capability
                for request in host_config.device_requests
                for group in request.Capabilities or []
                for capability in group
            }
        )
        raise InvalidParameter(
            f"could not select device driver {', '.join(drivers)} with capabilities "
            f"{capabilities}: this engine has no device-request runtime (no GPU support)",
            hint="remove gpus and deploy.resources.reservations.devices",
        )


def _memory(host_config: HostConfig, context: SpecContext) -> dict[str, Any]:
    memory: dict[str, Any] = {}
    if host_config.memory:
        memory["limit"] = host_config.memory
        if context.swap_supported:
            if host_config.memory_swap == 0:
                memory["swap"] = host_config.memory * 2
            else:
                memory["swap"] = host_config.memory_swap
    elif host_config.memory_swap and host_config.memory_swap != -1:
        raise InvalidParameter(
            "you should always set the memory limit when using a memory+swap limit",
            hint="set mem_limit as well as memswap_limit",
        )
    if host_config.memory and 0 < host_config.memory_swap < host_config.memory:
        raise InvalidParameter(
            "minimum memoryswap limit should be larger than memory limit",
            hint="memswap_limit is memory plus swap: make it at least mem_limit (-1: unlimited)",
        )
    if host_config.memory_reservation:
        if host_config.memory and host_config.memory < host_config.memory_reservation:
            raise InvalidParameter(
                "minimum memory limit can not be less than memory reservation limit",
                hint="make mem_reservation at most mem_limit",
            )
        memory["reservation"] = host_config.memory_reservation
    swappiness = host_config.memory_swappiness
    if swappiness is not None and swappiness != -1:
        if not 0 <= swappiness <= 100:
            raise InvalidParameter(
                f"invalid value: {swappiness}, valid memory swappiness range is 0-100"
            )
        if not context.swappiness_supported:
            raise InvalidParameter(
                "memory swappiness (mem_swappiness) needs cgroup v1's memory.swappiness; "
                "cgroup v2 has no per-group swappiness",
                hint="remove mem_swappiness",
            )
        memory["swappiness"] = swappiness
    if host_config.oom_kill_disable is not None:
        memory["disableOOMKiller"] = host_config.oom_kill_disable
    return memory


def _cpu(host_config: HostConfig, context: SpecContext) -> dict[str, Any]:
    cpu: dict[str, Any] = {}
    if host_config.cpu_shares:
        cpu["shares"] = host_config.cpu_shares
    if host_config.nano_cpus:
        if host_config.cpu_quota or host_config.cpu_period:
            raise InvalidParameter(
                "conflicting options: nano CPUs and CPU period/quota cannot both be set"
            )
        cpu["period"] = 100000
        cpu["quota"] = host_config.nano_cpus * 100000 // 1_000_000_000
    if host_config.cpu_period and not 1000 <= host_config.cpu_period <= 1_000_000:
        raise InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s"
        )
    if host_config.cpu_quota and 0 < host_config.cpu_quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if host_config.cpu_quota:
        cpu["quota"] = host_config.cpu_quota
    if host_config.cpu_period:
        cpu["period"] = host_config.cpu_period
    period, runtime = host_config.cpu_realtime_period, host_config.cpu_realtime_runtime
    if period or runtime:
        if not context.realtime_supported:
            raise InvalidParameter(
                "the kernel does not support cgroup cpu real-time scheduling "
                "(cpu_rt_period, cpu_rt_runtime need CONFIG_RT_GROUP_SCHED and cgroup v1)",
                hint="remove cpu_rt_period and cpu_rt_runtime",
            )
        if period and runtime > period:
            raise InvalidParameter("cpu-rt-runtime cannot be higher than cpu-rt-period")
        if period:
            cpu["realtimePeriod"] = period
        if runtime:
            cpu["realtimeRuntime"] = runtime
    if host_config.cpuset_cpus:
        cpu["cpus"] = host_config.cpuset_cpus
    if host_config.cpuset_mems:
        cpu["mems"] = host_config.cpuset_mems
    return cpu


def _block_device(path: str, context: SpecContext) -> HostDevice:
    device = context.block_devices.get(path)
    if device is None or device.kind != "b":
        raise InvalidParameter(
            f"{path!r} is not a block device on the host (blkio_config needs one)",
            hint="name a block device such as /dev/sda",
        )
    return device


def _throttles(
    entries: Sequence[ThrottleDevice] | None, context: SpecContext
) -> list[dict[str, int]]:
    result = []
    for entry in entries or ():
        device = _block_device(entry.Path, context)
        result.append({"major": device.major, "minor": device.minor, "rate": entry.Rate})
    return result


def _weights(entries: Sequence[WeightDevice] | None, context: SpecContext) -> list[dict[str, int]]:
    result = []
    for entry in entries or ():
        if not 10 <= entry.Weight <= 1000:
            raise InvalidParameter(
                f"invalid blkio weight {entry.Weight} for {entry.Path}: it must be 10-1000"
            )
        device = _block_device(entry.Path, context)
        result.append({"major": device.major, "minor": device.minor, "weight": entry.Weight})
    return result


def _block_io(host_config: HostConfig, context: SpecContext) -> dict[str, Any]:
    block_io: dict[str, Any] = {}
    if host_config.blkio_weight or host_config.blkio_weight_device:
        if not context.blkio_weight_supported:
            raise InvalidParameter(
                "block I/O weights (blkio_config.weight, weight_device) are not available on "
                "this host: the cgroup has no blkio.weight/io.weight (the I/O scheduler is "
                "not BFQ)",
                hint="remove the weights; device_read_bps and the other throttles do work",
            )
        if host_config.blkio_weight:
            if not 10 <= host_config.blkio_weight <= 1000:
                raise InvalidParameter("range of blkio weight is from 10 to 1000")
            block_io["weight"] = host_config.blkio_weight
        weights = _weights(host_config.blkio_weight_device, context)
        if weights:
            block_io["weightDevice"] = weights
    for key, entries in (
        ("throttleReadBpsDevice", host_config.blkio_device_read_bps),
        ("throttleWriteBpsDevice", host_config.blkio_device_write_bps),
        ("throttleReadIOPSDevice", host_config.blkio_device_read_i_ops),
        ("throttleWriteIOPSDevice", host_config.blkio_device_write_i_ops),
    ):
        throttles = _throttles(entries, context)
        if throttles:
            block_io[key] = throttles
    return block_io


def block_device_paths(host_config: HostConfig) -> list[str]:
    """The host paths that blkio settings name (the caller stats them)."""
    return [
        entry.Path
        for entries in (
            host_config.blkio_weight_device,
            host_config.blkio_device_read_bps,
            host_config.blkio_device_write_bps,
            host_config.blkio_device_read_i_ops,
            host_config.blkio_device_write_i_ops,
        )
        for entry in entries or ()
    ]


def resources_section(host_config: HostConfig, context: SpecContext) -> dict[str, Any]:
    """``linux.resources`` without the device rules (the spec adds those)."""
    resources: dict[str, Any] = {}
    memory = _memory(host_config, context)
    if memory:
        resources["memory"] = memory
    cpu = _cpu(host_config, context)
    if cpu:
        resources["cpu"] = cpu
    if host_config.pids_limit is not None and host_config.pids_limit != 0:
        resources["pids"] = {"limit": host_config.pids_limit if host_config.pids_limit > 0 else -1}
    block_io = _block_io(host_config, context)
    if block_io:
        resources["blockIO"] = block_io
    return resources


def realtime_runtime(resources: Mapping[str, Any]) -> tuple[int, int]:
    """(period, runtime) of a spec's real-time CPU request; (0, 0) when none."""
    cpu = resources.get("cpu") or {}
    return int(cpu.get("realtimePeriod") or 0), int(cpu.get("realtimeRuntime") or 0)
