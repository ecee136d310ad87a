"""A typed service to Engine API request bodies.

``container_create(...)`` maps a :class:`compose.model.Service` to the
:class:`engine.api.models.ContainerCreate` that docker compose sends for one replica
(checked against recorded traffic in the tests), plus the extra networks to connect after
creation (API < 1.44 takes one network at create time). The labels that docker compose
derives from the service as ``config --format json`` prints it (the config hash, the
service config, depends_on) come from that canonical dict, which the caller passes along:
the hash must stay byte-identical to docker compose's. ``network_create`` and
``volume_create`` give the other two bodies ``up`` sends. Everything that depends on other
containers (network_mode ``service:x``, volumes_from) arrives already resolved to container
names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from compose import convert_resources, labels, pycompose_ext
from compose import model as models
from compose import model_parts as parts
from compose.errors import PlanError
from engine.api.models import (
    BindOptions,
    ContainerCreate,
    DeviceMapping,
    EndpointSettings,
    HealthConfig,
    HostConfig,
    Mount,
    NetworkingConfig,
    PortBinding,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
    extensions,
)


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerRequest:
    """What `up` sends for one container: the create body and the networks to connect."""

    name: str
    body: ContainerCreate
    extra_networks: tuple[tuple[str, EndpointSettings], ...]  # (network name, EndpointConfig)
    files: bytes | None = None  # a tar of its secrets and configs, copied in before start


def _environment(environment: Mapping[str, str | None] | None) -> list[str] | None:
    if not environment:
        return None
    # "KEY" alone (no "=") leaves the variable unset in the container, as with docker
    return [
        key if value is None else f"{key}={value}" for key, value in sorted(environment.items())
    ]


def _ports(
    service: models.Service,
) -> tuple[dict[str, dict[str, Any]] | None, dict[str, list[PortBinding] | None]]:
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[PortBinding] | None] = {}
    for port in service.ports or []:
        key = f"{port.target}/{port.protocol or 'tcp'}"
        exposed[key] = {}
        binding = PortBinding(HostIp=port.host_ip or "", HostPort=port.published or "")
        bindings[key] = [*(bindings.get(key) or []), binding]
    for expose in service.expose or []:
        exposed[expose if "/" in expose else f"{expose}/tcp"] = {}
    return (exposed or None), bindings


def _healthcheck(health: parts.Healthcheck | None) -> HealthConfig | None:
    if health is None:
        return None
    if health.disable:
        return HealthConfig(test=["NONE"])
    given: dict[str, Any] = {
        "test": list(health.test) if health.test else None,
        "interval": health.interval,
        "timeout": health.timeout,
        "start_period": health.start_period,
        "start_interval": health.start_interval,
        "retries": health.retries,
    }
    given = {key: value for key, value in given.items() if value is not None}
    return HealthConfig(**given) if given else None


def _set(**values: Any) -> dict[str, Any]:
    """The options that are given: docker compose leaves unset and empty ones out."""
    return {key: value for key, value in values.items() if value is not None}


def _mount(volume: parts.Mount, source: str | None) -> Mount:
    mount: dict[str, Any] = {
        "type": volume.type,
        "target": volume.target,
        "read_only": bool(volume.read_only),
    }
    if source:
        mount["source"] = source
    if volume.type == "bind":
        bind = volume.bind or parts.MountBind()
        mount["bind_options"] = BindOptions(
            **_set(propagation=bind.propagation or None, create_mountpoint=bind.create_host_path)
        )
    elif volume.type == "volume":
        options = volume.volume or parts.MountVolume()
        mount["volume_options"] = VolumeOptions(
            **_set(
                no_copy=options.nocopy or None,
                subpath=options.subpath or None,
                labels=options.labels or None,
            )
        )
    elif volume.type == "tmpfs":
        tmpfs = volume.tmpfs or parts.MountTmpfs()
        mount["tmpfs_options"] = TmpfsOptions(
            **_set(size_bytes=tmpfs.size or None, mode=tmpfs.mode or None)
        )
    return Mount(**mount)


def _mounts(
    service: models.Service, volume_names: Mapping[str, str]
) -> tuple[list[str] | None, list[Mount] | None]:
    """Simple mounts as ``Binds`` (what docker compose sends), the rest as ``Mounts``."""
    binds: list[str] = []
    mounts: list[Mount] = []
    for volume in service.volumes or []:
        source = volume.source
        if volume.type == "volume" and source is not None and source in volume_names:
            source = volume_names[source]
        options = volume.volume or parts.MountVolume()
        bind = volume.bind or parts.MountBind()
        simple = (
            volume.type in ("bind", "volume")
            and source
            and not options.nocopy
            and not options.subpath
            and not bind.propagation
            and not bind.selinux
            and (volume.type == "volume" or bind.create_host_path is not False)
        )
        if simple:
            binds.append(f"{source}:{volume.target}:{'ro' if volume.read_only else 'rw'}")
        else:
            mounts.append(_mount(volume, source))
    return (binds or None), (mounts or None)


def _tmpfs(service: models.Service) -> dict[str, str] | None:
    if not service.tmpfs:
        return None
    result = {}
    for entry in service.tmpfs:
        path, _, options = entry.partition(":")
        result[path] = options
    return result


def _ulimits(ulimits: Mapping[str, int | parts.Ulimit] | None) -> list[Ulimit] | None:
    if not ulimits:
        return None
    result = []
    for name in sorted(ulimits):
        value = ulimits[name]
        if isinstance(value, parts.Ulimit):
            result.append(Ulimit(name=name, soft=value.soft, hard=value.hard))
        else:
            result.append(Ulimit(name=name, soft=value, hard=value))
    return result


def _devices(service: models.Service) -> list[DeviceMapping] | None:
    if not service.devices:
        return None
    return [
        DeviceMapping(
            path_on_host=str(device.source),
            path_in_container=str(device.target or device.source),
            cgroup_permissions=device.permissions or "rwm",
        )
        for device in service.devices
    ]


def _endpoint(
    aliases: Sequence[str],
    spec: parts.ServiceNetwork | None,
    links: Sequence[str] | None = None,
    *,
    service_aliases: bool = True,
) -> EndpointSettings:
    """The endpoint on one network; ``service_aliases``: also the network's ``aliases:``."""
    spec = spec or parts.ServiceNetwork()
    ipam = None
    if spec.ipv4_address or spec.ipv6_address:
        ipam = {"IPv4Address": spec.ipv4_address or "", "IPv6Address": spec.ipv6_address or ""}
    return EndpointSettings(
        IPAMConfig=ipam,
        Links=list(links) if links else None,
        Aliases=[*aliases, *((spec.aliases or []) if service_aliases else [])],
        MacAddress=spec.mac_address or "",
        DriverOpts=spec.driver_opts or None,
    )


