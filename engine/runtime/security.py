"""A container's security settings as Docker makes them: capabilities, seccomp, masked and
read-only paths, ``security_opt`` and namespaced sysctls. Pure.

The defaults are moby's (``oci/defaults.go``, ``oci/caps``): 14 default capabilities,
``cap_drop`` then ``cap_add`` (``ALL`` allowed), Docker's default seccomp allow-list
selected for the capabilities, /proc and /sys paths masked unless privileged, and the
network sysctls Docker sets in a network namespace of the container's own.
"""

from __future__ import annotations

import json
from typing import Any

from engine.api.models import HostConfig
from engine.errors import InvalidParameter
from engine.runtime import seccomp

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Every capability up to CAP_CHECKPOINT_RESTORE (40), in number order.
ALL_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# Sysctls that live in a namespace the container owns (moby opts.ValidateSysctl).
_IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)


def _normalize_cap(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    capability = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if capability not in ALL_CAPABILITIES:
        raise InvalidParameter(
            f"unknown capability: {name!r}", hint="see capabilities(7) for the names"
        )
    return capability


def capabilities(host_config: HostConfig) -> list[str]:
    """moby ``caps.TweakCapabilities``: defaults, minus drops, plus adds (``ALL`` allowed)."""
    if host_config.privileged:
        return list(ALL_CAPABILITIES)
    adds = [_normalize_cap(c) for c in host_config.cap_add or ()]
    drops = [_normalize_cap(c) for c in host_config.cap_drop or ()]
    base: list[str] = [] if "ALL" in drops else list(DEFAULT_CAPABILITIES)
    if "ALL" in adds:
        base = list(ALL_CAPABILITIES)
    result = [c for c in base if c not in drops]
    for cap in adds:
        if cap != "ALL" and cap not in result:
            result.append(cap)
    return result


def security_options(host_config: HostConfig) -> tuple[bool, str | None, bool]:
    """(no_new_privileges, seccomp profile JSON or "unconfined" or None, system paths masked)."""
    no_new_privileges = False
    profile: str | None = None
    masked = True
    for option in host_config.security_opt or ():
        key, sep, value = option.partition("=")
        if not sep:
            key, sep, value = option.partition(":")
        key = key.strip()
        if key == "no-new-privileges":
            no_new_privileges = value.strip().lower() in ("", "true", "1")
        elif key == "seccomp":
            profile = value
        elif key == "systempaths":
            masked = value != "unconfined"
        elif key in ("label", "apparmor"):
            continue
        else:
            raise InvalidParameter(
                f"invalid security option {option!r}",
                hint="use no-new-privileges, seccomp=unconfined|<profile>, systempaths=unconfined",
            )
    return no_new_privileges, profile, masked


_MAX_READONLY_PATHS = 256
_MAX_PATH = 4096


def readonly_paths(host_config: HostConfig, system_paths_masked: bool) -> list[str]:
    """The paths runc bind-mounts read-only onto themselves (Docker's ``ReadonlyPaths``).

    None in the request means Docker's defaults; an explicit list replaces them (clients
    such as pycompose add the secret and config files they copied in). The paths come from
    API clients: absolute, clean, bounded. runc resolves them after pivot_root, inside the
    container's root, so none reaches the host.
    """
    if host_config.privileged:
        return []
    if host_config.readonly_paths is None:
        return list(READONLY_PATHS) if system_paths_masked else []
    if len(host_config.readonly_paths) > _MAX_READONLY_PATHS:
        raise InvalidParameter(
            f"ReadonlyPaths has {len(host_config.readonly_paths)} entries; "
            f"at most {_MAX_READONLY_PATHS} are allowed"
        )
    for path in host_config.readonly_paths:
        parts = path.split("/")
        if (
            not path.startswith("/")
            or len(path) > _MAX_PATH
            or "\0" in path
            or any(part in (".", "..") for part in parts)
        ):
            raise InvalidParameter(
                f"ReadonlyPaths entry {path[:200]!r} is not a clean absolute path",
                hint="give absolute paths without . or .. components",
            )
    return list(host_config.readonly_paths)


def seccomp_section(
    host_config: HostConfig, caps: list[str], *, machine: str, kernel: str
) -> dict[str, Any] | None:
    """The spec's seccomp section: Docker's default profile, the one given, or none."""
    _, profile_text, _ = security_options(host_config)
    if host_config.privileged or profile_text == "unconfined":
        return None
    if profile_text is None or profile_text == "builtin":
        return seccomp.default_section(caps, machine=machine, kernel=kernel)
    else:
        try:
            profile = json.loads(profile_text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise InvalidParameter(
                f"the seccomp profile is not valid JSON: {exc}",
                hint="security_opt seccomp= takes the profile's content (the CLI reads the file)",
            ) from exc
    return seccomp.to_oci(profile, capabilities=caps, machine=machine, kernel=kernel)


def default_sysctls(host_config: HostConfig) -> dict[str, str]:
    """Docker's sysctls for a network namespace the container gets of its own (not ``host``
    nor ``container:``): any port and unprivileged ICMP echo sockets without capabilities;
    with ``none``, no IPv6 at all (only 127.0.0.1 on ``lo``, as Docker 20.10 leaves it)."""
    mode = host_config.network_mode
    if mode == "host" or mode.startswith("container:"):
        return {}
    defaults = {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": "0 2147483647",
    }
    if mode == "none":
        defaults["net.ipv6.conf.all.disable_ipv6"] = "1"
    return defaults


def validate_sysctls(host_config: HostConfig) -> dict[str, str]:
    """The container's sysctls, when each is namespaced and its namespace is the container's own."""
    for key in host_config.sysctls or {}:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if host_config.ipc_mode == "host":
                raise InvalidParameter(f"sysctl {key!r} is not allowed with ipc mode host")
        elif key.startswith("net."):
            if host_config.network_mode == "host":
                raise InvalidParameter(f"sysctl {key!r} is not allowed with network mode host")
        else:
            raise InvalidParameter(
                f"sysctl {key!r} is not allowed in a container",
                hint="only namespaced sysctls (kernel.shm*, kernel.msg*, kernel.sem, "
                "fs.mqueue.*, net.*) can be set",
            )
    return {**default_sysctls(host_config), **(host_config.sysctls or {})}
