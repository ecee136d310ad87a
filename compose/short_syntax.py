"""Compose short syntax strings to their long form: ports, volumes, devices.

Each parser takes one string as written in a compose file and returns the long-syntax
mapping docker compose prints, or raises ValueError (PortSpecError for ports) with
docker compose's reason; compose.canonical turns that into an Issue at the value's
position in the file.
"""

from __future__ import annotations

import posixpath
from typing import Any

from engine.api.ports import parse_port_spec


def parse_port(spec: str) -> list[dict[str, Any]]:
    """Expand one short port spec (``"127.0.0.1:8000-8001:80-81/udp"``) to long entries.

    Raises PortSpecError (a ValueError) with docker compose's reason when it is malformed.
    """
    entries: list[dict[str, Any]] = []
    for port in parse_port_spec(spec):
        entry: dict[str, Any] = {"mode": "ingress"}
        if port.host_ip:
            entry["host_ip"] = port.host_ip
        entry["target"] = port.target
        if port.published:
            entry["published"] = port.published
        entry["protocol"] = port.protocol
        entries.append(entry)
    return entries


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and source[0].isalpha() and source[1] == ":"


_PROPAGATIONS = frozenset({"rprivate", "private", "rshared", "shared", "rslave", "slave"})


def parse_volume(spec: str) -> dict[str, Any]:
    """The long form of a short volume spec (``"./data:/data:ro,z"``). Raises ValueError."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    volume: dict[str, Any] = {}
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    fields: list[str] = []
    buffer = ""
    depth = 0
    text = spec + "\0"
    for index, char in enumerate(text):
        if char == "$" and index + 1 < len(spec) and spec[index + 1] == "{":
            depth += 1
            buffer += char
            continue
        if char == "}" and depth:
            depth -= 1
            buffer += char
            continue
        if char == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += char  # a Windows drive letter
        elif char in ":\0" and depth == 0:
            if not buffer:
                raise ValueError(f"invalid spec: {spec}: empty section between colons")
            if len(fields) >= 3 or (len(fields) == 2 and char == ":"):
                raise ValueError(f"invalid spec: {spec}: too many colons")
            fields.append(buffer)
            buffer = ""
        else:
            buffer += char
    bind: dict[str, Any] | None = None
    read_only = False
    nocopy = False
    if len(fields) == 1:
        source, target = "", fields[0]
    else:
        source, target = fields[0], fields[1]
    if len(fields) == 3:
        for option in fields[2].split(","):
            if option == "ro":
                read_only = True
            elif option == "rw":
                read_only = False
            elif option == "nocopy":
                nocopy = True
            elif option in _PROPAGATIONS:
                bind = bind or {}
                bind["propagation"] = option
            elif option in ("z", "Z"):
                bind = bind or {}
                bind["selinux"] = option
    is_bind = _is_file_path(source)
    volume["type"] = "bind" if is_bind else "volume"
    if source:
        volume["source"] = source
    volume["target"] = posixpath.normpath(target) if target else target
    if target.startswith("//"):
        volume["target"] = "/" + volume["target"].lstrip("/")
    if read_only:
        volume["read_only"] = True
    if is_bind:
        bind = bind or {}
        bind["create_host_path"] = True
    if bind is not None:
        volume["bind"] = bind
    if not is_bind:
        volume["volume"] = {"nocopy": True} if nocopy else {}
    elif nocopy:
        volume["volume"] = {"nocopy": True}
    return volume


def parse_device(spec: str) -> dict[str, str]:
    """``"/dev/a:/dev/b:rwm"`` -> ``{source, target, permissions}``. Raises ValueError."""
    parts = spec.split(":")
    if len(parts) == 3:
        return {"source": parts[0], "target": parts[1], "permissions": parts[2]}
    if len(parts) == 2:
        return {"source": parts[0], "target": parts[1], "permissions": "rwm"}
    if len(parts) == 1:
        return {"source": parts[0], "target": parts[0], "permissions": "rwm"}
    raise ValueError(f"confusing device mapping, please use long syntax: {spec}")
