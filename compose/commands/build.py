"""``pycompose build``: build the images of the services that have a ``build:`` section,
through the engine's ``POST /build`` (:func:`compose.apply.build_image`, as `up --build`)."""

from __future__ import annotations

import argparse
import os

from compose.apply import build_image
from compose.commands.session import Session


async def cmd_build(session: Session, args: argparse.Namespace) -> int:
    desired, terminal = session.desired, session.terminal
    built = []
    wanted = list(args.services)
    if wanted and args.with_dependencies:
        wanted = desired.graph.with_dependencies(wanted)
    for name in desired.graph.start_order():
        service = desired.services[name]
        if (wanted and name not in wanted) or not service.config.get("build"):
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
        built.append(name)
    if not built:
        print("no service to build (none has a build: section)", file=terminal.err)
    if args.push and built:
        from compose.commands.images import cmd_push

        push = argparse.Namespace(
            services=built, ignore_push_failures=False, include_deps=False, quiet=args.quiet
        )
        return await cmd_push(session, push)
    return 0


COMMANDS = {"build": cmd_build}
