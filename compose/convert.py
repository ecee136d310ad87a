"""A service (as `config --format json` prints it) to Engine API request bodies.

``container_create(...)`` gives the body of ``POST /containers/create`` that docker
compose sends for one replica (checked against recorded traffic in the tests),
plus the extra networks to connect after creation (API < 1.44 takes one network
at create time). ``network_create`` and ``volume_create`` give the other two
bodies ``up`` sends. Everything that depends on other containers (network_mode
``service:x``, volumes_from) arrives already resolved to container names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from compose import labels
from compose.units import parse_bytes, parse_duration


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerRequest:
    """What `up` sends for one container: the create body and the networks to connect."""

    name: str
    body: dict[str, Any]
    extra_networks: tuple[tuple[str, dict[str, Any]], ...]  # (network name, EndpointConfig)


def _duration_ns(value: Any) -> int:
    return 0 if value is None else parse_duration(value)


def _bytes(value: Any) -> int:
    return 0 if value is None else parse_bytes(value)


def _environment(environment: Mapping[str, Any] | None) -> list[str] | None:
    if not environment:
        return None
    # "KEY" alone (no "=") leaves the variable unset in the container, as with docker
    return [
        key if value is None else f"{key}={value}" for key, value in sorted(environment.items())
    ]


def _port_key(port: Mapping[str, Any]) -> str:
    return f"{port['target']}/{port.get('protocol') or 'tcp'}"


def _ports(
    service: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, dict[str, list[dict[str, str]]]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in service.get("ports") or []:
        key = _port_key(port)
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": str(port.get("host_ip") or ""), "HostPort": str(port.get("published") or "")}
        )
    for expose in service.get("expose") or []:
        text = str(expose)
        exposed[text if "/" in text else f"{text}/tcp"] = {}
    return (exposed or None), bindings


def _healthcheck(health: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if health is None:
        return None
    if health.get("disable"):
        return {"Test": ["NONE"]}
    result: dict[str, Any] = {}
    if health.get("test") is not None:
        result["Test"] = list(health["test"])
    for key, field in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
    ):
        if health.get(key) is not None:
            result[field] = _duration_ns(health[key])
    if health.get("retries") is not None:
        result["Retries"] = int(health["retries"])
    return result or None


def _restart_policy(restart: str | None) -> dict[str, Any]:
    if not restart or restart == "no":
        return {"Name": "", "MaximumRetryCount": 0}
    name, _, count = restart.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def _mounts(
    service: Mapping[str, Any], volume_names: Mapping[str, str]
) -> tuple[list[str] | None, list[dict[str, Any]] | None]:
    """Simple mounts as ``Binds`` (what docker compose sends), the rest as ``Mounts``."""
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for volume in service.get("volumes") or []:
        kind = volume.get("type")
        target = volume.get("target")
        read_only = bool(volume.get("read_only"))
        source = volume.get("source")
        if kind == "volume" and source in volume_names:
            source = volume_names[source]
        options = volume.get("volume") or {}
        bind = volume.get("bind") or {}
        simple = (
            kind in ("bind", "volume")
            and source
            and not options.get("nocopy")
            and not options.get("subpath")
            and not bind.get("propagation")
            and not bind.get("selinux")
            and (kind == "volume" or bind.get("create_host_path", True))
        )
        if simple:
            binds.append(f"{source}:{target}:{'ro' if read_only else 'rw'}")
            continue
        mount: dict[str, Any] = {"Type": kind, "Target": target, "ReadOnly": read_only}
        if source:
            mount["Source"] = source
        if kind == "bind":
            mount["BindOptions"] = {
                key: value
                for key, value in (
                    ("Propagation", bind.get("propagation")),
                    ("CreateMountpoint", bind.get("create_host_path")),
                )
                if value is not None
            }
        elif kind == "volume":
            mount["VolumeOptions"] = {
                key: value
                for key, value in (
                    ("NoCopy", options.get("nocopy")),
                    ("Subpath", options.get("subpath")),
                    ("Labels", options.get("labels")),
                )
                if value is not None
            }
        elif kind == "tmpfs":
            tmpfs = volume.get("tmpfs") or {}
            mount["TmpfsOptions"] = {
                key: value
                for key, value in (
                    ("SizeBytes", _bytes(tmpfs.get("size")) if tmpfs.get("size") else None),
                    ("Mode", tmpfs.get("mode")),
                )
                if value is not None
            }
        mounts.append(mount)
    return (binds or None), (mounts or None)


def _tmpfs(service: Mapping[str, Any]) -> dict[str, str] | None:
    entries = service.get("tmpfs") or []
    if not entries:
        return None
    result = {}
    for entry in entries:
        path, _, options = str(entry).partition(":")
        result[path] = options
    return result


def _ulimits(ulimits: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    if not ulimits:
        return None
    result = []
    for name in sorted(ulimits):
        value = ulimits[name]
        if isinstance(value, dict):
            result.append({"Name": name, "Soft": int(value["soft"]), "Hard": int(value["hard"])})
        else:
            result.append({"Name": name, "Soft": int(value), "Hard": int(value)})
    return result


def _devices(service: Mapping[str, Any]) -> list[dict[str, str]] | None:
    devices = service.get("devices") or []
    if not devices:
        return None
    return [
        {
            "PathOnHost": str(device.get("source")),
            "PathInContainer": str(device.get("target") or device.get("source")),
            "CgroupPermissions": str(device.get("permissions") or "rwm"),
        }
        for device in devices
    ]


def _memory(service: Mapping[str, Any]) -> int:
    if service.get("mem_limit") is not None:
        return _bytes(service["mem_limit"])
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    return _bytes(limits.get("memory")) if limits.get("memory") else 0


def _nano_cpus(service: Mapping[str, Any]) -> int:
    cpus = service.get("cpus")
    if cpus is None:
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        cpus = limits.get("cpus")
    return round(float(cpus) * 1e9) if cpus else 0


def _endpoint(aliases: Sequence[str], spec: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = spec or {}
    ipam = None
    if spec.get("ipv4_address") or spec.get("ipv6_address"):
        ipam = {
            "IPv4Address": spec.get("ipv4_address") or "",
            "IPv6Address": spec.get("ipv6_address") or "",
        }
    return {
        "IPAMConfig": ipam,
        "Links": None,
        "Aliases": [*aliases, *(spec.get("aliases") or [])],
        "MacAddress": spec.get("mac_address") or "",
        "DriverOpts": spec.get("driver_opts"),
    }


def container_create(
    project: str,
    service_name: str,
    service: Mapping[str, Any],
    number: int,
    *,
    network_names: Mapping[str, str],
    volume_names: Mapping[str, str],
    image_id: str = "",
    working_dir: str = "",
    config_files: Sequence[str] = (),
    name: str | None = None,
    network_mode: str | None = None,
    volumes_from: Sequence[str] = (),
    oneoff: bool = False,
    replace: str | None = None,
) -> ContainerRequest:
    """The create request of replica ``number`` of ``service_name``.

    ``network_mode`` and ``volumes_from`` are already resolved to container names
    by the caller where they named services.
    """
    name = name or service.get("container_name") or f"{project}-{service_name}-{number}"
    exposed, bindings = _ports(service)
    binds, mounts = _mounts(service, volume_names)
    container_labels: dict[str, str] = dict(service.get("labels") or {})
    container_labels.update(
        {
            labels.PROJECT: project,
            labels.SERVICE: service_name,
            labels.ONEOFF: labels.python_bool(oneoff),
            labels.CONFIG_HASH: labels.service_hash(service),
            labels.DEPENDS_ON: labels.depends_on_value(service),
            labels.VERSION: labels.COMPOSE_VERSION,
            labels.SERVICE_CONFIG: json.dumps(
                labels.hashed_config(service), sort_keys=True, separators=(",", ":")
            ),
        }
    )
    if not oneoff:
        container_labels[labels.CONTAINER_NUMBER] = str(number)
    if image_id:
        container_labels[labels.IMAGE] = image_id
    if working_dir:
        container_labels[labels.WORKING_DIR] = working_dir
    if config_files:
        container_labels[labels.CONFIG_FILES] = ",".join(config_files)
    if replace:
        container_labels[labels.REPLACE] = replace

    service_networks: Mapping[str, Any] = service.get("networks") or {}
    mode = network_mode or service.get("network_mode")
    attached = [key for key in service_networks if key in network_names]
    # the primary network: highest priority first, then by name (docker compose's order)
    attached.sort(
        key=lambda key: (-int((service_networks.get(key) or {}).get("priority") or 0), key)
    )
    endpoints: dict[str, Any] = {}
    extra: list[tuple[str, dict[str, Any]]] = []
    aliases = [name, service_name] if not oneoff else [name]
    if not mode and attached:
        mode = network_names[attached[0]]
        endpoints[mode] = _endpoint(aliases, service_networks.get(attached[0]))
        extra = [
            (network_names[key], _endpoint(aliases, service_networks.get(key)))
            for key in attached[1:]
        ]
    logging = service.get("logging") or {}
    stop_grace = service.get("stop_grace_period")
    body: dict[str, Any] = {
        "Hostname": service.get("hostname") or "",
        "Domainname": service.get("domainname") or "",
        "User": service.get("user") or "",
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "ExposedPorts": exposed,
        "Tty": bool(service.get("tty")),
        "OpenStdin": bool(service.get("stdin_open")),
        "StdinOnce": False,
        "Env": _environment(service.get("environment")),
        "Cmd": service.get("command"),
        "Healthcheck": _healthcheck(service.get("healthcheck")),
        "Image": service.get("image") or f"{project}-{service_name}",
        "Volumes": None,
        "WorkingDir": service.get("working_dir") or "",
        "Entrypoint": service.get("entrypoint"),
        "Labels": container_labels,
        "StopSignal": service.get("stop_signal") or None,
        "StopTimeout": int(_duration_ns(stop_grace) // 1_000_000_000) if stop_grace else None,
        "HostConfig": {
            "Binds": binds,
            "LogConfig": {"Type": logging.get("driver") or "", "Config": logging.get("options")},
            "NetworkMode": mode or "",
            "PortBindings": bindings,
            "RestartPolicy": _restart_policy(service.get("restart")),
            "AutoRemove": False,
            "VolumesFrom": list(volumes_from) or None,
            "CapAdd": service.get("cap_add"),
            "CapDrop": service.get("cap_drop"),
            "Dns": service.get("dns"),
            "DnsOptions": service.get("dns_opt"),
            "DnsSearch": service.get("dns_search"),
            "ExtraHosts": list(service.get("extra_hosts") or []),
            "GroupAdd": service.get("group_add"),
            "IpcMode": service.get("ipc") or "",
            "PidMode": service.get("pid") or "",
            "Privileged": bool(service.get("privileged")),
            "ReadonlyRootfs": bool(service.get("read_only")),
            "SecurityOpt": service.get("security_opt"),
            "ShmSize": _bytes(service.get("shm_size")),
            "Sysctls": service.get("sysctls"),
            "Tmpfs": _tmpfs(service),
            "Init": service.get("init"),
            "CpuShares": int(service.get("cpu_shares") or 0),
            "Memory": _memory(service),
            "MemorySwap": _bytes(service.get("memswap_limit")),
            "NanoCpus": _nano_cpus(service),
            "CpusetCpus": service.get("cpuset") or "",
            "PidsLimit": service.get("pids_limit"),
            "Ulimits": _ulimits(service.get("ulimits")),
            "Devices": _devices(service),
            "OomScoreAdj": int(service.get("oom_score_adj") or 0),
            "Mounts": mounts,
        },
        "NetworkingConfig": {"EndpointsConfig": endpoints} if endpoints else None,
    }
    if extra_hosts := body["HostConfig"]["ExtraHosts"]:
        body["HostConfig"]["ExtraHosts"] = [_extra_host(entry) for entry in extra_hosts]
    return ContainerRequest(name, body, tuple(extra))


def _extra_host(entry: Any) -> str:
    """docker compose prints ``host=ip``; the Engine API wants ``host:ip``."""
    text = str(entry)
    return text.replace("=", ":", 1) if "=" in text else text


def network_create(project: str, key: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Body of ``POST /networks/create`` for the project's network ``key``."""
    ipam = spec.get("ipam") or {}
    ipam_body = None
    if ipam.get("config") or ipam.get("driver"):
        ipam_body = {
            "Driver": ipam.get("driver") or "default",
            "Config": [
                {
                    field: entry[key_name]
                    for key_name, field in (
                        ("subnet", "Subnet"),
                        ("ip_range", "IPRange"),
                        ("gateway", "Gateway"),
                    )
                    if entry.get(key_name)
                }
                for entry in ipam.get("config") or []
            ],
            "Options": ipam.get("options"),
        }
    network_labels = dict(spec.get("labels") or {})
    network_labels.update(
        {
            labels.PROJECT: project,
            labels.NETWORK: key,
            labels.VERSION: labels.COMPOSE_VERSION,
            labels.CONFIG_HASH: labels.resource_hash(spec),
        }
    )
    return {
        "Name": spec.get("name") or f"{project}_{key}",
        "Driver": spec.get("driver") or "",
        "Internal": bool(spec.get("internal")),
        "Attachable": bool(spec.get("attachable")),
        "EnableIPv6": bool(spec.get("enable_ipv6")),
        "IPAM": ipam_body,
        "Options": spec.get("driver_opts"),
        "Labels": network_labels,
        "CheckDuplicate": True,
    }


def volume_create(project: str, key: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Body of ``POST /volumes/create`` for the project's volume ``key``."""
    volume_labels = dict(spec.get("labels") or {})
    volume_labels.update(
        {
            labels.PROJECT: project,
            labels.VOLUME: key,
            labels.VERSION: labels.COMPOSE_VERSION,
            labels.CONFIG_HASH: labels.resource_hash(spec),
        }
    )
    body: dict[str, Any] = {
        "Name": spec.get("name") or f"{project}_{key}",
        "Labels": volume_labels,
    }
    if spec.get("driver"):
        body["Driver"] = spec["driver"]
    if spec.get("driver_opts"):
        body["DriverOpts"] = spec["driver_opts"]
    return body
