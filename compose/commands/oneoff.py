"""The commands on one container of a service: exec, run (a one-off container) and cp.

``run`` creates its container through :func:`compose.apply.container_request` and
:func:`compose.apply.create_container`, the conversion and the calls `up` uses, with the
service's configuration changed by the command's flags.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import posixpath
import secrets
import shlex
import tarfile
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from compose import labels
from compose.apply import container_request, create_container
from compose.commands.session import Session
from compose.commands.tty import Interaction, choose_tty, interact
from compose.errors import PlanError
from compose.model import Service
from compose.model_parts import Mount, Port
from compose.reconcile import ReconcileOptions, reconcile
from compose.short_syntax import parse_port, parse_volume
from engine.api.client import EngineClient
from engine.api.errors import EngineError
from engine.api.models import ExecCreate


async def cmd_exec(session: Session, args: argparse.Namespace) -> int:
    container = await session.replica(args.service, args.index, running=True)
    client, terminal = session.client, session.terminal
    interactive = args.interactive and not args.detach and not args.no_stdin
    use_tty = not args.detach and choose_tty(
        no_tty=args.no_tty, interactive=interactive, stdin=terminal.inp, stdout=terminal.out
    )
    body = ExecCreate(
        User=args.user or "",
        Privileged=args.privileged,
        Tty=use_tty,
        AttachStdin=interactive,
        AttachStdout=not args.detach,
        AttachStderr=not args.detach,
        Env=list(args.env) or None,
        WorkingDir=args.workdir or "",
        Cmd=list(args.command),
        Detach=args.detach,
    )
    created = await client.exec_create(container.id, body)
    if args.detach:
        await client.exec_start_detached(created.Id)
        return 0

    async def resize(height: int, width: int) -> None:
        await client.exec_resize(created.Id, height, width)

    async with client.exec_attach(created.Id, tty=use_tty) as connection:
        await interact(
            Interaction(
                connection,
                terminal.inp if interactive else None,
                terminal.out,
                terminal.err,
                resize=resize,
            )
        )
    return (await client.exec_inspect(created.Id)).ExitCode or 0


def _run_volume(spec: str, working_dir: Path) -> Mount:
    """A ``run -v`` as the file would have it: a relative host path resolved against the
    project directory, a named volume of the file mounted as the file defines it."""
    try:
        volume = parse_volume(spec)
    except ValueError as error:
        raise PlanError(f"invalid -v {spec!r}: {error}") from None
    source = volume.get("source")
    if volume["type"] == "bind" and isinstance(source, str):
        source = os.path.expanduser(source)
        if not posixpath.isabs(source):
            source = posixpath.normpath(posixpath.join(str(working_dir), source))
        volume["source"] = source
    try:
        return Mount.model_validate(volume)
    except ValidationError as error:
        raise PlanError(f"invalid -v {spec!r}: {error.errors()[0]['msg']}") from None


def _pairs(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options (``-l``) as a mapping; a bare ``KEY`` has the empty value."""
    return {key: value for key, _, value in (item.partition("=") for item in items)}


def _run_service(session: Session, args: argparse.Namespace) -> Service:
    """The service as ``run``'s flags change it."""
    service = session.desired.services[args.service].service
    changes: dict[str, Any] = {"restart": None}  # a one-off command runs once
    if args.command:
        changes["command"] = list(args.command)
    if args.entrypoint is not None:
        changes["entrypoint"] = shlex.split(args.entrypoint) if args.entrypoint else None
    if args.user:
        changes["user"] = args.user
    if args.workdir:
        changes["working_dir"] = args.workdir
    environment = dict(service.environment or {})
    for path in args.env_from_file:  # as docker compose: before -e, which wins
        environment.update(_env_file(path))
    for item in args.env:
        key, sep, value = item.partition("=")
        environment[key] = value if sep else os.environ.get(key)
    changes["environment"] = environment
    if not args.service_ports:
        changes["ports"] = None
    if args.publish:
        try:
            changes["ports"] = [
                Port.model_validate(port) for spec in args.publish for port in parse_port(spec)
            ]
        except ValueError as error:
            raise PlanError(f"invalid -p/--publish: {error}") from None
    if args.label:
        changes["labels"] = {**(service.labels or {}), **_pairs(args.label)}
    for key, extra in (("cap_add", args.cap_add), ("cap_drop", args.cap_drop)):
        if extra:
            current = list(getattr(service, key) or [])
            changes[key] = current + [c for c in extra if c not in current]
    if args.volume:
        working_dir = session.loaded.working_dir
        added = [_run_volume(spec, working_dir) for spec in args.volume]
        targets = {volume.target for volume in added}
        kept = [v for v in service.volumes or [] if v.target not in targets]
        changes["volumes"] = kept + added
    return service.model_copy(update=changes)


