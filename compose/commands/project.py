"""scale, export, commit and publish: the later additions to docker compose's commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from compose.apply import ProgressEvent
from compose.commands import publish
from compose.commands.lifecycle import cmd_up
from compose.commands.session import Session
from compose.errors import PlanError


async def cmd_scale(session: Session, args: argparse.Namespace) -> int:
    """``scale SERVICE=N...``: ``up -d`` of those services with those replica counts."""
    scale, services = [], []
    for item in args.services:
        service, sep, count = item.partition("=")
        if not sep or not count.isdigit():
            raise PlanError(f"invalid scale {item!r}", hint="use SERVICE=REPLICAS, e.g. web=3")
        if service not in session.desired.services:
            raise PlanError(f"no such service: {service}")
        scale.append(item)
        services.append(service)
    up = argparse.Namespace(
        **{
            **vars(args),
            "services": services,
            "scale": scale,
            "detach": True,
            "wait": False,
            "wait_timeout": None,
            "timeout": None,
            "build": False,
            "no_build": False,
            "pull": None,
            "remove_orphans": False,
            "force_recreate": False,
            "no_recreate": False,
            "no_start": False,
            "always_recreate_deps": False,
            "quiet_pull": False,
            "quiet_build": False,
        }
    )
    return await cmd_up(session, up)


async def cmd_export(session: Session, args: argparse.Namespace) -> int:
    """The container's whole filesystem as a tar archive, to ``-o FILE`` or stdout."""
    container = await session.replica(args.service, args.index, running=False)
    if not args.output and session.terminal.out is sys.stdout and sys.stdout.isatty():
        raise PlanError(
            "refusing to write a tar archive to a terminal", hint="use -o FILE or redirect stdout"
        )
    chunks = session.client.container_export(container.id)
    if args.output:
        # written beside, renamed when complete: a failed export leaves no half archive
        temporary = f"{args.output}.partial"
        try:
            with open(temporary, "wb") as file:
                async for chunk in chunks:
                    file.write(chunk)
            os.replace(temporary, args.output)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return 0
    session.terminal.out.flush()
    stream = getattr(session.terminal.out, "buffer", None)
    if stream is None:
        raise PlanError("export needs a binary output", hint="use -o FILE")
    async for chunk in chunks:
        stream.write(chunk)
    stream.flush()
    return 0


def split_reference(text: str) -> tuple[str, str]:
    """``REPOSITORY[:TAG]`` -> (repository, tag); a digest is refused (as docker's client)."""
    if "@" in text:
        raise PlanError(
            f"refusing to create a tag with a digest reference: {text}",
            hint="give REPOSITORY[:TAG]",
        )
    name, sep, tag = text.rpartition(":")
    if not sep or "/" in tag:
        return text, ""
    return name, tag


async def cmd_commit(session: Session, args: argparse.Namespace) -> int:
    """``commit SERVICE [REPOSITORY[:TAG]]``: the service container's changes as an image."""
    container = await session.replica(args.service, args.index, running=False)
    repo, tag = split_reference(args.repository) if args.repository else ("", "")
    progress = session.terminal.progress_display()
    with progress.running():
        progress(ProgressEvent("Container", container.name, "Committing"))
        image_id = await session.client.container_commit(
            container.id,
            repo=repo,
            tag=tag,
            author=args.author or "",
            comment=args.message or "",
            pause=args.pause,
            changes=args.change or (),
        )
        progress(ProgressEvent("Container", container.name, f"Committed as {image_id}", done=True))
    return 0


COMMANDS = {
    "scale": cmd_scale,
    "export": cmd_export,
    "commit": cmd_commit,
    "publish": publish.cmd_publish,
}
