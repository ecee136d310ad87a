"""Container configuration + image configuration -> OCI runtime spec (``config.json``). Pure.

The defaults are Docker's (moby ``oci/defaults.go`` and ``daemon/oci_linux.go``):

- capabilities: the 14 of :data:`DEFAULT_CAPABILITIES`, then ``cap_drop``/``cap_add``
  (``ALL`` allowed); a non-root user gets them only in the bounding set;
- seccomp: Docker's default allow-list profile (``seccomp_default.json``), selected for the
  container's capabilities; ``seccomp=unconfined`` or a profile given as JSON text;
- masked paths and read-only paths as Docker's; none with ``privileged`` or
  ``systempaths=unconfined``;
- mounts: /proc, /dev (tmpfs), /dev/pts, /sys (ro), /sys/fs/cgroup (ro), /dev/mqueue,
  /dev/shm (64 MiB tmpfs, ``shm_size``), then the container's own mounts;
- device cgroup rules: deny all, allow null/zero/full/random/urandom/tty/console (runc adds
  its own default device nodes and rules for pts, ptmx and tun);
- namespaces: pid, ipc, uts, mount, network (+ cgroup on cgroup v2), each replaced by a path
  from ``namespace_paths`` (``container:<id>`` modes, a network namespace made by
  engine.network) or dropped for ``host``.

The security settings (capabilities, seccomp, paths, sysctls) are made by
engine.runtime.security. Inputs that need I/O are read by the caller and passed in: the
image's /etc/passwd and /etc/group text, host device numbers, volume paths, namespace paths.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.api.models import Command, ContainerCreate, HostConfig, ImageConfig, LogConfig
from engine.errors import InvalidParameter
from engine.runtime.resources import check_host_options, resources_section
from engine.runtime.security import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    capabilities,
    readonly_paths,
    seccomp_section,
    security_options,
    validate_sysctls,
)
from engine.runtime.users import resolve_user

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"


@dataclass(frozen=True, slots=True)
class HostDevice:
    """A device node on the host, as ``os.stat`` sees it (filled in by the caller)."""

    path: str
    kind: str  # "c" or "b"
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class SpecContext:
    """Everything about the host and the container's surroundings that the spec needs."""

    container_id: str
    rootfs: str
    passwd_text: str = ""
    group_text: str = ""
    mounts: Sequence[dict[str, Any]] = ()
    namespace_paths: Mapping[str, str] = field(default_factory=dict)
    host_devices: Mapping[str, HostDevice] = field(default_factory=dict)
    init_path: str = "/usr/bin/tini-static"
    cgroup_version: int = 1
    machine: str = "x86_64"
    kernel: str = "6.1"
    swap_supported: bool = True
    swappiness_supported: bool = True
    realtime_supported: bool = True
    blkio_weight_supported: bool = True
    block_devices: Mapping[str, HostDevice] = field(default_factory=dict)


