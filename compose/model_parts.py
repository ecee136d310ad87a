"""Model, the base of every Compose model, and the nested models a service is made of.

Build, develop, deploy, ports, mounts, healthcheck, logging and the other parts that
compose.model.Service holds. Fields are declared in the order docker compose prints them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from compose.scalars import (
    NULL,
    Bool,
    BoolStr,
    BytesInt,
    BytesStr,
    Command,
    DeviceCount,
    Duration,
    Environment,
    FileMode,
    Float,
    Int,
    Labels,
    NumberInt,
    Options,
    ScalarStr,
    Size,
    Str,
    StrList,
    UInt,
    UIntNumber,
    _fail,
    _Scalar,
    _to_int,
    _to_mode_number,
    _to_ssh_key,
    describe,
)

_EXTENSIONS = "#extensions"


class Model(BaseModel):
    """Base of every model: frozen, unknown keys rejected, ``x-`` keys kept aside.

    ``keep_zero`` names fields printed even when zero/false/empty (pointers in
    compose-go); ``keep_null`` names fields printed as ``null`` when unset.
    ``extensions`` holds the ``x-*`` keys of this mapping: the JSON output
    leaves them out, the YAML output prints them last (as docker compose does).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())
    keep_zero: ClassVar[frozenset[str]] = frozenset()
    keep_null: ClassVar[frozenset[str]] = frozenset()
    nullable: ClassVar[frozenset[str]] = frozenset()
    yaml_keep_zero: ClassVar[frozenset[str]] = frozenset()
    yaml_extensions: ClassVar[bool] = True

    extensions: SkipJsonSchema[dict[str, Any]] = Field(
        default_factory=dict, alias=_EXTENSIONS, exclude=True, repr=False
    )

    @model_validator(mode="before")
    @classmethod
    def _set_extensions_aside(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nullable = cls.nullable
            for key, value in data.items():  # a plain loop: this runs for every mapping
                if (key.__class__ is str and key[:2] == "x-") or (
                    value is None and key not in nullable
                ):
                    break
            else:
                if _EXTENSIONS in data:
                    raise PydanticCustomError("compose", "unknown key {key}", {"key": _EXTENSIONS})
                return data
            out: dict[Any, Any] = {}
            extensions: dict[str, Any] = {}
            for key, value in data.items():
                if isinstance(key, str) and key.startswith("x-"):
                    extensions[key] = value
                elif value is None and key not in nullable:
                    out[key] = NULL
                else:
                    out[key] = value
            if extensions:
                out[_EXTENSIONS] = extensions
            return out
        if data is None:
            return {}
        raise _fail("a mapping", data)


# --- services ---------------------------------------------------------------------------


class ServiceDependency(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"required"})
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"]
    restart: Bool = False
    required: Bool = True


class BuildSecret(Model):
    source: Str | None = None
    target: Str | None = None
    uid: Str | None = None
    gid: Str | None = None
    mode: FileMode | None = None


class Ulimit(Model):
    yaml_keep_zero: ClassVar[frozenset[str]] = frozenset({"soft", "hard"})
    soft: Int
    hard: Int


def _to_ulimits(value: Any) -> Any:
    if not isinstance(value, dict):
        raise _fail("a mapping of limits", value)
    return {
        key: (_to_int(item) if not isinstance(item, dict) else item) for key, item in value.items()
    }


Ulimits = Annotated[dict[str, int | Ulimit], BeforeValidator(_to_ulimits)]


class Build(Model):
    context: Str | None = None
    dockerfile: Str | None = None
    dockerfile_inline: Str | None = None
    entitlements: list[Str] | None = None
    args: Environment | None = None
    provenance: BoolStr | None = None
    sbom: BoolStr | None = None
    ssh: list[Annotated[str, BeforeValidator(_to_ssh_key)]] | None = None
    labels: Labels | None = None
    cache_from: list[Str] | None = None
    cache_to: list[Str] | None = None
    no_cache: Bool | None = None
    additional_contexts: Labels | None = None
    pull: Bool | None = None
    extra_hosts: list[Str] | None = None
    isolation: Str | None = None
    network: Str | None = None
    target: Str | None = None
    secrets: list[BuildSecret] | None = None
    shm_size: BytesInt | None = None
    tags: list[Str] | None = None
    ulimits: Ulimits | None = None
    platforms: list[Str] | None = None
    privileged: Bool | None = None