def _extra_host(entry: str) -> str:
    """docker compose prints ``host=ip``; the Engine API wants ``host:ip``."""
    return entry.replace("=", ":", 1) if "=" in entry else entry


@contextlib.contextmanager
def _refused_as_plan_error(service_name: str) -> Iterator[None]:
    """A value the engine's model refuses (a mount type, a restart policy): a PlanError."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PlanError(
            f"service {service_name!r} cannot be created: {where}: {first['msg']}"
        ) from None


def container_labels(
    project: str,
    service_name: str,
    service: models.Service,
    config: Mapping[str, Any],
    number: int,
    *,
    image_id: str,
    working_dir: str,
    config_files: Sequence[str],
    oneoff: bool,
    replace: str | None,
) -> dict[str, str]:
    """The service's labels and the com.docker.compose.* ones docker compose adds.

    The config hash and the service config come from ``config``, the service as
    ``config --format json`` prints it ("$" unescaped), as docker compose computes them.
    """
    result: dict[str, str] = dict(service.labels or {})
    result.update(
        {
            labels.PROJECT: project,
            labels.SERVICE: service_name,
            labels.ONEOFF: labels.python_bool(oneoff),
            labels.CONFIG_HASH: labels.service_hash(config),
            labels.DEPENDS_ON: labels.depends_on_value(config),
            labels.VERSION: labels.COMPOSE_VERSION,
            labels.SERVICE_CONFIG: json.dumps(
                labels.hashed_config(config), sort_keys=True, separators=(",", ":")
            ),
        }
    )
    if not oneoff:
        result[labels.CONTAINER_NUMBER] = str(number)
    if image_id:
        result[labels.IMAGE] = image_id
    if working_dir:
        result[labels.WORKING_DIR] = working_dir
    if config_files:
        result[labels.CONFIG_FILES] = ",".join(config_files)
    if replace:
        result[labels.REPLACE] = replace
    on_unhealthy = pycompose_ext.settings_of(service.extensions).on_unhealthy
    if on_unhealthy != "none":
        result[extensions.ON_UNHEALTHY] = on_unhealthy
    return result


def container_create(
    project: str,
    service_name: str,
    service: models.Service,
    number: int,
    *,
    config: Mapping[str, Any],
    network_names: Mapping[str, str],
    volume_names: Mapping[str, str],
    image_id: str = "",
    working_dir: str = "",
    config_files: Sequence[str] = (),
    name: str | None = None,
    network_mode: str | None = None,
    volumes_from: Sequence[str] = (),
    link_targets: Mapping[str, Sequence[str]] | None = None,
    api_socket: str = "",
    oneoff: bool = False,
    use_aliases: bool | None = None,
    replace: str | None = None,
) -> ContainerRequest:
    """The create request of replica ``number`` of ``service_name``.

    ``config`` is ``service`` as ``config --format json`` prints it (for the labels
    docker compose derives from it). ``network_mode`` and ``volumes_from`` are already
    resolved to container names by the caller where they named services; ``link_targets``
    maps each service ``links`` names to its containers' names; ``api_socket`` is the
    engine's socket path (for ``use_api_socket``). The container is known on its networks
    by its name and, unless it is a one-off without ``use_aliases`` (``run
    --use-aliases``), by the service's name and aliases. A setting the
    engine cannot take (a mount type, a restart policy) is a PlanError naming the service.
    """
    with _refused_as_plan_error(service_name):
        name = name or service.container_name or f"{project}-{service_name}-{number}"
        exposed, bindings = _ports(service)
        binds, mounts = _mounts(service, volume_names)
        if service.use_api_socket:
            if not api_socket:
                raise PlanError(
                    f"service {service_name!r} sets use_api_socket, but the engine's socket "
                    "is not known"
                )
            # the engine this request goes to, as docker compose binds /var/run/docker.sock
            binds = [*(binds or []), f"{api_socket}:/var/run/docker.sock:rw"]
        mode = network_mode or service.network_mode
        attached = [key for key in service.networks if key in network_names]

        def priority(key: str) -> int:
            spec = service.networks.get(key)
            return (spec.priority if spec else None) or 0

        # the primary network: highest priority first, then by name (docker compose's order)
        attached.sort(key=lambda key: (-priority(key), key))
        endpoints: dict[str, EndpointSettings] = {}
        extra: list[tuple[str, EndpointSettings]] = []
        known = not oneoff if use_aliases is None else use_aliases
        aliases = [name, service_name] if known else [name]
        links = convert_resources.links(project, service, number, link_targets or {})
        if not mode and attached:
            mode = network_names[attached[0]]
            # on networks of their own, links belong to the endpoints (as docker compose
            # sends them; dockerd keeps HostConfig.Links for the default bridge only)
            endpoints[mode] = _endpoint(
                aliases, service.networks.get(attached[0]), links, service_aliases=known
            )
            extra = [
                (
                    network_names[key],
                    _endpoint(aliases, service.networks.get(key), links, service_aliases=known),
                )
                for key in attached[1:]
            ]
            links = None
        grace = service.stop_grace_period
        body = ContainerCreate(
            hostname=service.hostname or "",
            domainname=service.domainname or "",
            user=service.user or "",
            attach_stdin=False,
            attach_stdout=True,
            attach_stderr=True,
            exposed_ports=exposed,
            tty=bool(service.tty),
            open_stdin=bool(service.stdin_open),
            stdin_once=False,
            env=_environment(service.environment),
            cmd=service.command,
            healthcheck=_healthcheck(service.healthcheck),
            image=service.image or f"{project}-{service_name}",
            volumes=None,
            working_dir=service.working_dir or "",
            entrypoint=service.entrypoint,
            labels=container_labels(
                project,
                service_name,
                service,
                config,
                number,
                image_id=image_id,
                working_dir=working_dir,
                config_files=config_files,
                oneoff=oneoff,
                replace=replace,
            ),
            stop_signal=service.stop_signal or None,
            stop_timeout=grace // 1_000_000_000 if grace else None,
            host_config=HostConfig(
                binds=binds,
                log_config=convert_resources.log_config(service),
                network_mode=mode or "",
                port_bindings=bindings,
                restart_policy=convert_resources.restart_policy(service),
                auto_remove=False,
                volumes_from=list(volumes_from) or None,
                cap_add=service.cap_add or None,
                cap_drop=service.cap_drop or None,
                dns=service.dns or None,
                dns_options=service.dns_opt or None,
                dns_search=service.dns_search or None,
                # sorted, as docker compose prints them
                extra_hosts=[_extra_host(entry) for entry in sorted(service.extra_hosts or [])],
                group_add=service.group_add or None,
                ipc_mode=service.ipc or "",
                pid_mode=service.pid or "",
                privileged=bool(service.privileged),
                readonly_rootfs=bool(service.read_only),
                security_opt=service.security_opt or None,
                shm_size=service.shm_size or 0,
                sysctls=service.sysctls or None,
                tmpfs=_tmpfs(service),
                init=service.init,
                ulimits=_ulimits(service.ulimits),
                devices=_devices(service),
                oom_score_adj=service.oom_score_adj or 0,
                mounts=mounts,
                links=links,
                **convert_resources.resource_fields(service),
                **convert_resources.isolation_fields(service),
            ),
            networking_config=NetworkingConfig(EndpointsConfig=endpoints) if endpoints else None,
        )
        return ContainerRequest(name, body, tuple(extra))


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
                        ("aux_addresses", "AuxiliaryAddresses"),
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