def shell_form(command: Command | None) -> list[str] | None:
    """A string command is Dockerfile's shell form: ``/bin/sh -c <string>``."""
    if command is None:
        return None
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def merge_env(*layers: Sequence[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: later layers replace a key in place or append."""
    merged: dict[str, str] = {}
    for layer in layers:
        for item in layer:
            key = item.split("=", 1)[0]
            if "=" not in item:
                # "KEY" alone removes it (Docker) when it has no value in this layer.
                merged.pop(key, None)
                continue
            merged[key] = item
    return list(merged.values())


def merge_image_config(config: ContainerCreate, image: ImageConfig) -> ContainerCreate:
    """What Docker stores at create time: the container's settings over the image's.

    Entrypoint and Cmd follow moby ``runconfig`` merge: an empty (not absent) Entrypoint
    resets the image's; the image's Cmd is used only when neither Entrypoint nor Cmd is
    given by the container.
    """
    entrypoint = shell_form(config.entrypoint)
    cmd = shell_form(config.cmd)
    log_config = config.host_config.log_config or LogConfig()
    # as dockerd records it: the daemon's default driver named, no options an empty map
    log_config = LogConfig(type=log_config.type or "json-file", config=log_config.config or {})
    if not entrypoint:
        if not cmd:
            cmd = shell_form(image.cmd)
        if entrypoint is None:
            entrypoint = shell_form(image.entrypoint)
    return config.model_copy(
        update={
            "env": merge_env(image.env, config.env or []),
            "entrypoint": entrypoint,
            "cmd": cmd,
            "working_dir": config.working_dir or image.working_dir,
            "user": config.user or image.user,
            "volumes": {**image.volumes, **(config.volumes or {})},
            "stop_signal": config.stop_signal or image.stop_signal,
            "healthcheck": config.healthcheck or image.healthcheck,
            "labels": {**image.labels, **(config.labels or {})},
            "host_config": config.host_config.model_copy(update={"log_config": log_config}),
        }
    )


def process_args(config: ContainerCreate) -> list[str]:
    """Entrypoint + Cmd of a merged config, behind docker-init when ``init`` is on."""
    args = [*(shell_form(config.entrypoint) or []), *(shell_form(config.cmd) or [])]
    if not args:
        raise InvalidParameter(
            "no command specified",
            hint="give the container a command, or use an image that has a CMD or ENTRYPOINT",
        )
    if config.host_config.init:
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    return args


def _default_mounts(host_config: HostConfig, privileged: bool) -> list[dict[str, Any]]:
    ro_sys = [] if privileged else ["ro"]
    shm_size = host_config.shm_size or DEFAULT_SHM_SIZE
    mounts: list[dict[str, Any]] = [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", *ro_sys],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", *ro_sys],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]
    ipc_mode = host_config.ipc_mode or "private"
    if ipc_mode == "host":
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": "/dev/shm",
                "options": ["rbind", "rprivate"],
            }
        )
    elif ipc_mode != "none" and not ipc_mode.startswith("container:"):
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"],
            }
        )
    return mounts


def _depth(path: str) -> int:
    return len([part for part in path.split("/") if part])


def _namespaces(host_config: HostConfig, context: SpecContext) -> list[dict[str, str]]:
    modes = {
        "pid": host_config.pid_mode,
        "ipc": host_config.ipc_mode,
        "uts": host_config.uts_mode,
        "network": host_config.network_mode,
    }
    namespaces: list[dict[str, str]] = []
    for kind in ("pid", "ipc", "uts", "mount", "network", "cgroup"):
        if kind == "cgroup" and not _private_cgroupns(host_config, context):
            continue
        mode = modes.get(kind, "")
        if mode == "host":
            continue
        entry = {"type": kind}
        path = context.namespace_paths.get(kind)
        if path:
            entry["path"] = path
        elif mode.startswith("container:"):
            raise InvalidParameter(
                f"{kind} mode {mode!r}: the other container's namespace path is missing",
                hint="start the container whose namespace is joined first",
            )
        namespaces.append(entry)
    return namespaces


def cgroups_path(host_config: HostConfig, container_id: str) -> str:
    """The container's cgroup, beneath ``cgroup_parent`` (the engine's ``/pycompose``)."""
    return f"{host_config.cgroup_parent or '/pycompose'}/{container_id}"


def _private_cgroupns(host_config: HostConfig, context: SpecContext) -> bool:
    """Docker's rule: private by default on cgroup v2, host on v1 (where private is refused)."""
    mode = host_config.cgroupns_mode
    if mode not in ("", "host", "private"):
        raise InvalidParameter(f"invalid cgroup namespace mode {mode!r}: use host or private")
    if context.cgroup_version != 2:
        if mode == "private":
            raise InvalidParameter(
                "the private cgroup namespace (cgroup: private) needs cgroup v2; "
                "this host has cgroup v1",
                hint="use cgroup: host, or leave it unset",
            )
        return False
    return mode != "host"


def _parse_cgroup_rule(rule: str) -> dict[str, Any]:
    try:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
    except ValueError:
        raise InvalidParameter(
            f"invalid device cgroup rule {rule!r}", hint="use 'c 1:3 rwm' (type major:minor mode)"
        ) from None
    entry: dict[str, Any] = {"allow": True, "type": kind, "access": access}
    if major != "*":
        entry["major"] = int(major)
    if minor != "*":
        entry["minor"] = int(minor)
    return entry


def _devices(
    host_config: HostConfig, context: SpecContext
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, linux.resources.devices)."""
    if host_config.privileged:
        return [], [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for major, minor in ((1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)):
        rules.append({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"})
    rules.append({"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    nodes: list[dict[str, Any]] = []
    for mapping in host_config.devices or ():
        device = context.host_devices.get(mapping.path_on_host)
        if device is None:
            raise InvalidParameter(
                f"error gathering device information while adding device {mapping.path_on_host!r}",
                hint="check that the device exists on the host",
            )
        nodes.append(
            {
                "path": mapping.path_in_container or mapping.path_on_host,
                "type": device.kind,
                "major": device.major,
                "minor": device.minor,
                "fileMode": device.file_mode,
                "uid": device.uid,
                "gid": device.gid,
            }
        )
        rules.append(
            {
                "allow": True,
                "type": device.kind,
                "major": device.major,
                "minor": device.minor,
                "access": mapping.cgroup_permissions or "rwm",
            }
        )
    rules.extend(_parse_cgroup_rule(rule) for rule in host_config.device_cgroup_rules or ())
    return nodes, rules


def _ulimits(host_config: HostConfig) -> list[dict[str, Any]]:
    return [
        {"type": f"RLIMIT_{ulimit.name.upper()}", "soft": ulimit.soft, "hard": ulimit.hard}
        for ulimit in host_config.ulimits or ()
    ]


def build_spec(config: ContainerCreate, image: ImageConfig, context: SpecContext) -> dict[str, Any]:
    """The OCI runtime spec Docker would run ``config`` (over ``image``) with."""
    merged = merge_image_config(config, image)
    host_config = merged.host_config
    args = process_args(merged)
    working_dir = merged.working_dir or "/"
    if not working_dir.startswith("/"):
        raise InvalidParameter(
            f"the working directory {working_dir!r} is invalid, it needs to be an absolute path"
        )
    user = resolve_user(
        merged.user, context.passwd_text, context.group_text, host_config.group_add or []
    )
    hostname = merged.hostname or context.container_id[:12]
    if host_config.network_mode == "host" and not merged.hostname:
        hostname = ""
    if host_config.uts_mode == "host":
        hostname = ""  # the host's: without a UTS namespace of its own, none can be set
    base_env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if merged.tty:
        base_env.append("TERM=xterm")
    env = merge_env(base_env, merged.env or [])

    caps = capabilities(host_config)
    no_new_privileges, _, system_paths_masked = security_options(host_config)
    process: dict[str, Any] = {
        "terminal": merged.tty,
        "user": {"uid": user.uid, "gid": user.gid},
        "args": args,
        "env": env,
        "cwd": working_dir,
        "capabilities": (
            {"bounding": caps, "effective": caps, "permitted": caps}
            if user.uid == 0
            else {"bounding": caps}
        ),
        "noNewPrivileges": no_new_privileges,
        "oomScoreAdj": host_config.oom_score_adj,
    }
    if user.additional_gids:
        process["user"]["additionalGids"] = list(user.additional_gids)
    rlimits = _ulimits(host_config)
    if rlimits:
        process["rlimits"] = rlimits

    extra_mounts = list(context.mounts)
    if host_config.init:
        extra_mounts.append(
            {
                "destination": INIT_PATH_IN_CONTAINER,
                "type": "bind",
                "source": context.init_path,
                "options": ["bind", "ro", "rprivate"],
            }
        )
    overridden = {mount["destination"] for mount in extra_mounts}
    mounts = [
        mount
        for mount in _default_mounts(host_config, host_config.privileged)
        if mount["destination"] not in overridden
    ]
    mounts.extend(sorted(extra_mounts, key=lambda mount: _depth(mount["destination"])))

    device_nodes, device_rules = _devices(host_config, context)
    check_host_options(host_config)
    resources = resources_section(host_config, context)
    resources["devices"] = device_rules
    linux: dict[str, Any] = {
        "namespaces": _namespaces(host_config, context),
        "resources": resources,
        "cgroupsPath": cgroups_path(host_config, context.container_id),
        "sysctl": validate_sysctls(host_config),
    }
    if device_nodes:
        linux["devices"] = device_nodes
    if not host_config.privileged and system_paths_masked:
        linux["maskedPaths"] = list(MASKED_PATHS)
    read_only = readonly_paths(host_config, system_paths_masked)
    if read_only:
        linux["readonlyPaths"] = read_only
    seccomp_rules = seccomp_section(
        host_config, caps, machine=context.machine, kernel=context.kernel
    )
    if seccomp_rules is not None:
        linux["seccomp"] = seccomp_rules

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        **({"annotations": dict(host_config.annotations)} if host_config.annotations else {}),
        "process": process,
        "root": {"path": context.rootfs, "readonly": host_config.readonly_rootfs},
        **({"hostname": hostname} if hostname else {}),
        "mounts": mounts,
        "linux": linux,
    }
    if merged.domainname and host_config.uts_mode != "host":
        # runc before 1.2 ignores the spec's "domainname"; the namespaced sysctl is
        # setdomainname(2) itself (Docker 20.10 sets it the same way)
        linux["sysctl"]["kernel.domainname"] = merged.domainname
    return spec


def exec_process(
    spec: Mapping[str, Any],
    command: Sequence[str],
    *,
    env: Sequence[str] = (),
    user: str = "",
    working_dir: str = "",
    tty: bool = False,
    passwd_text: str = "",
    group_text: str = "",
    privileged: bool = False,
) -> dict[str, Any]:
    """The OCI process of ``docker exec``: the container's process, with its own overrides."""
    base: dict[str, Any] = json.loads(json.dumps(spec["process"]))
    process = base
    process["args"] = list(command)
    process["terminal"] = tty
    process["env"] = merge_env(base["env"], env)
    if tty and not any(item.startswith("TERM=") for item in process["env"]):
        process["env"].append("TERM=xterm")
    if working_dir:
        process["cwd"] = working_dir
    if user:
        resolved = resolve_user(user, passwd_text, group_text)
        process["user"] = {"uid": resolved.uid, "gid": resolved.gid}
        if resolved.additional_gids:
            process["user"]["additionalGids"] = list(resolved.additional_gids)
        caps = process["capabilities"]["bounding"]
        process["capabilities"] = (
            {"bounding": caps, "effective": caps, "permitted": caps}
            if resolved.uid == 0
            else {"bounding": caps}
        )
    if privileged:
        caps = list(ALL_CAPABILITIES)
        process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    return process


def command_line(args: Sequence[str]) -> str:
    """A readable one-line form of a command (for inspect output and messages)."""
    return shlex.join(args)


# the tests read Docker's defaults from here, where the spec is made
__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_PATH",
    "MASKED_PATHS",
    "HostDevice",
    "SpecContext",
    "build_spec",
    "command_line",
    "exec_process",
    "merge_env",
    "merge_image_config",
    "process_args",
    "shell_form",
]
