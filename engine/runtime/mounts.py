"""A container's ``Binds``, ``Mounts`` and ``Tmpfs`` -> OCI mount entries. Pure.

Volumes are named by the caller: ``volume_paths`` maps each volume name the container uses
to its directory on the host (engine.volumes creates them, including anonymous ones). Binds
take Docker's short syntax ``source:target[:options]``, where a source without a ``/`` names
a volume. Options: ``ro``/``rw``, propagation (``rprivate`` default, ``private``, ``rshared``,
``shared``, ``rslave``, ``slave``), ``nocopy``, ``z``/``Z`` (accepted, no SELinux here).

A volume ``subpath`` stays in its entry under the key ``subpath`` (source = the volume's
directory): the runtime resolves it inside the volume at each start (engine.runtime.beneath),
since a container can plant symlinks in a volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.api.models import HostConfig, Mount
from engine.errors import InvalidParameter

PROPAGATIONS = {"private", "rprivate", "shared", "rshared", "slave", "rslave"}
TMPFS_DEFAULT_OPTIONS = ("noexec", "nosuid", "nodev")


@dataclass(frozen=True, slots=True)
class ParsedBind:
    source: str
    target: str
    read_only: bool
    propagation: str
    no_copy: bool

    @property
    def is_volume(self) -> bool:
        return not self.source.startswith("/")


def parse_bind(bind: str) -> ParsedBind:
    """``parse_bind("data:/var/lib/data:ro,nocopy")``."""
    parts = bind.split(":")
    if len(parts) == 1:
        raise InvalidParameter(
            f"invalid volume specification: {bind!r}",
            hint="use source:target[:options] (an anonymous volume goes in Config.Volumes)",
        )
    if len(parts) > 3:
        raise InvalidParameter(f"invalid volume specification: {bind!r}: too many colons")
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    if not target.startswith("/"):
        raise InvalidParameter(
            f"invalid mount config: {bind!r}: the target {target!r} is not an absolute path"
        )
    read_only = False
    propagation = "rprivate"
    no_copy = False
    for option in options:
        if option == "ro":
            read_only = True
        elif option == "rw":
            read_only = False
        elif option in PROPAGATIONS:
            propagation = option
        elif option == "nocopy":
            no_copy = True
        elif option in ("z", "Z", "consistent", "cached", "delegated"):
            continue
        else:
            raise InvalidParameter(f"invalid mode {option!r} in volume specification {bind!r}")
    return ParsedBind(source, target, read_only, propagation, no_copy)


def volume_names(host_config: HostConfig) -> list[str]:
    """The named volumes ``host_config`` refers to (binds and mounts), in order."""
    names: list[str] = []
    for bind in host_config.binds or ():
        parsed = parse_bind(bind)
        if parsed.is_volume and parsed.source not in names:
            names.append(parsed.source)
    for mount in host_config.mounts or ():
        if mount.type == "volume" and mount.source and mount.source not in names:
            names.append(mount.source)
    return names


def _bind_entry(source: str, target: str, read_only: bool, propagation: str) -> dict[str, Any]:
    options = ["rbind", propagation or "rprivate"]
    if read_only:
        options.append("ro")
    return {"destination": target, "type": "bind", "source": source, "options": options}


def tmpfs_entry(target: str, data: str) -> dict[str, Any]:
    """Docker's tmpfs: ``noexec,nosuid,nodev`` unless the options say otherwise."""
    given = [option for option in data.split(",") if option]
    overridden = {option.removeprefix("no") for option in given}
    options = [o for o in TMPFS_DEFAULT_OPTIONS if o.removeprefix("no") not in overridden]
    options.extend(given)
    return {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options}


def _volume_path(volume_paths: Mapping[str, str], name: str) -> str:
    try:
        return volume_paths[name]
    except KeyError:
        raise InvalidParameter(f"volume {name!r} has no path on the host") from None


def _check_subpath(subpath: str) -> str:
    """A volume subpath, relative and without ``..``: what engine.runtime.beneath opens
    inside the volume (never joined to the volume's path as a string)."""
    if subpath.startswith("/") or ".." in subpath.split("/") or "\0" in subpath:
        raise InvalidParameter(f"invalid volume subpath {subpath!r}: it must stay inside")
    return subpath


def _mount_entry(mount: Mount, volume_paths: Mapping[str, str]) -> dict[str, Any]:
    if not mount.target.startswith("/"):
        raise InvalidParameter(f"invalid mount target {mount.target!r}: not an absolute path")
    if mount.type == "tmpfs":
        options: list[str] = []
        if mount.tmpfs_options is not None:
            if mount.tmpfs_options.size_bytes:
                options.append(f"size={mount.tmpfs_options.size_bytes}")
            if mount.tmpfs_options.mode:
                options.append(f"mode={mount.tmpfs_options.mode:o}")
        if mount.read_only:
            options.append("ro")
        return tmpfs_entry(mount.target, ",".join(options))
    if mount.type == "bind":
        if not mount.source.startswith("/"):
            raise InvalidParameter(f"invalid bind source {mount.source!r}: not an absolute path")
        propagation = mount.bind_options.propagation if mount.bind_options else ""
        return _bind_entry(mount.source, mount.target, mount.read_only, propagation)
    subpath = mount.volume_options.subpath if mount.volume_options else ""
    name = mount.source or f"anonymous:{mount.target}"
    entry = _bind_entry(_volume_path(volume_paths, name), mount.target, mount.read_only, "")
    if subpath.strip("/."):
        entry["subpath"] = _check_subpath(subpath)
    return entry


def user_mounts(
    host_config: HostConfig,
    volume_paths: Mapping[str, str],
    anonymous_targets: list[str] | tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """OCI mount entries for the container's own mounts; the later of two on a target wins.

    ``anonymous_targets`` are Config.Volumes targets; their host paths are in
    ``volume_paths`` under ``"anonymous:<target>"``.
    """
    by_target: dict[str, dict[str, Any]] = {}
    for target in anonymous_targets:
        by_target[target] = _bind_entry(
            _volume_path(volume_paths, f"anonymous:{target}"), target, False, ""
        )
    for bind in host_config.binds or ():
        parsed = parse_bind(bind)
        source = _volume_path(volume_paths, parsed.source) if parsed.is_volume else parsed.source
        by_target[parsed.target] = _bind_entry(
            source, parsed.target, parsed.read_only, parsed.propagation
        )
    for mount in host_config.mounts or ():
        by_target[mount.target] = _mount_entry(mount, volume_paths)
    for target, data in (host_config.tmpfs or {}).items():
        if not target.startswith("/"):
            raise InvalidParameter(f"invalid tmpfs target {target!r}: not an absolute path")
        by_target[target] = tmpfs_entry(target, data)
    return list(by_target.values())
