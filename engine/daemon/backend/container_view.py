"""Containers in Docker's JSON: the list summary (``GET /containers/json``) and inspect.

The summary is compose's hot path (it lists on every command, ``ps`` of a large project
lists hundreds): what changes only with a rename is rendered once per container and cached,
as a dict and as encoded JSON; ports and networks are encoded again only when the
networking part gives new ones; state and status text are added per request, so a list is
one join of cached text rather than an encoding of every container.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from engine.api import models as api
from engine.api.units import human_duration
from engine.daemon.backend.index import ACTIVE_STATES, ContainerIndex
from engine.daemon.backend.shapes import rfc3339
from engine.daemon.filters import Filters, container_matches
from engine.daemon.networking import Networking
from engine.errors import EngineError, NotFound
from engine.runtime import ContainerState, HealthStatus
from engine.runtime.mounts import parse_bind
from engine.state import ContainerRecord
from engine.volumes import VolumeStore

TEXTS_KEPT = 4096


def go_text(value: Any) -> str:
    """JSON as Go's encoder writes it: compact, ``<``, ``>`` and ``&`` escaped (the same
    text as the routes' ``go_json``, which the list's cached fragments are spliced into)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def status_text(info: Any) -> str:
    """``docker ps``'s STATUS column: ``Up 3 minutes (healthy)``, ``Exited (0) 2 hours ago``."""
    now = time.time()
    state = info.state
    if state is ContainerState.RUNNING or state is ContainerState.PAUSED:
        text = f"Up {human_duration(now - info.started_at)}"
        if state is ContainerState.PAUSED:
            text += " (Paused)"
        if info.health is not HealthStatus.NONE:
            health = info.health.value
            text += " (health: starting)" if health == "starting" else f" ({health})"
        return text + _acted(info)
    if state is ContainerState.RESTARTING:
        ago = human_duration(now - info.finished_at)
        return f"Restarting ({info.exit_code}) {ago} ago{_acted(info)}"
    if state is ContainerState.CREATED:
        return "Created"
    if state is ContainerState.REMOVING:
        return "Removal In Progress"
    if state is ContainerState.DEAD:
        return "Dead"
    return f"Exited ({info.exit_code}) {human_duration(now - info.finished_at)} ago{_acted(info)}"


def _acted(info: Any) -> str:
    """`` (restarted: unhealthy)`` once the engine acted on an unhealthy container."""
    action = getattr(info, "unhealthy_action", "")
    return f" ({action})" if action else ""


def command(info: Any) -> tuple[str, list[str]]:
    """The container's ``Path`` and ``Args`` (entrypoint + cmd, shell forms expanded)."""
    config = info.config
    entrypoint = config.entrypoint or []
    cmd = config.cmd or []
    if isinstance(entrypoint, str):
        entrypoint = ["/bin/sh", "-c", entrypoint]
    if isinstance(cmd, str):
        cmd = ["/bin/sh", "-c", cmd]
    argv = [*entrypoint, *cmd]
    return (argv[0] if argv else ""), argv[1:]


def list_command(path: str, args: list[str]) -> str:
    """``Command`` of ``GET /containers/json`` as dockerd writes it: the arguments joined by
    spaces, one holding a space in single quotes (``sh -c 'sleep 1 && ls'``)."""
    if not args:
        return path
    return f"{path} " + " ".join(f"'{arg}'" if " " in arg else arg for arg in args)


