"""Port specs, parsed once for the client and the engine (pure: no I/O).

Three spellings of "publish this container port" reach pycompose:

* the Compose short syntax ``[host_ip:][host_port[-end]:]container_port[-end][/protocol]``
  (:func:`parse_port_spec`, docker compose's rules and error texts);
* a ``PortBindings`` / ``ExposedPorts`` key of the Engine API, ``"80/tcp"``
  (:func:`parse_port_key`);
* a ``HostPort`` of the Engine API, ``""``, ``"8080"`` or ``"8000-8010"``
  (:func:`parse_host_port`).

Each gives :class:`PortSpec` values or raises :class:`PortSpecError`, whose message says
what is wrong; the caller adds where (a file position, an API parameter).
"""

from __future__ import annotations

import dataclasses
import ipaddress

PROTOCOLS = ("tcp", "udp", "sctp")
MAX_PORT = 65535


class PortSpecError(ValueError):
    """A malformed port spec; the message is docker compose's reason (``invalid hostPort: x``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PortSpec:
    """One container port to publish (or only expose, when no host port is given)."""

    target: int
    protocol: str = "tcp"
    host_ip: str = ""
    published_start: int | None = None  # None: the engine picks a host port
    published_end: int | None = None  # a host range for one container port: the first free

    @property
    def published(self) -> str:
        """The host port as Compose prints it: ``""``, ``"8080"`` or ``"8000-8010"``."""
        if self.published_start is None:
            return ""
        if self.published_end is not None and self.published_end != self.published_start:
            return f"{self.published_start}-{self.published_end}"
        return str(self.published_start)

    @property
    def key(self) -> str:
        """The Engine API key, ``"80/tcp"``."""
        return f"{self.target}/{self.protocol}"


def parse_port_range(text: str) -> tuple[int, int] | None:
    """``"80"`` -> (80, 80), ``"8000-8010"`` -> (8000, 8010); None when not a port range."""
    start_text, dash, end_text = text.partition("-")
    if not start_text.isdigit() or (dash and not end_text.isdigit()):
        return None
    start = int(start_text)
    end = int(end_text) if dash else start
    if start > MAX_PORT or end > MAX_PORT or end < start:
        return None
    return start, end


def parse_port_spec(spec: str) -> list[PortSpec]:
    """Expand one short-syntax port into one :class:`PortSpec` per container port.

    ``"127.0.0.1:8000-8001:80-81/udp"`` -> 80 on 8000 and 81 on 8001, UDP, on 127.0.0.1.
    The result is in docker compose's order (keys ``"<port>/<proto>"`` sorted as strings).
    """
    raw, slash, proto = spec.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    parts = raw.split(":")
    container = parts[-1]
    if len(parts) == 1:
        host_ip, host_port = "", ""
    elif len(parts) == 2:
        host_ip, host_port = "", parts[0]
    else:
        host_ip, host_port = ":".join(parts[:-2]), parts[-2]
    if host_ip.startswith("[") and host_ip.endswith("]"):
        host_ip = host_ip[1:-1]
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise PortSpecError(f"invalid IP address: {host_ip}") from None
    container_range = parse_port_range(container)
    if container_range is None:
        raise PortSpecError(f"invalid containerPort: {container}")
    start, end = container_range
    host_start = host_end = 0
    if host_port:
        host_range = parse_port_range(host_port)
        if host_range is None:
            raise PortSpecError(f"invalid hostPort: {host_port}")
        host_start, host_end = host_range
        if end - start != host_end - host_start and end != start:
            raise PortSpecError(
                "invalid ranges specified for container and host Ports: "
                f"{container} and {host_port}"
            )
    specs: list[PortSpec] = []
    for offset in range(end - start + 1):
        if not host_port:
            published: tuple[int | None, int | None] = (None, None)
        elif start == end and host_start != host_end:
            published = (host_start, host_end)
        else:
            published = (host_start + offset, None)
        specs.append(PortSpec(start + offset, proto, host_ip, *published))
    specs.sort(key=lambda port: port.key)  # docker sorts the port keys as strings
    return specs


def parse_port_key(key: str) -> tuple[int, str]:
    """An Engine API port key, ``"80/tcp"`` (protocol optional) -> (80, "tcp")."""
    port_text, _, protocol = key.partition("/")
    protocol = protocol.lower() or "tcp"
    if not port_text.isdigit() or int(port_text) > MAX_PORT:
        raise PortSpecError(f"invalid port {key!r}")
    if protocol not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {protocol}")
    return int(port_text), protocol


def parse_host_port(text: str) -> tuple[int | None, int | None]:
    """An Engine API ``HostPort``: ``""`` -> (None, None), ``"8080"`` -> (8080, None),
    ``"8000-8010"`` -> (8000, 8010)."""
    if not text:
        return None, None
    host_range = parse_port_range(text)
    if host_range is None:
        raise PortSpecError(f"invalid hostPort: {text}")
    start, end = host_range
    return start, (end if "-" in text else None)
