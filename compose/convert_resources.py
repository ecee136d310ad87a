"""A service's resource, cgroup, restart, logging and link keys -> HostConfig fields. Pure.

What docker compose 2.40 sends (``pkg/compose/create.go``: ``getCreateConfigs``,
``setLimits``, ``setReservations``, ``setBlkio``, ``getRestartPolicy``, ``getLinks``):
``deploy.resources.limits`` override ``mem_limit``/``cpus``/``pids_limit`` and
``deploy.restart_policy`` overrides ``restart``, because docker compose applies them last.
Whether the engine can do each of them (cgroup files, a GPU runtime) is the engine's to say;
compose.keys lists what pycompose refuses before asking it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compose import model as models
from compose import model_parts as parts
from engine.api.models import (
    DeviceRequest,
    LogConfig,
    RestartPolicy,
    ThrottleDevice,
    WeightDevice,
)


def _limits(service: models.Service) -> parts.Resource | None:
    return service.deploy.resources.limits if service.deploy else None


def _reservations(service: models.Service) -> parts.Resource | None:
    return service.deploy.resources.reservations if service.deploy else None


def _memory(service: models.Service) -> int:
    limits = _limits(service)
    if limits and limits.memory:
        return limits.memory
    return service.mem_limit or 0


def _nano_cpus(service: models.Service) -> int:
    limits = _limits(service)
    cpus = limits.cpus if limits and limits.cpus else service.cpus
    return round(float(cpus) * 1e9) if cpus else 0


def _pids_limit(service: models.Service) -> int | None:
    limits = _limits(service)
    if limits and limits.pids and limits.pids > 0:
        return limits.pids
    return service.pids_limit or None


def _memory_reservation(service: models.Service) -> int:
    reservations = _reservations(service)
    if reservations and reservations.memory:
        return reservations.memory
    return service.mem_reservation or 0


def _device_requests(service: models.Service) -> list[DeviceRequest] | None:
    requests: list[parts.DeviceRequest] = [*(service.gpus or [])]
    reservations = _reservations(service)
    if reservations:
        requests.extend(reservations.devices or [])
    if not requests:
        return None
    result = []
    for request in requests:
        capabilities = list(request.capabilities or [])
        if isinstance(request, parts.GpuRequest) and "gpu" not in capabilities:
            capabilities.append("gpu")  # `gpus:` asks for GPUs, as docker compose sends it
        result.append(
            DeviceRequest(
                Driver=request.driver or "",
                Count=int(request.count or 0),
                DeviceIDs=list(request.device_ids or []) or None,
                Capabilities=[capabilities],
                Options=dict(request.options or {}) or None,
            )
        )
    return result


def _throttles(entries: Sequence[parts.ThrottleDevice] | None) -> list[ThrottleDevice] | None:
    if not entries:
        return None
    return [ThrottleDevice(Path=entry.path, Rate=entry.rate) for entry in entries]


def _blkio(blkio: parts.Blkio | None) -> dict[str, Any]:
    if blkio is None:
        return {}
    fields: dict[str, Any] = {
        "blkio_weight": blkio.weight or 0,
        "blkio_device_read_bps": _throttles(blkio.device_read_bps),
        "blkio_device_write_bps": _throttles(blkio.device_write_bps),
        "blkio_device_read_i_ops": _throttles(blkio.device_read_iops),
        "blkio_device_write_i_ops": _throttles(blkio.device_write_iops),
    }
    if blkio.weight_device:
        fields["blkio_weight_device"] = [
            WeightDevice(Path=entry.path, Weight=entry.weight) for entry in blkio.weight_device
        ]
    return {key: value for key, value in fields.items() if value}


def resource_fields(service: models.Service) -> dict[str, Any]:
    """The HostConfig resource fields of ``service`` (keyword arguments of HostConfig)."""
    fields: dict[str, Any] = {
        "memory": _memory(service),
        "memory_swap": service.memswap_limit or 0,
        "memory_reservation": _memory_reservation(service),
        "oom_kill_disable": bool(service.oom_kill_disable),
        "cpu_shares": service.cpu_shares or 0,
        "cpu_period": service.cpu_period or 0,
        "cpu_quota": service.cpu_quota or 0,
        "cpu_realtime_period": service.cpu_rt_period or 0,
        "cpu_realtime_runtime": service.cpu_rt_runtime or 0,
        "nano_cpus": _nano_cpus(service),
        "cpuset_cpus": service.cpuset or "",
        "pids_limit": _pids_limit(service),
        "cgroup_parent": service.cgroup_parent or "",
        "device_cgroup_rules": list(service.device_cgroup_rules or []) or None,
        **_blkio(service.blkio_config),
    }
    if service.mem_swappiness:  # docker compose sends it only when it is not 0
        fields["memory_swappiness"] = service.mem_swappiness
    requests = _device_requests(service)
    if requests:
        fields["device_requests"] = requests
    return fields


def isolation_fields(service: models.Service) -> dict[str, Any]:
    """Namespaces, runtime and the other per-container options docker compose passes on."""
    fields: dict[str, Any] = {
        "uts_mode": service.uts or "",
        "cgroupns_mode": service.cgroup or "",
        "userns_mode": service.userns_mode or "",
        "runtime": service.runtime or "",
        "annotations": dict(service.annotations or {}) or None,
        "storage_opt": dict(service.storage_opt or {}) or None,
    }
    return {key: value for key, value in fields.items() if value}


_CONDITIONS = {"none": "no", "no": "no", "any": "always", "always": "always"}


def restart_policy(service: models.Service) -> RestartPolicy:
    """``restart``, overridden by ``deploy.restart_policy`` (condition, max_attempts)."""
    policy = service.deploy.restart_policy if service.deploy else None
    if policy is not None:
        # docker compose 2.40 sends "" for a policy without condition (it does not restart,
        # and overrides `restart:`), "no" for none
        condition = policy.condition or ""
        return RestartPolicy.model_validate(
            {
                "Name": _CONDITIONS.get(condition, condition),
                "MaximumRetryCount": policy.max_attempts or 0,
            }
        )
    restart = service.restart
    if not restart or restart == "no":
        return RestartPolicy(name="", maximum_retry_count=0)
    name, _, count = restart.partition(":")
    return RestartPolicy.model_validate(
        {"Name": name, "MaximumRetryCount": int(count) if count else 0}
    )


def log_config(service: models.Service) -> LogConfig:
    logging = service.logging or parts.Logging()
    return LogConfig(type=logging.driver or "", config=logging.options or None)


def links(
    project: str,
    service: models.Service,
    number: int,
    link_targets: Mapping[str, Sequence[str]],
) -> list[str] | None:
    """HostConfig.Links as docker compose computes them (``getLinks``).

    ``link_targets`` maps a linked service to the names of its containers. For each, the
    link name (the alias, else the service), ``<service>-<number>`` and
    ``<project>-<service>-<number>``; then the external links as given.
    """
    result: list[str] = []
    for raw in service.links or []:
        linked, _, alias = raw.partition(":")
        for container in link_targets.get(linked, ()):
            result += [
                f"{container}:{alias or linked}",
                f"{container}:{linked}-{number}",
                f"{container}:{project}-{linked}-{number}",
            ]
    for raw in service.external_links or []:
        external, _, alias = raw.partition(":")
        result.append(f"{external}:{alias or external}")
    return result or None
