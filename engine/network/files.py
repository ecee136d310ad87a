"""/etc/resolv.conf, /etc/hosts and /etc/hostname of a container.

Pure functions produce the content; :func:`write_container_files` writes it into a directory
(the runtime bind-mounts those files into the container, as Docker does).

Rules (Docker's):
1. With the embedded DNS server the only nameserver is 127.0.0.11; ``dns`` servers become the
   resolver's upstreams instead. ``dns_search`` replaces the host's search domains; the
   options are ``dns_opt``, then ``ndots:0`` unless ``dns_opt`` has an ``ndots`` of its own.
2. Without it (network_mode none / host) the host's file is copied, with ``dns``,
   ``dns_search`` and ``dns_opt`` replacing the host's values when given.
3. /etc/hosts lists localhost, the IPv6 names, ``extra_hosts`` and the container's own
   addresses with its hostname.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from engine.network.dns import RESOLVER_ADDRESS
from engine.network.errors import InvalidNetworkConfig
from engine.network.records import Network, Sandbox


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse_resolv_conf(text: str) -> ResolvConf:
    """The nameservers, search domains and options of a resolv.conf text (last search wins)."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        key, *values = line.split()
        if key == "nameserver" and values:
            nameservers.append(values[0])
        elif key in ("search", "domain"):
            search = values
        elif key == "options":
            options.extend(values)
    return ResolvConf(tuple(nameservers), tuple(search), tuple(options))


def render_resolv_conf(conf: ResolvConf) -> str:
    lines = [f"nameserver {server}" for server in conf.nameservers]
    if conf.search:
        lines.append("search " + " ".join(conf.search))
    if conf.options:
        lines.append("options " + " ".join(conf.options))
    return "\n".join(lines) + "\n"


def container_resolv_conf(
    host: ResolvConf,
    *,
    embedded_dns: bool,
    dns: Sequence[str] = (),
    dns_search: Sequence[str] = (),
    dns_opt: Sequence[str] = (),
) -> ResolvConf:
    """The container's resolv.conf from the host's and the service's dns settings."""
    search = tuple(dns_search) if dns_search else host.search
    if embedded_dns:
        # the user's options, then the resolver's ndots:0 unless the user gave an ndots
        options = tuple(dict.fromkeys(dns_opt))
        if not any(option.split(":", 1)[0] == "ndots" for option in options):
            options += ("ndots:0",)
        return ResolvConf((RESOLVER_ADDRESS,), search, options)
    nameservers = tuple(dns) if dns else host.nameservers
    options = tuple(dns_opt) if dns_opt else host.options
    return ResolvConf(nameservers, search, options)


def resolver_upstreams(host: ResolvConf, dns: Sequence[str] = ()) -> tuple[str, ...]:
    """Where the embedded resolver forwards: the service's ``dns`` or else the host's servers."""
    return tuple(dns) if dns else host.nameservers


HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def parse_extra_hosts(
    extra_hosts: Sequence[str] | Mapping[str, str | Sequence[str]],
    host_gateway: str | None = None,
) -> list[tuple[str, str]]:
    """``extra_hosts`` (``"name:ip"``, ``"name=ip"`` or a mapping) as (name, address) pairs.

    The address ``host-gateway`` becomes ``host_gateway`` (the host's address as containers
    see it).
    """
    pairs: list[tuple[str, str]] = []
    if isinstance(extra_hosts, Mapping):
        for name, value in extra_hosts.items():
            for address in [value] if isinstance(value, str) else value:
                pairs.append((name, address))
    else:
        for item in extra_hosts:
            separator = "=" if "=" in item else ":"
            name, found, address = item.partition(separator)
            if not found or not name or not address:
                raise InvalidNetworkConfig(
                    f"extra_hosts entry {item!r} is not 'hostname:address' or 'hostname=address'"
                )
            pairs.append((name, address))
    resolved: list[tuple[str, str]] = []
    for name, address in pairs:
        address = address.strip("[]")
        if address == "host-gateway":
            if host_gateway is None:
                raise InvalidNetworkConfig(
                    f"extra_hosts {name}: host-gateway is unknown for this container; "
                    "connect it to a bridge network or give an address"
                )
            address = host_gateway
        resolved.append((name, address))
    return resolved


