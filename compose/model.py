"""The pydantic models of a Compose project (long syntax) and their validation.

    validate_project(tree) -> Project
        ``tree`` is the normalised project mapping (MapNode/SeqNode with locations).
        Raises ModelError listing every issue with file:line:column (taken from the
        tree with compose.source.location_of / key_location_of) and "did you mean"
        hints for unknown keys.

    check_shapes(tree) -> list[Issue]
        The shape/type issues of a partial tree (no project rules); for parts that
        compose.load drops (unused resources, services disabled by profiles), which
        docker compose validates all the same.

The models take the long syntax that compose.canonical produces. Fields are
declared in the order docker compose prints them (compose-go's struct order),
so that compose.output can render them in that order. ``None`` means "not set".
Scalars are read as docker compose reads them (compose.scalars); the nested parts
of a service live in compose.model_parts. Keys starting with ``x-`` are accepted
everywhere; only the top-level ones are kept (docker compose prints no others).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compose.errors import Issue, ModelError
from compose.model_issues import located_issues
from compose.model_parts import (
    Blkio,
    Build,
    CredentialSpec,
    Deploy,
    Develop,
    DeviceMapping,
    EnvFile,
    Extends,
    GpuRequest,
    Healthcheck,
    Logging,
    Model,
    Mount,
    Port,
    Provider,
    ServiceDependency,
    ServiceFileMount,
    ServiceHook,
    ServiceModel,
    ServiceNetwork,
    Ulimits,
)
from compose.scalars import (
    NULL,
    Bool,
    Bytes,
    BytesInt,
    Command,
    Duration,
    Environment,
    Float,
    Int,
    IntNumber,
    Labels,
    Options,
    ScalarList,
    Str,
    StrList,
    UInt,
    _fail,
    _scalar_to_str,
    _to_bytes,
    _to_bytes_int,
    _to_bytes_str,
    _to_duration,
    _to_file_mode,
    _to_size,
    describe,
)
from compose.source import key_location_of, location_of


def _to_group(value: Any) -> str:
    return _scalar_to_str(value)


_PULL_POLICY = re.compile(
    r"always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+"
)


def _to_pull_policy(value: Any) -> str:
    if isinstance(value, str) and _PULL_POLICY.search(value):
        return value
    raise _fail(
        "always, never, build, missing, if_not_present, daily, weekly or every_<duration>", value
    )


class Service(Model):
    """A service in long syntax. ``command``/``entrypoint`` print as null when unset."""

    keep_null: ClassVar[frozenset[str]] = frozenset({"command", "entrypoint"})
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"command", "entrypoint", "pid", "develop", "deploy"}
    )
    keep_zero: ClassVar[frozenset[str]] = frozenset(
        {"attach", "init", "scale", "command", "entrypoint", "stop_grace_period"}
    )

    profiles: list[Str] | None = None
    annotations: Labels | None = None
    attach: Bool | None = None
    build: Build | None = None
    develop: Develop | None = None
    blkio_config: Blkio | None = None
    cap_add: list[Str] | None = None
    cap_drop: list[Str] | None = None
    cgroup_parent: Str | None = None
    cgroup: Literal["host", "private"] | None = None
    cpu_count: Int | None = None
    cpu_percent: Int | None = None
    cpu_period: IntNumber | None = None
    cpu_quota: IntNumber | None = None
    cpu_rt_period: IntNumber | None = None
    cpu_rt_runtime: IntNumber | None = None
    cpus: Float | None = None
    cpuset: Str | None = None
    cpu_shares: IntNumber | None = None
    command: Command = None
    configs: list[ServiceFileMount] | None = None
    container_name: Str | None = None
    credential_spec: CredentialSpec | None = None
    depends_on: dict[str, ServiceDependency] = Field(default_factory=dict)
    deploy: Deploy | None = None
    device_cgroup_rules: list[Str] | None = None
    devices: list[DeviceMapping] | None = None
    dns: StrList | None = None
    dns_opt: list[Str] | None = None
    dns_search: StrList | None = None
    domainname: Str | None = None
    entrypoint: Command = None
    provider: Provider | None = None
    environment: Environment | None = None
    env_file: list[EnvFile] | None = None
    expose: ScalarList | None = None
    extends: Extends | None = None
    external_links: list[Str] | None = None
    extra_hosts: list[Str] | None = None
    group_add: list[Annotated[str, BeforeValidator(_to_group)]] | None = None
    gpus: list[GpuRequest] | None = None
    hostname: Str | None = None
    healthcheck: Healthcheck | None = None
    image: Str | None = None
    init: Bool | None = None
    ipc: Str | None = None
    isolation: Str | None = None
    labels: Labels | None = None
    label_file: StrList | None = None
    links: list[Str] = Field(default_factory=list)
    logging: Logging | None = None
    mem_limit: Bytes | None = None
    mem_reservation: BytesInt | None = None
    memswap_limit: Bytes | None = None
    mem_swappiness: BytesInt | None = None
    mac_address: Str | None = None
    models: dict[str, ServiceModel | None] | None = None
    network_mode: Str | None = None
    networks: dict[str, ServiceNetwork | None] = Field(default_factory=dict)
    oom_kill_disable: Bool | None = None
    oom_score_adj: Int | None = None
    pid: Str | None = None
    pids_limit: IntNumber | None = None
    platform: Str | None = None
    ports: list[Port] | None = None
    privileged: Bool | None = None
    pull_policy: Annotated[str, BeforeValidator(_to_pull_policy)] | None = None
    pull_refresh_after: Str | None = Field(default=None, exclude=True)  # not printed by v2.40
    read_only: Bool | None = None
    restart: Str | None = None
    runtime: Str | None = None
    scale: UInt | None = None
    secrets: list[ServiceFileMount] | None = None
    security_opt: list[Str] | None = None
    shm_size: Bytes | None = None
    stdin_open: Bool | None = None
    stop_grace_period: Duration | None = None
    stop_signal: Str | None = None
    storage_opt: Labels | None = None
    sysctls: Labels | None = None
    tmpfs: StrList | None = None
    tty: Bool | None = None
    ulimits: Ulimits | None = None
    use_api_socket: Bool | None = None
    user: Str | None = None
    userns_mode: Str | None = None
    uts: Str | None = None
    volumes: list[Mount] | None = None
    volumes_from: list[Str] = Field(default_factory=list)
    working_dir: Str | None = None
    post_start: list[ServiceHook] | None = None
    pre_stop: list[ServiceHook] | None = None


# --- top-level resources ----------------------------------------------------------------


class IpamPool(Model):
    yaml_extensions: ClassVar[bool] = False  # docker compose drops them here
    subnet: Str | None = None
    gateway: Str | None = None
    ip_range: Str | None = None
    aux_addresses: (
        Annotated[
            dict[str, Str],
            BeforeValidator(lambda v: v if isinstance(v, dict) else _fail("a mapping", v)),
        ]
        | None
    ) = None


class Ipam(Model):
    driver: Str | None = None
    config: list[IpamPool] | None = None
    options: dict[str, Str] | None = Field(default=None, exclude=True)


class Network(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"enable_ipv4", "enable_ipv6"})
    name: Str | None = None
    driver: Str | None = None
    driver_opts: Options | None = None
    ipam: Ipam = Field(default_factory=Ipam)
    external: Bool | None = None
    internal: Bool | None = None
    attachable: Bool | None = None
    labels: Labels | None = None
    enable_ipv4: Bool | None = None
    enable_ipv6: Bool | None = None


class Volume(Model):
    name: Str | None = None
    driver: Str | None = None
    driver_opts: Options | None = None
    external: Bool | None = None
    labels: Labels | None = None


class Secret(Model):
    name: Str | None = None
    file: Str | None = None
    environment: Str | None = None
    external: Bool | None = None
    labels: Labels | None = None
    driver: Str | None = None
    driver_opts: Options | None = None
    template_driver: Str | None = None


class Config(Model):
    name: Str | None = None
    file: Str | None = None
    environment: Str | None = None
    content: Str | None = None
    external: Bool | None = None
    labels: Labels | None = None
    template_driver: Str | None = None


class ModelDefinition(Model):
    """An AI model of the top-level ``models`` section."""

    name: Str | None = None
    model: Str | None = None
    context_size: Int | None = None
    runtime_flags: list[Str] | None = None


def _to_nullable_map(value: Any) -> Any:
    return NULL if value is None else value  # `volumes:` with nothing under it is an error


class Project(Model):
    """The whole project, normalised. ``extensions`` holds the top-level ``x-*`` keys."""

    name: str = ""
    services: dict[str, Service] = Field(default_factory=dict)
    networks: dict[str, Network] = Field(default_factory=dict)
    volumes: dict[str, Volume] = Field(default_factory=dict)
    secrets: dict[str, Secret] = Field(default_factory=dict)
    configs: dict[str, Config] = Field(default_factory=dict)
    models: dict[str, ModelDefinition] = Field(default_factory=dict)
    extensions: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _set_extensions_aside(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise _fail("a mapping", data)
        out: dict[str, Any] = {}
        extensions: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith("x-"):
                extensions[key] = value
            elif key == "version":
                if value is not None and not isinstance(value, str):
                    raise PydanticCustomError(
                        "compose", "version: expected a string, got {got}", {"got": describe(value)}
                    )
                continue
            elif key == "include":
                continue
            elif key in ("networks", "volumes", "secrets", "configs", "models"):
                out[key] = _to_nullable_map(value)
            else:
                out[key] = value
        if extensions:
            out["extensions"] = extensions
        return out


# --- validation -----------------------------------------------------------------------


_SERVICE_NAME = re.compile(r"[a-zA-Z0-9._-]+")  # the Compose schema's pattern


def _tree_checks(tree: Any) -> list[Issue]:
    """Rules on every resource of the file, used or not (normalize drops unused ones)."""
    issues: list[Issue] = []
    volumes = tree.get("volumes") if isinstance(tree, dict) else None
    for name, volume in (volumes or {}).items() if isinstance(volumes, dict) else ():
        if not isinstance(volume, dict) or volume.get("external") is not True:
            continue
        for key in ("driver", "driver_opts", "labels"):
            if volume.get(key):
                issues.append(
                    Issue(
                        f'conflicting parameters "external" and "{key}" specified',
                        key_location_of(tree, ("volumes", name, key)),
                        ("volumes", name, key),
                        f"an external volume is made elsewhere: drop {key} or external",
                    )
                )
                break
    return issues


def _consistency_issues(name: str, service: Service, tree: Any) -> list[Issue]:
    """compose-go's consistency rules of one service, which ``--no-consistency`` skips."""
    issues: list[Issue] = []
    path = ("services", name)
    if service.image is None and service.build is None and service.provider is None:
        issues.append(
            Issue(
                "the service has neither an image nor a build context",
                key_location_of(tree, path),
                path,
                "add image: or build:",
            )
        )
    replicas = service.deploy.replicas if service.deploy else None
    if service.scale is not None and replicas is not None and service.scale != replicas:
        issues.append(
            Issue(
                f"scale ({service.scale}) and deploy.replicas ({replicas}) differ",
                location_of(tree, (*path, "scale")),
                (*path, "scale"),
                "keep only deploy.replicas",
            )
        )
    scale = service.scale if service.scale is not None else replicas
    if service.container_name and scale is not None and scale > 1:
        issues.append(
            Issue(
                f"container_name {service.container_name!r} cannot be used with scale"
                f" {scale}: container names must be unique",
                location_of(tree, (*path, "container_name")),
                (*path, "container_name"),
                "remove container_name or scale to 1",
            )
        )
    limits = service.deploy.resources.limits if service.deploy else None
    if (
        service.mem_limit is not None
        and limits is not None
        and limits.memory is not None
        and service.mem_limit != limits.memory
    ):
        issues.append(
            Issue(
                "mem_limit and deploy.resources.limits.memory have different values",
                location_of(tree, (*path, "mem_limit")),
                (*path, "mem_limit"),
                "keep only one of them",
            )
        )
    if service.network_mode and service.networks:
        issues.append(
            Issue(
                "network_mode and networks cannot both be set",
                location_of(tree, (*path, "network_mode")),
                (*path, "network_mode"),
                "remove one of them",
            )
        )
    triggers = service.develop.watch if service.develop and service.develop.watch else []
    for index, trigger in enumerate(triggers):
        if trigger.action not in ("rebuild", "restart") and not trigger.target:
            where = (*path, "develop", "watch", index)
            issues.append(
                Issue(
                    f'action "{trigger.action}" needs a target (the path in the container)',
                    location_of(tree, where),
                    where,
                    "add target: /path/in/container",
                )
            )
    return issues


