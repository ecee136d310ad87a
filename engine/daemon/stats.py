"""``GET /containers/{id}/stats``: a container's resource usage, read from its cgroups.

Works with cgroup v1 (per-controller hierarchies) and v2 (unified). The answer has the
keys ``docker stats`` reads: ``read``/``preread``, ``cpu_stats``/``precpu_stats``
(``cpu_usage.total_usage`` in ns, ``system_cpu_usage`` in ns, ``online_cpus``),
``memory_stats`` (``usage``, ``limit``, ``stats``), ``pids_stats``, ``networks`` (from the
container's ``/proc/<pid>/net/dev``) and ``blkio_stats``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _int(text: str, default: int = 0) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else default


def cgroup_paths(pid: int) -> dict[str, Path]:
    """Controller -> cgroup directory of ``pid`` (``""`` is the v2 unified hierarchy)."""
    paths: dict[str, Path] = {}
    for line in _read(Path(f"/proc/{pid}/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            paths[""] = CGROUP_ROOT / "unified" / path.lstrip("/")
            if (CGROUP_ROOT / "cgroup.controllers").exists():
                paths[""] = CGROUP_ROOT / path.lstrip("/")
            continue
        for controller in controllers.split(","):
            directory = CGROUP_ROOT / controllers / path.lstrip("/")
            if not directory.exists():
                directory = CGROUP_ROOT / controller / path.lstrip("/")
            paths[controller] = directory
    return paths


def _system_cpu_ns() -> int:
    for line in _read(Path("/proc/stat")).splitlines():
        if line.startswith("cpu "):
            return sum(int(v) for v in line.split()[1:8]) * (1_000_000_000 // USER_HZ)
    return 0


def _memory(paths: dict[str, Path]) -> dict[str, Any]:
    if "memory" in paths:
        directory = paths["memory"]
        stats = {}
        for line in _read(directory / "memory.stat").splitlines():
            key, _, value = line.partition(" ")
            stats[key] = _int(value)
        limit = _int(_read(directory / "memory.limit_in_bytes"))
        return {
            "usage": _int(_read(directory / "memory.usage_in_bytes")),
            "max_usage": _int(_read(directory / "memory.max_usage_in_bytes")),
            "limit": min(limit, _mem_total()) if limit else _mem_total(),
            "stats": stats,
        }
    directory = paths.get("", CGROUP_ROOT)
    stats = {}
    for line in _read(directory / "memory.stat").splitlines():
        key, _, value = line.partition(" ")
        stats[key] = _int(value)
    limit_text = _read(directory / "memory.max").strip()
    limit = _int(limit_text) if limit_text != "max" else _mem_total()
    return {"usage": _int(_read(directory / "memory.current")), "limit": limit, "stats": stats}


def _cpu(paths: dict[str, Path]) -> dict[str, Any]:
    total = 0
    if "cpuacct" in paths:
        total = _int(_read(paths["cpuacct"] / "cpuacct.usage"))
    else:
        for line in _read(paths.get("", CGROUP_ROOT) / "cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                total = _int(value) * 1000
    return {
        "cpu_usage": {"total_usage": total, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "system_cpu_usage": _system_cpu_ns(),
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _pids(paths: dict[str, Path]) -> dict[str, Any]:
    directory = paths.get("pids", paths.get("", CGROUP_ROOT))
    limit_text = _read(directory / "pids.max").strip()
    result = {"current": _int(_read(directory / "pids.current"))}
    if limit_text.isdigit():
        result["limit"] = int(limit_text)
    return result


def _networks(pid: int) -> dict[str, Any]:
    networks = {}
    for line in _read(Path(f"/proc/{pid}/net/dev")).splitlines()[2:]:
        name, _, counters = line.partition(":")
        name = name.strip()
        values = [int(v) for v in counters.split()]
        if name == "lo" or len(values) < 16:
            continue
        networks[name] = {
            "rx_bytes": values[0],
            "rx_packets": values[1],
            "rx_errors": values[2],
            "rx_dropped": values[3],
            "tx_bytes": values[8],
            "tx_packets": values[9],
            "tx_errors": values[10],
            "tx_dropped": values[11],
        }
    return networks


def _mem_total() -> int:
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def sample(pid: int) -> dict[str, Any]:
    """One reading of the container whose init is ``pid`` (0: not running, all zero)."""
    if pid <= 0:
        return {
            "read": _now(),
            "cpu_stats": {
                "cpu_usage": {"total_usage": 0},
                "system_cpu_usage": 0,
                "online_cpus": os.cpu_count() or 1,
            },
            "memory_stats": {},
            "pids_stats": {},
            "networks": {},
        }
    paths = cgroup_paths(pid)
    return {
        "read": _now(),
        "pids_stats": _pids(paths),
        "blkio_stats": {"io_service_bytes_recursive": None},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(paths),
        "memory_stats": _memory(paths),
        "networks": _networks(pid),
    }


def stats_document(
    previous: dict[str, Any], current: dict[str, Any], name: str, container_id: str
) -> dict[str, Any]:
    """Docker's stats JSON from two samples (``precpu`` = the earlier one)."""
    return {
        **current,
        "preread": previous.get("read", ""),
        "precpu_stats": previous.get("cpu_stats", {}),
        "name": "/" + name,
        "id": container_id,
    }