class WatchExec(Model):
    keep_null: ClassVar[frozenset[str]] = frozenset({"command"})
    nullable: ClassVar[frozenset[str]] = frozenset({"command"})
    command: Command = None
    user: Str | None = None
    privileged: Bool | None = None
    working_dir: Str | None = None
    environment: Environment | None = None


class ServiceHook(WatchExec):
    pass


class WatchTrigger(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"path", "action"})
    path: Str
    action: Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"]
    target: Str | None = None
    exec: ServiceHook = Field(default_factory=ServiceHook)
    ignore: StrList | None = None
    include: StrList | None = None
    initial_sync: Bool | None = None


class Develop(Model):
    watch: list[WatchTrigger] | None = None


class WeightDevice(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"path", "weight"})
    path: Str = Field(default="", serialization_alias="Path")
    weight: UInt = Field(default=0, serialization_alias="Weight")


class ThrottleDevice(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"path", "rate"})
    path: Str = Field(default="", serialization_alias="Path")
    rate: BytesInt = Field(default=0, serialization_alias="Rate")


class Blkio(Model):
    weight: UInt | None = None
    weight_device: list[WeightDevice] | None = None
    device_read_bps: list[ThrottleDevice] | None = None
    device_read_iops: list[ThrottleDevice] | None = None
    device_write_bps: list[ThrottleDevice] | None = None
    device_write_iops: list[ThrottleDevice] | None = None


class ServiceFileMount(Model):
    """An entry of a service's ``secrets`` or ``configs``."""

    source: Str | None = None
    target: Str | None = None
    uid: Str | None = None
    gid: Str | None = None
    mode: FileMode | None = None


class DeviceMapping(Model):
    source: Str | None = None
    target: Str | None = None
    permissions: Str | None = None


class CredentialSpec(Model):
    config: Str | None = None
    file: Str | None = None
    registry: Str | None = None


class DeviceRequest(Model):
    capabilities: list[Str]
    driver: Str | None = None
    count: DeviceCount | None = None
    device_ids: list[Str] | None = None
    options: Labels | None = None

    @model_validator(mode="after")
    def _all_devices_by_default(self) -> DeviceRequest:
        # docker compose asks for every device when neither count nor device_ids is given
        if self.count is None and not self.device_ids:
            object.__setattr__(self, "count", -1)
        return self


class GpuRequest(DeviceRequest):
    """An entry of ``gpus`` (``gpus: all`` is ``[{count: -1}]``); capabilities are optional."""

    model_config = ConfigDict(extra="ignore")  # docker compose ignores unknown keys here
    capabilities: list[Str] | None = None  # type: ignore[assignment]


class DiscreteResourceSpec(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"kind", "value"})
    kind: Str = ""
    value: Int = 0


class GenericResource(Model):
    discrete_resource_spec: DiscreteResourceSpec | None = None


class Resource(Model):
    cpus: Float | None = None
    memory: BytesStr | None = None
    pids: Int | None = None
    devices: list[DeviceRequest] | None = None
    generic_resources: list[GenericResource] | None = None


class Resources(Model):
    limits: Resource | None = None
    reservations: Resource | None = None


class UpdateConfig(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"parallelism"})
    parallelism: UInt | None = None
    delay: Duration | None = None
    failure_action: Str | None = None
    monitor: Duration | None = None
    max_failure_ratio: Float | None = None
    order: Literal["start-first", "stop-first"] | None = None


class RestartPolicy(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"delay", "max_attempts", "window"})
    condition: Str | None = None
    delay: Duration | None = None
    max_attempts: UInt | None = None
    window: Duration | None = None


class PlacementPreference(Model):
    spread: Str | None = None


class Placement(Model):
    constraints: list[Str] | None = None
    preferences: list[PlacementPreference] | None = None
    max_replicas_per_node: UInt | None = None