def _project_checks(project: Project, tree: Any, consistency: bool = True) -> list[Issue]:
    """Rules docker compose enforces on the loaded model; ``consistency`` False skips
    those ``config --no-consistency`` skips."""
    issues: list[Issue] = _tree_checks(tree)
    for name, service in project.services.items():
        path = ("services", name)
        if not _SERVICE_NAME.fullmatch(name):
            issues.append(
                Issue(
                    f"invalid service name {name!r}: only letters, digits, '.', '_' and '-'"
                    " are allowed",
                    key_location_of(tree, path),
                    path,
                    "rename the service",
                )
            )
        requests = [
            (("deploy", "resources", "reservations", "devices", index), request)
            for index, request in enumerate(
                service.deploy.resources.reservations.devices or []
                if service.deploy
                and service.deploy.resources
                and service.deploy.resources.reservations
                else []
            )
        ] + [(("gpus", index), request) for index, request in enumerate(service.gpus or [])]
        for where, request in requests:
            if request.count is not None and request.device_ids:
                issues.append(
                    Issue(
                        '"count" and "device_ids" attributes are exclusive',
                        key_location_of(tree, (*path, *where, "device_ids")),
                        (*path, *where),
                        "give either count or device_ids",
                    )
                )
        if consistency:
            issues.extend(_consistency_issues(name, service, tree))
    file_resources: list[tuple[str, dict[str, Secret] | dict[str, Config]]] = [
        ("secrets", project.secrets),
        ("configs", project.configs),
    ]
    for kind, resources in file_resources:
        for name, resource in resources.items():
            if resource.external:
                continue
            content = getattr(resource, "content", None)
            sources = [
                key
                for key, value in (
                    ("file", resource.file),
                    ("environment", resource.environment),
                    ("content", content),
                )
                if value is not None
            ]
            if len(sources) > 1:
                issues.append(
                    Issue(
                        f"{' and '.join(sources)} cannot be used together",
                        key_location_of(tree, (kind, name, sources[1])),
                        (kind, name),
                        f"keep only one of {', '.join(sources)}",
                    )
                )
                continue
            if not sources:
                expected = (
                    "file or environment" if kind == "secrets" else "file, environment or content"
                )
                issues.append(
                    Issue(
                        f"one of {expected} must be set",
                        key_location_of(tree, (kind, name)),
                        (kind, name),
                    )
                )
    return issues


def check_shapes(tree: Any) -> list[Issue]:
    """The shape and type issues of a (partial) project tree, without project rules.

    compose.normalize calls it on the resources it drops, because docker
    compose validates every resource of the file, used or not.
    """
    try:
        Project.model_validate(tree)
    except ValidationError as exc:
        return located_issues(Project, tree, exc)
    return _tree_checks(tree)


def validate_project(tree: Any, *, consistency: bool = True) -> Project:
    """Validate a normalised project tree; raise ModelError with every located issue.

    ``consistency`` False skips the rules ``config --no-consistency`` skips."""
    try:
        project = Project.model_validate(tree)
    except ValidationError as exc:
        raise ModelError(located_issues(Project, tree, exc)) from None
    issues = _project_checks(project, tree, consistency)
    if issues:
        raise ModelError(issues)
    return project


# compose.output formats a field by its converter, and reads both from here.
__all__ = [
    "Config",
    "Model",
    "ModelDefinition",
    "Network",
    "Project",
    "Secret",
    "Service",
    "ServiceDependency",
    "Volume",
    "_to_bytes",
    "_to_bytes_int",
    "_to_bytes_str",
    "_to_duration",
    "_to_file_mode",
    "_to_size",
    "check_shapes",
    "validate_project",
]
