"""``pycompose build``: build the images of the services that have a ``build:`` section,
through the engine's ``POST /build`` (:func:`compose.image_build.build_image`, as `up --build`)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from compose import labels
from compose.commands.session import Session
from compose.image_build import build_image


def bake_file(project: str, builds: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """``build --print``: the builds as the bake file docker compose prints (service ->
    (image, build section)); pure."""
    targets: dict[str, Any] = {}
    for name, (image, build) in builds.items():
        context = str(build.get("context") or ".")
        dockerfile = str(build.get("dockerfile") or "Dockerfile")
        target: dict[str, Any] = {
            "context": context,
            "dockerfile": dockerfile
            if os.path.isabs(dockerfile)
            else os.path.join(context, dockerfile),
        }
        if build.get("args"):
            target["args"] = dict(build["args"])
        target["labels"] = {
            **(build.get("labels") or {}),
            labels.PROJECT: project,
            labels.SERVICE: name,
            labels.VERSION: labels.COMPOSE_VERSION,
        }
        target["tags"] = [image, *(build.get("tags") or [])]
        if build.get("target"):
            target["target"] = build["target"]
        target["output"] = ["type=docker"]
        targets[name] = target
    return {"group": {"default": {"targets": list(targets)}}, "target": targets}


async def cmd_build(session: Session, args: argparse.Namespace) -> int:
    desired, terminal = session.desired, session.terminal
    built = []
    wanted = list(args.services)
    if wanted and args.with_dependencies:
        wanted = desired.graph.with_dependencies(wanted)
    if args.print:
        builds = {
            name: (desired.services[name].image, dict(desired.services[name].config["build"]))
            for name in desired.graph.start_order()
            if (not wanted or name in wanted) and desired.services[name].config.get("build")
        }
        print(json.dumps(bake_file(desired.project, builds), indent=2), file=terminal.out)
        return 0
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
