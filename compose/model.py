"""Phase 8: pydantic models of the Compose Specification (long syntax).

Contract (called by compose.load):

    validate_project(tree) -> Project
        ``tree`` is the normalised project mapping (MapNode/SeqNode with locations).
        Raises ModelError listing every issue with file:line:column (taken from the
        tree with compose.source.location_of / key_location_of) and "did you mean"
        hints for unknown keys.

    check_shapes(tree) -> list[Issue]
        The shape/type issues of a partial tree (no project rules); for parts a
        later phase drops (unused resources, services disabled by profiles),
        which docker compose validates all the same.

The models take the long syntax that compose.canonical produces. Fields are
declared in the order docker compose prints them (compose-go's struct order),
so that compose.output can render them in that order. ``None`` means "not set".

Scalars are read as docker compose reads them: booleans also from
``yes``/``no``/``on``/``off`` strings (never from ``"1"``), integers also from
digit strings, sizes ("512m") as byte counts, durations ("1m30s") as integer
nanoseconds, file modes as octal. Keys starting with ``x-`` are accepted
everywhere; only the top-level ones are kept (docker compose prints no others).
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from compose.errors import Issue, ModelError
from compose.source import key_location_of, location_of
from compose.units import parse_bytes, parse_duration

# --- scalar types -----------------------------------------------------------------------


class _Null:
    """Stands for an explicit ``null`` where the specification allows none.

    ``None`` means "not set" in the models; a key written with a null value
    that docker compose refuses is swapped for this marker so that the field's
    own validation fails, at the field's location.
    """

    def __repr__(self) -> str:
        return "null"


NULL = _Null()


def describe(value: Any) -> str:
    """A value as messages show it: ``"abc"``, ``42``, ``a mapping``, ``a list``."""
    if value is NULL:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def _fail(expected: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(
        "compose", "expected {expected}, got {got}", {"expected": expected, "got": describe(value)}
    )


_TRUE_WORDS = frozenset({"true", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off"})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _fail("a boolean (true or false)", value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail("an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    raise _fail("an integer", value)


def _to_uint(value: Any) -> int:
    number = _to_int(value)
    if number < 0:
        raise PydanticCustomError(
            "compose", "must be greater than or equal to 0, got {got}", {"got": number}
        )
    return number


def _to_int_number(value: Any) -> int:
    """Fields typed "number": a fraction is truncated, as docker compose's cast does."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return _to_int(value)


def _to_number_int(value: Any) -> int:
    """Fields typed "number" only (no string): a fraction is truncated."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _fail("a number", value)


def _to_uint_number(value: Any) -> int:
    number = _to_int_number(value)
    if number < 0:
        raise PydanticCustomError(
            "compose", "must be greater than or equal to 0, got {got}", {"got": number}
        )
    return number


def _bool_or_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise _fail("a boolean or a string", value)


def _to_ssh_key(value: Any) -> str:
    """build.ssh entries: ``default`` or ``ID=PATH``."""
    if isinstance(value, str) and (value == "default" or "=" in value):
        return value
    raise _fail('"default" or "ID=PATH[,PATH]" (an SSH agent socket or keys)', value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _fail("a number", value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _fail("a number", value)


def _scalar_to_str(value: Any) -> str:
    """Fields the specification types as string-or-number(-or-boolean)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    raise _fail("a string or a number", value)


def _to_bytes_int(value: Any) -> int:
    """Sizes the specification types integer-or-string."""
    if isinstance(value, float):
        raise _fail("an integer or a size such as 512m", value)
    return _to_bytes(value)


def _to_bytes_str(value: Any) -> int:
    """Sizes the specification types as strings only (deploy.resources.*.memory)."""
    if not isinstance(value, str):
        raise _fail("a size such as 512m (a string)", value)
    return _to_bytes(value)


