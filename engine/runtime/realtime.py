"""Real-time CPU budget for a container's cgroup ancestors (cgroup v1, CONFIG_RT_GROUP_SCHED).

The kernel lets a cgroup's tasks use SCHED_FIFO/SCHED_RR for ``cpu.rt_runtime_us`` out of
every ``cpu.rt_period_us``, and a group's share may not exceed what its parent has left
for its children. New groups get 0, so a container asking for a budget (``cpu_rt_runtime``)
needs its ancestors (``/pycompose`` or its ``cgroup_parent``) to hold at least the sum of
their children's shares. dockerd does the same from its ``--cpu-rt-runtime`` option
(``initCPURtController``); here each ancestor is raised to exactly what its children need,
so the budget taken from the host is what the containers asked for. The root's own limit
(``kernel.sched_rt_runtime_us``, 95% by default) stays the kernel's to enforce.
"""

from __future__ import annotations

import math
from pathlib import Path

from engine.errors import InvalidParameter

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
MAX_CHILDREN = 4096


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _share(group: Path) -> float:
    """The fraction of a CPU that ``group`` may run real-time tasks for."""
    period = _read_int(group / "cpu.rt_period_us")
    return _read_int(group / "cpu.rt_runtime_us") / period if period > 0 else 0.0


def _children_share(group: Path, skip: Path) -> float:
    total = 0.0
    for count, child in enumerate(group.iterdir()):
        if count >= MAX_CHILDREN:
            break
        if child.is_dir() and child != skip and not child.is_symlink():
            total += _share(child)
    return total


def reserve(cgroups_path: str, period: int, runtime: int, root: Path = CPU_ROOT) -> None:
    """Give the ancestors of ``cgroups_path`` room for ``runtime`` out of ``period`` µs.

    Error handling: a budget the kernel refuses (more than the host's real-time share
    left) is an InvalidParameter naming cpu_rt_runtime.
    """
    if runtime <= 0:
        return
    parts = [part for part in cgroups_path.strip("/").split("/") if part and part != ".."]
    if len(parts) < 2:
        return
    own = root.joinpath(*parts)
    ancestors = [root.joinpath(*parts[:depth]) for depth in range(1, len(parts))]
    wanted = runtime / (period or 1_000_000)
    ancestors[-1].mkdir(parents=True, exist_ok=True)
    needs: list[tuple[Path, float]] = []
    child = own
    for group in reversed(ancestors):  # bottom up: what each must hold for its children
        wanted += _children_share(group, skip=child)
        needs.append((group, wanted))
        wanted = max(wanted, _share(group))
        child = group
    for group, share in reversed(needs):  # top down: a parent before its children
        group_period = _read_int(group / "cpu.rt_period_us") or 1_000_000
        needed = math.ceil(share * group_period)
        if needed <= _read_int(group / "cpu.rt_runtime_us"):
            continue
        try:
            (group / "cpu.rt_runtime_us").write_text(str(needed))
        except OSError as exc:
            raise InvalidParameter(
                f"cpu_rt_runtime: the host cannot give {runtime}us of real-time CPU per "
                f"{period or 1_000_000}us to the cgroup {cgroups_path} ({exc.strerror}): "
                "the real-time budget left on this host is smaller",
                hint="lower cpu_rt_runtime (kernel.sched_rt_runtime_us caps the total)",
            ) from None