def render_hosts(
    hostname: str,
    addresses: Iterable[str],
    extra_hosts: Sequence[tuple[str, str]] = (),
    domainname: str = "",
) -> str:
    """The container's /etc/hosts."""
    lines = [HOSTS_HEADER.rstrip("\n")]
    lines += [f"{address}\t{name}" for name, address in extra_hosts]
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    lines += [f"{address}\t{names}" for address in addresses]
    return "\n".join(lines) + "\n"


def render_hostname(hostname: str) -> str:
    return hostname + "\n"


def etc_files(
    *,
    hostname: str,
    addresses: Iterable[str],
    resolv_conf: ResolvConf,
    extra_hosts: Sequence[tuple[str, str]] = (),
    domainname: str = "",
) -> dict[str, str]:
    """Contents of /etc/hosts, /etc/resolv.conf and /etc/hostname, keyed by container path.

    The shape engine.runtime's ``etc_files`` argument takes.
    """
    return {
        "/etc/hosts": render_hosts(hostname, addresses, extra_hosts, domainname),
        "/etc/resolv.conf": render_resolv_conf(resolv_conf),
        "/etc/hostname": render_hostname(hostname),
    }


class EtcOptions(TypedDict, total=False):
    """What a container's settings add to its /etc files (Docker's HostConfig names)."""

    extra_hosts: Sequence[str] | Mapping[str, str | Sequence[str]]
    dns: Sequence[str]
    dns_search: Sequence[str]
    dns_opt: Sequence[str]
    domainname: str


def sandbox_etc_files(
    sandbox: Sandbox,
    first_network: Network | None,
    host_resolv: ResolvConf,
    **options: Unpack[EtcOptions],
) -> dict[str, str]:
    """The /etc files of a sandbox's container, what engine.runtime takes as ``etc_files``.

    Its address on ``first_network`` (the network of its first endpoint) goes into
    /etc/hosts; ``host-gateway`` in ``extra_hosts`` is that network's gateway.
    """
    endpoints = list(sandbox.endpoints.values())
    host_gateway = str(first_network.subnets[0].gateway) if first_network else None
    addresses = [str(a.ip) for a in endpoints[0].addresses] if endpoints else []
    resolv = container_resolv_conf(
        host_resolv,
        embedded_dns=sandbox.embedded_dns,
        dns=options.get("dns", ()),
        dns_search=options.get("dns_search", ()),
        dns_opt=options.get("dns_opt", ()),
    )
    return etc_files(
        hostname=sandbox.hostname or sandbox.id[:12],
        addresses=addresses,
        resolv_conf=resolv,
        extra_hosts=parse_extra_hosts(options.get("extra_hosts", ()), host_gateway),
        domainname=options.get("domainname", ""),
    )


class HostResolvConf:
    """The host's resolv.conf, read once (an unreadable one is empty)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conf: ResolvConf | None = None

    def read(self) -> ResolvConf:
        if self._conf is None:
            try:
                text = self._path.read_text()
            except OSError:
                text = ""
            self._conf = parse_resolv_conf(text)
        return self._conf


def _write_atomic(path: Path, content: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_container_files(
    directory: Path, *, resolv_conf: str, hosts: str, hostname: str
) -> dict[str, Path]:
    """Write resolv.conf, hosts and hostname into ``directory``; returns the paths by file name.

    Files are replaced atomically, so a running container never reads half a file (the
    runtime bind-mounts these paths to /etc/resolv.conf, /etc/hosts and /etc/hostname).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "resolv.conf": directory / "resolv.conf",
        "hosts": directory / "hosts",
        "hostname": directory / "hostname",
    }
    _write_atomic(paths["resolv.conf"], resolv_conf)
    _write_atomic(paths["hosts"], hosts)
    _write_atomic(paths["hostname"], hostname)
    return paths