class ContainerViews:
    """Renders containers of ``index`` as summaries and inspect documents."""

    def __init__(
        self, index: ContainerIndex, volumes: VolumeStore, networking: Networking | None
    ) -> None:
        self.index = index
        self.volumes = volumes
        self.networking = networking
        self._static: dict[str, dict[str, Any]] = {}
        # id -> the static part as JSON text without its closing brace
        self._static_json: dict[str, str] = {}
        # id -> (ports, networks) as networking gave them, and their JSON text
        self._network_json: dict[str, tuple[Any, Any, str, str]] = {}
        # state and status text -> JSON text: few distinct ones ("Up 5 minutes"), bounded
        self._texts: dict[str, str] = {}

    def forget(self, container_id: str) -> None:
        self._static.pop(container_id, None)
        self._static_json.pop(container_id, None)
        self._network_json.pop(container_id, None)

    def mounts(self, record: ContainerRecord) -> list[api.MountPoint]:
        host_config = record.body.get("HostConfig") or {}
        mounts = []
        for bind in host_config.get("Binds") or []:
            with contextlib.suppress(EngineError, ValueError):
                parsed = parse_bind(bind)
                if parsed.is_volume:
                    source = str(self.volumes.root / parsed.source / "_data")
                    mounts.append(
                        api.MountPoint(
                            Type="volume",
                            Name=parsed.source,
                            Source=source,
                            Destination=parsed.target,
                            Driver="local",
                            Mode="",
                            RW=not parsed.read_only,
                        )
                    )
                else:
                    mounts.append(
                        api.MountPoint(
                            Type="bind",
                            Source=parsed.source,
                            Destination=parsed.target,
                            RW=not parsed.read_only,
                            Propagation="rprivate",
                        )
                    )
        for mount in host_config.get("Mounts") or []:
            kind = mount.get("Type", "volume")
            mounts.append(
                api.MountPoint(
                    Type=kind,
                    Name=mount.get("Source", "") if kind == "volume" else "",
                    Source=mount.get("Source", ""),
                    Destination=mount.get("Target", ""),
                    Driver="local" if kind == "volume" else "",
                    RW=not mount.get("ReadOnly", False),
                )
            )
        return mounts

    def _summary_static(self, record: ContainerRecord, info: Any) -> dict[str, Any]:
        """The wire form of what a summary holds that changes only with a rename."""
        cached = self._static.get(record.id)
        if cached is not None and cached["Names"][0] == "/" + record.name:
            return cached
        path, args = command(info)
        host_config = record.body.get("HostConfig") or {}
        cached = {
            "Id": record.id,
            "Names": ["/" + record.name],
            "Image": record.image,
            "ImageID": record.image_id,
            "Command": list_command(path, args),
            "Created": int(record.created),
            "Labels": record.body.get("Labels") or {},
            "HostConfig": {"NetworkMode": host_config.get("NetworkMode") or "default"},
            "Mounts": [mount.wire() for mount in self.mounts(record)],
        }
        self._static[record.id] = cached
        self._static_json[record.id] = go_text(cached)[:-1]
        return cached

    def summary_wire(self, record: ContainerRecord, info: Any) -> dict[str, Any]:
        """One entry of ``GET /containers/json``, as wire JSON."""
        ports: list[dict[str, Any]] = []
        networks: dict[str, Any] = {}
        if self.networking is not None:
            ports, networks = self.networking.summary_wire(record.id)
        return {
            **self._summary_static(record, info),
            "Ports": ports,
            "State": info.state.value,
            "Status": status_text(info),
            "NetworkSettings": {"Networks": networks},
        }

    def summary_json(self, record: ContainerRecord, info: Any) -> str:
        """:meth:`summary_wire` as JSON text, the same as ``go_json`` of it would be."""
        self._summary_static(record, info)
        prefix = self._static_json[record.id]
        ports_json, networks_json = "[]", "{}"
        if self.networking is not None:
            ports, networks = self.networking.summary_wire(record.id)
            known = self._network_json.get(record.id)
            if known is not None and known[0] is ports and known[1] is networks:
                ports_json, networks_json = known[2], known[3]
            elif ports or networks:
                ports_json, networks_json = go_text(ports), go_text(networks)
                self._network_json[record.id] = (ports, networks, ports_json, networks_json)
        return (
            f'{prefix},"Ports":{ports_json},"State":{self._text(info.state.value)},'
            f'"Status":{self._text(status_text(info))},'
            f'"NetworkSettings":{{"Networks":{networks_json}}}}}'
        )

    def _text(self, text: str) -> str:
        encoded = self._texts.get(text)
        if encoded is None:
            if len(self._texts) >= TEXTS_KEPT:
                self._texts.clear()
            encoded = self._texts[text] = go_text(text)
        return encoded

    def select(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[tuple[ContainerRecord, Any]]:
        """The visible containers ``GET /containers/json`` lists, newest first, with their
        runtime info: running ones unless ``all``, passing ``filters``, at most ``limit``."""
        wanted_labels = filters.get("label", ())
        only_labels = set(filters) <= {"label"}
        runtime = self.index.runtime
        result = []
        for record in sorted(self.index.records.values(), key=lambda r: -r.created):
            if record.status != "created":
                continue
            if wanted_labels and not api.labels_match(
                record.body.get("Labels") or {}, wanted_labels
            ):
                continue
            try:
                info = runtime.inspect(record.id)
            except NotFound:
                continue
            if not all and info.state not in ACTIVE_STATES:
                continue
            if not only_labels and not container_matches(
                api.ContainerSummary.model_validate(self.summary_wire(record, info)), filters
            ):
                continue
            result.append((record, info))
            if 0 < limit <= len(result):
                break
        return result

    def list_json(self, *, all: bool, filters: Filters, limit: int = -1) -> bytes:
        """The body of ``GET /containers/json``: a JSON array of :meth:`summary_json`."""
        selected = self.select(all=all, filters=filters, limit=limit)
        return ("[" + ",".join(self.summary_json(r, i) for r, i in selected) + "]").encode()

    def summary(self, record: ContainerRecord, info: Any | None = None) -> api.ContainerSummary:
        return api.ContainerSummary.model_validate(
            self.summary_wire(record, info or self.index.info(record))
        )

    def _network_settings(self, record: ContainerRecord) -> api.InspectNetworkSettings:
        if self.networking is None:
            return api.InspectNetworkSettings()
        networks = self.networking.endpoints(record.id)
        asked = (record.body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
        for network_name, settings in networks.items():  # the links asked for, as dockerd
            links = (asked.get(network_name) or {}).get("Links")
            if links and isinstance(links, list):
                networks[network_name] = settings.model_copy(
                    update={"Links": [str(link) for link in links]}
                )
        _, ports = self.networking.ports(record.id)
        sandbox = self.networking.sandbox(record.id)
        bridge = networks.get("bridge")
        return api.InspectNetworkSettings(
            SandboxID=record.id if sandbox else "",
            SandboxKey=sandbox.netns if sandbox else "",
            Ports=ports,
            Gateway=bridge.Gateway if bridge else "",
            IPAddress=bridge.IPAddress if bridge else "",
            IPPrefixLen=bridge.IPPrefixLen if bridge else 0,
            MacAddress=bridge.MacAddress if bridge else "",
            Networks=networks,
        )

    def inspect(
        self, record: ContainerRecord, exec_ids: Callable[[str], list[str]]
    ) -> api.ContainerInspect:
        """``GET /containers/{id}/json``; ``exec_ids`` gives the container's exec instances."""
        info = self.index.info(record)
        path, args = command(info)
        health = None
        if info.health is not HealthStatus.NONE:
            health = api.Health(
                Status=info.health.value,
                FailingStreak=info.health_failing_streak,
                Log=[
                    api.HealthLog(
                        Start=rfc3339(getattr(h, "start", 0.0)),
                        End=rfc3339(getattr(h, "end", 0.0)),
                        ExitCode=getattr(h, "exit_code", 0),
                        Output=getattr(h, "output", ""),
                    )
                    for h in info.health_log
                ],
            )
        state = info.state
        body = record.body
        config = api.ContainerConfig.model_validate(
            {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        )
        merged = info.config
        config = config.model_copy(
            update={
                "hostname": merged.hostname or record.id[:12],
                "env": merged.env or None,
                "cmd": merged.cmd,
                "entrypoint": merged.entrypoint,
                "working_dir": merged.working_dir,
                "labels": body.get("Labels") or {},
            }
        )
        directory = info.directory
        return api.ContainerInspect(
            Id=record.id,
            Created=rfc3339(record.created),
            Path=path,
            Args=args,
            State=api.ContainerStateModel(
                Status=state.value,
                Running=state in (ContainerState.RUNNING, ContainerState.PAUSED),
                Paused=state is ContainerState.PAUSED,
                Restarting=state is ContainerState.RESTARTING,
                OOMKilled=info.oom_killed,
                Dead=state is ContainerState.DEAD,
                Pid=info.pid if state is ContainerState.RUNNING else 0,
                ExitCode=info.exit_code,
                Error=info.error,
                StartedAt=rfc3339(info.started_at),
                FinishedAt=rfc3339(info.finished_at),
                Health=health,
            ),
            Image=record.image_id,
            ResolvConfPath=str(directory / "etc_resolv.conf"),
            HostnamePath=str(directory / "etc_hostname"),
            HostsPath=str(directory / "etc_hosts"),
            LogPath=str(info.log_path),
            Name="/" + record.name,
            RestartCount=info.restart_count,
            ExecIDs=exec_ids(record.id) or None,
            HostConfig=api.HostConfig.model_validate(body.get("HostConfig") or {}).model_copy(
                update={
                    "log_config": merged.host_config.log_config,  # as the runtime keeps it
                    "links": _links(record.name, merged.host_config.links),
                }
            ),
            GraphDriver={
                "Name": "overlay2",
                "Data": {"MergedDir": str(self.index.rootfs(record.id))},
            },
            Mounts=self.mounts(record),
            Config=config,
            NetworkSettings=self._network_settings(record),
        )


def _links(name: str, links: list[str] | None) -> list[str] | None:
    """Links as dockerd shows them: ``/<linked>:/<this container>/<alias>``."""
    if not links:
        return None
    shown = []
    for link in links:
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        alias = alias.rsplit("/", 1)[-1] or target
        shown.append(f"/{target}:/{name}/{alias}")
    return shown