class Deploy(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"replicas"})
    mode: Str | None = None
    replicas: UInt | None = None
    labels: Labels | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    resources: Resources = Field(default_factory=Resources)
    restart_policy: RestartPolicy | None = None
    placement: Placement = Field(default_factory=Placement)
    endpoint_mode: Str | None = None


def _to_option_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


class Provider(Model):
    type: Str
    options: (
        dict[
            str,
            Annotated[
                list[ScalarStr],
                BeforeValidator(_to_option_list, json_schema_input_type=_Scalar | list[_Scalar]),
            ],
        ]
        | None
    ) = None


class EnvFile(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset({"required"})
    path: Str
    required: Bool = True
    format: Str | None = None


class Extends(Model):
    file: Str | None = None
    service: Str


class Healthcheck(Model):
    keep_zero: ClassVar[frozenset[str]] = frozenset(
        {"timeout", "interval", "retries", "start_period", "start_interval"}
    )
    test: StrList | None = None
    timeout: Duration | None = None
    interval: Duration | None = None
    retries: UIntNumber | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: Bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Healthcheck:
        if self.test and self.test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise PydanticCustomError(
                "compose",
                'test must start with "CMD", "CMD-SHELL" or "NONE", got {got}',
                {"got": describe(self.test[0])},
            )
        return self


class Logging(Model):
    driver: Str | None = None
    options: Options | None = None


class ServiceModel(Model):
    endpoint_var: Str | None = None
    model_var: Str | None = None


class ServiceNetwork(Model):
    aliases: list[Str] | None = None
    driver_opts: Options | None = None
    gw_priority: NumberInt | None = None
    interface_name: Str | None = None
    ipv4_address: Str | None = None
    ipv6_address: Str | None = None
    link_local_ips: list[Str] | None = None
    mac_address: Str | None = None
    priority: NumberInt | None = None


def _to_port_target(value: Any) -> int:
    port = _to_int(value) if not isinstance(value, int) or isinstance(value, bool) else value
    if not 0 <= port < 1 << 32:
        raise PydanticCustomError("compose", "expected a port number, got {got}", {"got": port})
    return port


def _to_ip_address(value: Any) -> str:
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value.removeprefix("[").removesuffix("]"))
        except ValueError:
            pass
        else:
            return value
    raise _fail("an IP address", value)


def _to_published(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _fail("a port number or range (an integer or a string)", value)


class Port(Model):
    name: Str | None = None
    mode: Str | None = None
    host_ip: Annotated[str, BeforeValidator(_to_ip_address)] | None = None
    target: Annotated[int, BeforeValidator(_to_port_target)] | None = None
    published: Annotated[str, BeforeValidator(_to_published)] | None = None
    protocol: Str | None = None
    app_protocol: Str | None = None

    @model_validator(mode="after")
    def _check(self) -> Port:
        if self.target is None:
            raise PydanticCustomError(
                "compose", "the port has no target; add target: CONTAINER_PORT"
            )
        return self


class MountBind(Model):
    selinux: Literal["z", "Z"] | None = None
    propagation: Str | None = None
    create_host_path: Bool | None = None
    recursive: Literal["enabled", "disabled", "writable", "readonly"] | None = None


class MountVolume(Model):
    labels: Labels | None = None
    nocopy: Bool | None = None
    subpath: Str | None = None


class MountTmpfs(Model):
    size: Size | None = None
    mode: Annotated[int, BeforeValidator(_to_mode_number)] | None = None


class MountImage(Model):
    subpath: Str | None = None


class Mount(Model):
    type: Literal["bind", "volume", "tmpfs", "cluster", "npipe", "image"]
    source: Str | None = None
    target: Str | None = None
    read_only: Bool | None = None
    consistency: Str | None = None
    bind: MountBind | None = None
    volume: MountVolume | None = None
    tmpfs: MountTmpfs | None = None
    image: MountImage | None = None

    @model_validator(mode="after")
    def _check(self) -> Mount:
        if not self.target and self.type != "npipe":
            raise PydanticCustomError(
                "compose", "the mount has no target; add target: /path/in/container"
            )
        if self.type == "bind" and not self.source:
            raise PydanticCustomError(
                "compose", 'a mount of type "bind" needs a source (the path on the host)'
            )
        return self