def _to_bytes(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        return 0  # docker compose silently reads a fractional byte count as 0 (unset)
    try:
        return parse_bytes(value)
    except ValueError as exc:
        raise PydanticCustomError("compose", str(exc)) from None


def _to_size(value: Any) -> int:
    size = _to_bytes_int(value)
    if size < 0:
        raise PydanticCustomError(
            "compose", "must be greater than or equal to 0, got {got}", {"got": size}
        )
    return size


def _to_duration(value: Any) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("compose", str(exc)) from None


def _to_file_mode(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            pass
    raise _fail("a file mode such as 0440", value)


def _to_mode_number(value: Any) -> int:
    """A file mode printed as a plain number (tmpfs ``mode``, an unsigned 32-bit integer)."""
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
        return value
    raise _fail("a file mode such as 0755 (a number)", value)


def _to_str_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise _fail("a string or a list of strings", value)


def _check_list(value: Any) -> Any:
    if isinstance(value, list):
        return value
    raise _fail("a list", value)


def _to_device_count(value: Any) -> int:
    if isinstance(value, str) and value.lower() == "all":
        return -1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise PydanticCustomError(
        "compose",
        "invalid value {got}, the only value allowed is 'all' or a number",
        {"got": describe(value)},
    )


def _check_command(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    raise _fail("a string, a list of strings or null", value)


def _check_map(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    raise _fail("a mapping (or a list of KEY=VALUE strings)", value)


def _map_value(null: str | None) -> Callable[[Any], str | None]:
    """A value of a string mapping: scalars become strings; null becomes ``null``."""

    def convert(value: Any) -> str | None:
        if value is None:
            return null
        if isinstance(value, dict | list):
            raise _fail("a string, a number or a boolean", value)
        return _scalar_to_str(value)

    return convert


_Scalar = str | int | float | bool
Bool = Annotated[bool, BeforeValidator(_to_bool, json_schema_input_type=bool | str)]
Int = Annotated[int, BeforeValidator(_to_int, json_schema_input_type=int | str)]
UInt = Annotated[int, BeforeValidator(_to_uint, json_schema_input_type=int | str)]
NumberInt = Annotated[int, BeforeValidator(_to_number_int, json_schema_input_type=float)]
IntNumber = Annotated[int, BeforeValidator(_to_int_number, json_schema_input_type=float | str)]
UIntNumber = Annotated[int, BeforeValidator(_to_uint_number, json_schema_input_type=float | str)]
BoolStr = Annotated[str, BeforeValidator(_bool_or_str, json_schema_input_type=bool | str)]
Float = Annotated[float, BeforeValidator(_to_float, json_schema_input_type=float | str)]
Str = Annotated[str, Strict()]
ScalarStr = Annotated[str, BeforeValidator(_scalar_to_str, json_schema_input_type=_Scalar)]
Bytes = Annotated[int, BeforeValidator(_to_bytes, json_schema_input_type=int | str)]
BytesInt = Annotated[int, BeforeValidator(_to_bytes_int, json_schema_input_type=int | str)]
BytesStr = Annotated[int, BeforeValidator(_to_bytes_str, json_schema_input_type=str)]
Size = Annotated[int, BeforeValidator(_to_size, json_schema_input_type=int | str)]
Duration = Annotated[int, BeforeValidator(_to_duration, json_schema_input_type=str)]
FileMode = Annotated[int, BeforeValidator(_to_file_mode, json_schema_input_type=int | str)]
StrList = Annotated[
    list[Str], BeforeValidator(_to_str_list, json_schema_input_type=str | list[str])
]
ScalarList = Annotated[
    list[ScalarStr], BeforeValidator(_check_list, json_schema_input_type=list[_Scalar])
]
Command = Annotated[
    list[Str] | None,
    BeforeValidator(_check_command, json_schema_input_type=str | list[str] | None),
]
_MapValue = _Scalar | None
Labels = Annotated[
    dict[str, Annotated[str, BeforeValidator(_map_value(""), json_schema_input_type=_MapValue)]],
    BeforeValidator(_check_map, json_schema_input_type=dict[str, _MapValue]),
]
Environment = Annotated[
    dict[
        str,
        Annotated[str | None, BeforeValidator(_map_value(None), json_schema_input_type=_MapValue)],
    ],
    BeforeValidator(_check_map, json_schema_input_type=dict[str, _MapValue]),
]
Options = Labels
DeviceCount = Annotated[int, BeforeValidator(_to_device_count, json_schema_input_type=int | str)]


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


# --- validation entry point -------------------------------------------------------------

_MESSAGES = {
    "missing": "missing required key",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected a boolean",
}


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields live at ``path`` (for "did you mean")."""
    current: Any = Project
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
            inner = _inner(current)
            if _is_model(current) or (inner is not None and not _is_container(current)):
                current = inner
        else:  # a mapping key or a list index: step into the element model
            current = _inner(current)
            if current is None:
                return None
    if not _is_model(current):
        current = _inner(current) if not _is_container(current) else None
    return current if _is_model(current) else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_container(annotation: Any) -> bool:
    """``list[...]``/``dict[...]`` (possibly inside ``| None``), as opposed to ``Model | None``."""
    origin = getattr(annotation, "__origin__", None)
    if origin in (list, dict):
        return True
    return any(_is_container(arg) for arg in getattr(annotation, "__args__", ()) or ())


def _inner(annotation: Any) -> Any:
    """The model inside ``X | None``, ``list[X]``, ``dict[str, X]`` (or None)."""
    seen = 0
    while seen < 6:
        seen += 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        args = getattr(annotation, "__args__", None)
        if not args:
            return None
        models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if models:
            return models[0]
        nested = [arg for arg in args if getattr(arg, "__args__", None)]
        if not nested:
            return None
        annotation = nested[-1]
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member and validator tags from an error location."""
    return tuple(
        part
        for part in loc
        if isinstance(part, int)
        or not (
            "[" in part
            or part in ("int", "str", "bool", "float", "none")
            or part in ("Ulimit", "ServiceNetwork", "ServiceModel", "[key]")
        )
    )


def _issue(tree: Any, error: Any) -> Issue:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    if loc and loc[0] == "extensions":
        loc = loc[1:]
    if kind == "extra_forbidden":
        key = loc[-1]
        parent = _model_at(loc[:-1])
        hint = None
        if parent is not None and isinstance(key, str):
            names = [name for name in parent.model_fields if name not in ("extensions",)]
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            if close:
                hint = f'did you mean "{close[0]}"?'
            else:
                hint = "known keys: " + ", ".join(sorted(names))
        return Issue("unknown key", key_location_of(tree, loc), loc, hint)
    if kind == "compose":
        message = error["msg"]
    elif kind in _MESSAGES:
        message = _MESSAGES[kind]
        if kind != "missing":
            message += f", got {describe(error.get('input'))}"
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected}, got {describe(error.get('input'))}"
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"]
    location = location_of(tree, loc[:-1] if kind == "missing" else loc)
    return Issue(message, location, loc)


def _without_union_noise(issues: list[Issue]) -> list[Issue]:
    """Drop "expected X" issues of a union branch when a deeper issue explains the value.

    ``ulimits.nofile: {soft: 1}`` fails both as an integer and as a mapping; the
    user wants to hear about the missing ``hard``, not that it is not an integer.
    """
    paths = [issue.path for issue in issues]
    kept = []
    for issue in issues:
        deeper = any(
            len(other) > len(issue.path) and other[: len(issue.path)] == issue.path
            for other in paths
        )
        if deeper and issue.message.startswith("expected"):
            continue
        if issue not in kept:
            kept.append(issue)
    return kept


def _project_checks(project: Project, tree: Any) -> list[Issue]:
    """Consistency rules docker compose enforces on the loaded model."""
    issues: list[Issue] = []
    for name, service in project.services.items():
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
            if trigger.action != "rebuild" and not trigger.target:
                where = (*path, "develop", "watch", index)
                issues.append(
                    Issue(
                        f'action "{trigger.action}" needs a target (the path in the container)',
                        location_of(tree, where),
                        where,
                        "add target: /path/in/container",
                    )
                )
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
        issues = [_issue(tree, error) for error in exc.errors(include_url=False)]
        return _without_union_noise(issues)
    return []


def validate_project(tree: Any) -> Project:
    """Validate a normalised project tree; raise ModelError with every located issue."""
    try:
        project = Project.model_validate(tree)
    except ValidationError as exc:
        issues = [_issue(tree, error) for error in exc.errors(include_url=False)]
        raise ModelError(_without_union_noise(issues)) from None
    issues = _project_checks(project, tree)
    if issues:
        raise ModelError(issues)
    return project
