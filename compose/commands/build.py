"""``pycompose build``: build the images of the services that have a ``build:`` section,
through the engine's ``POST /build`` (:func:`compose.apply.build_image`, as `up --build`)."""

from __future__ import annotations

import argparse
import os

from compose.apply import build_image
from compose.commands.session import Session


async def cmd_build(session: Session, args: argparse.Namespace) -> int:
    desired, terminal = session.desired, session.terminal
    built = 0
    for name in desired.graph.start_order():
        service = desired.services[name]
        if (args.services and name not in args.services) or not service.config.get("build"):
            continue
        build = dict(service.config["build"])
        if args.no_cache:
            build["no_cache"] = True
        if args.pull:
            build["pull"] = True
        for item in args.build_arg:
            key, sep, value = item.partition("=")
            build["args"] = {
                **(build.get("args") or {}),
                key: value if sep else os.environ.get(key),
            }
        print(f"Building {name} ({service.image})", file=terminal.err, flush=True)
        await build_image(
            session.client,
            service.image,
            build,
            lambda line: None if args.quiet else print(line, file=terminal.out, flush=True),
        )
        built += 1
    if not built:
        print("no service to build (none has a build: section)", file=terminal.err)
    return 0


COMMANDS = {"build": cmd_build}