def _env_file(path: str) -> dict[str, str]:
    """``run --env-from-file``: an env file read as ``env_file`` reads one."""
    from compose.dotenv import parse_dotenv

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PlanError(f"--env-from-file {path}: {error.strerror}") from None
    return parse_dotenv(text, path, os.environ.get)


async def cmd_run(session: Session, args: argparse.Namespace) -> int:
    if args.service not in session.desired.services:
        raise PlanError(f"no such service: {args.service}")
    if args.quiet or args.quiet_build:
        # docker compose's -q and --quiet-build: no progress of the preparation (pulls,
        # builds, creations); the command's own output is untouched
        session.terminal.progress = "quiet"
    # the project as the flags change the service: its volumes (-v) are created as the
    # file's are, and the one-off container is made from it
    session.replace_service(args.service, _run_service(session, args))
    desired = session.desired
    client, terminal = session.client, session.terminal
    observed = await session.observe()
    # the one-off container needs the service's networks, volumes and image ...
    plan = reconcile(
        desired,
        observed,
        ReconcileOptions(
            services=(args.service,),
            no_deps=True,
            resources_only=True,
            remove_orphans=args.remove_orphans,
            pull=args.pull,
            build=args.build,
        ),
    )
    await session.run_plan(plan, observed, quiet_pull=args.quiet_pull)
    changed = bool(plan)  # observed again only after a plan changed something
    # ... and, unless --no-deps, the services it depends on, up and ready
    dependencies = [d for d in desired.graph.with_dependencies([args.service]) if d != args.service]
    if dependencies and not args.no_deps:
        if changed:
            observed = await session.observe()
        plan = reconcile(
            desired, observed, ReconcileOptions(services=tuple(dependencies), pull=args.pull)
        )
        await session.run_plan(plan, observed, quiet_pull=args.quiet_pull)
        changed = changed or bool(plan)
    if changed:
        observed = await session.observe()
    slug = secrets.token_hex(32)
    name = args.name or f"{desired.project}-{args.service}-run-{slug[:12]}"
    request = container_request(
        session.apply_context(observed),
        args.service,
        1,
        name=name,
        oneoff=True,
        use_aliases=args.use_aliases,
    )
    body = request.body
    body.labels = {**(body.labels or {}), labels.SLUG: slug}
    interactive = args.interactive and not args.detach
    use_tty = not args.detach and choose_tty(
        no_tty=args.no_tty, interactive=interactive, stdin=terminal.inp, stdout=terminal.out
    )
    body.tty = use_tty
    body.open_stdin = interactive
    body.stdin_once = interactive
    body.attach_stdin = interactive
    body.attach_stdout = not args.detach
    body.attach_stderr = not args.detach
    if args.detach and args.rm:
        body.host_config.auto_remove = True  # the engine removes it when it ends
    container_id = await create_container(client, request)
    try:
        if args.detach:
            await client.container_start(container_id)
            print(name, file=terminal.out)
            return 0
        return await _run_attached(session, container_id, interactive, use_tty)
    finally:
        if args.rm and not args.detach:
            with anyio.CancelScope(shield=True), contextlib.suppress(EngineError):
                await client.container_remove(container_id, force=True)


async def _run_attached(
    session: Session, container_id: str, interactive: bool, use_tty: bool
) -> int:
    """Attach (before the start, so no output is missed), start, interact, and the exit code."""
    client, terminal = session.client, session.terminal

    async def resize(height: int, width: int) -> None:
        with contextlib.suppress(EngineError):  # it may have ended meanwhile
            await client.container_resize(container_id, height, width)

    async def kill(signal_name: str) -> None:
        with contextlib.suppress(EngineError):
            await client.container_kill(container_id, signal=signal_name)

    async with client.container_attach_stream(
        container_id, stdin=interactive, tty=use_tty
    ) as connection:
        await client.container_start(container_id)
        await interact(
            Interaction(
                connection,
                terminal.inp if interactive else None,
                terminal.out,
                terminal.err,
                resize=resize,
                kill=kill,
            )
        )
    waited = await client.container_wait(container_id)
    return int(waited.StatusCode)


async def cmd_cp(session: Session, args: argparse.Namespace) -> int:
    """Copy files between a service's container and the host (tar over the archive endpoint)."""
    services = session.loaded.project.services

    def split(spec: str) -> tuple[str | None, str]:
        service, sep, path = spec.partition(":")
        if sep and service and "/" not in service:
            # SERVICE:PATH names a service, known or not (a local path with ":" starts ./)
            if service not in services:
                raise PlanError(f"no such service: {service}")
            return service, path
        return None, spec

    source_service, source = split(args.source)
    target_service, target = split(args.destination)
    if (source_service is None) == (target_service is None):
        raise PlanError(
            "copy between a service and the host: SERVICE:PATH and a local path",
            hint="e.g. pycompose cp web:/etc/hostname . or pycompose cp ./x api:/tmp/",
        )
    service = source_service or target_service
    assert service is not None
    container_id = (await _cp_container(session, service, args)).id
    client = session.client
    if source_service is not None:
        response = await client.request(
            "GET", f"/containers/{container_id}/archive", params={"path": source}
        )
        if args.follow_link:
            response = await _followed(client, container_id, source, response)
        destination = Path(target)

        def owner(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
            kept = tarfile.data_filter(member, path)
            if kept is None:
                return None
            # as docker cp: the copy belongs to whoever copies, unless -a keeps the numeric
            # owners (data_filter drops them; names are the container's, not the host's)
            uid, gid = (member.uid, member.gid) if args.archive else (os.getuid(), os.getgid())
            return kept.replace(uid=uid, gid=gid, uname="", gname="")

        with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
            members = tar.getmembers()
            if destination.is_dir():
                await anyio.to_thread.run_sync(lambda: tar.extractall(destination, filter=owner))
            else:
                if len(members) != 1 or not members[0].isfile():
                    raise PlanError(f"{source} is a directory; give a directory to copy it into")
                extracted = tar.extractfile(members[0])
                assert extracted is not None
                destination.write_bytes(extracted.read())
        return 0
    local = Path(source)
    if not local.exists():
        raise PlanError(f"{local}: no such file or directory")
    name = Path(target).name if not target.endswith("/") else local.name
    if args.follow_link:
        local = local.resolve()

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        await anyio.to_thread.run_sync(lambda: tar.add(local, arcname=name))
    directory = target if target.endswith("/") else str(Path(target).parent)
    await client.request(
        "PUT",
        f"/containers/{container_id}/archive",
        params={"path": directory},
        content=buffer.getvalue(),
        headers={"Content-Type": "application/x-tar"},
    )
    return 0


async def _cp_container(session: Session, service: str, args: argparse.Namespace) -> Any:
    """Replica ``--index`` of ``service``; with ``--all``, one-off (``run``) containers count."""
    if not args.all:
        return await session.replica(service, args.index, running=False)
    found = await session.containers(services=[service], oneoff=True)
    numbered = [c for c in found if not c.oneoff and c.number == args.index]
    oneoffs = [c for c in found if c.oneoff]
    if numbered or oneoffs:
        return (numbered or oneoffs)[0]
    raise PlanError(f"service {service!r} has no container #{args.index}")


async def _followed(
    client: EngineClient, container_id: str, source: str, response: Any, hops: int = 8
) -> Any:
    """-L: the archive of what ``source`` links to, when it is a symbolic link."""
    for _ in range(hops):
        with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
            members = tar.getmembers()
        if len(members) != 1 or not members[0].issym():
            return response
        source = posixpath.join(posixpath.dirname(source), members[0].linkname)
        response = await client.request(
            "GET", f"/containers/{container_id}/archive", params={"path": source}
        )
    raise PlanError(f"{source}: too many levels of symbolic links")


COMMANDS = {"exec": cmd_exec, "run": cmd_run, "cp": cmd_cp}
