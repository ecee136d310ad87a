"""``builder build|prune`` (as ``docker builder``): build on the store directly.

This runs the builder in-process against the image store, with no daemon in between
(``--data-root``, or ``PYCOMPOSE_DATA_ROOT``, default ``/var/lib/pycompose``); clients of the
daemon build through ``POST /build``.
``register(subparsers)`` adds the ``builder`` command to a parser, ``await run(args)`` runs
it; ``python -m engine.build build ...`` does both.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from engine.build.builder import BuildEvent, BuildOptions, build
from engine.build.cache import BuildCache
from engine.build.context import BuildContext
from engine.errors import EngineError
from engine.images.manager import ImageService
from engine.images.store import DEFAULT_DATA_ROOT


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if not sep:
        value = os.environ.get(key, "")
    return key, value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``builder`` and its subcommands to an argparse subparsers object."""
    builder: argparse.ArgumentParser = subparsers.add_parser(
        "builder", help="build images from Dockerfiles"
    )
    builder.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("PYCOMPOSE_DATA_ROOT", DEFAULT_DATA_ROOT)),
        help="engine data root (env PYCOMPOSE_DATA_ROOT; default %(default)s)",
    )
    commands = builder.add_subparsers(dest="builder_command", required=True)
    run = commands.add_parser("build", help="build an image from a Dockerfile")
    run.add_argument("context", type=Path, help="the build context directory")
    run.add_argument("-f", "--file", help="the Dockerfile (default: CONTEXT/Dockerfile)")
    run.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    run.add_argument(
        "--build-arg", action="append", default=[], type=_key_value, metavar="KEY=VALUE"
    )
    run.add_argument("--label", action="append", default=[], type=_key_value, metavar="KEY=VALUE")
    run.add_argument("--target", help="the stage to build")
    run.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    run.add_argument("--pull", action="store_true", help="always pull the base images")
    run.add_argument(
        "--network", default="none", choices=("none", "host"), help="network of RUN steps"
    )
    run.add_argument("--add-host", action="append", default=[], metavar="HOST:IP")
    run.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    commands.add_parser("prune", help="forget the build cache (layers go at the next gc)")
    return builder


async def run(args: argparse.Namespace) -> int:
    """Run ``builder <command>``; print as ``docker build`` does; return the exit status."""
    try:
        async with ImageService(args.data_root) as images:
            if args.builder_command == "prune":
                cache = BuildCache(images.root / "build-cache.db")
                try:
                    cache.clear()
                finally:
                    cache.close()
                print("Build cache pruned")
                return 0
            # -f is relative to the working directory, as docker build's
            dockerfile = Path(args.file) if args.file else args.context / "Dockerfile"
            inline = None
            try:
                relative = str(dockerfile.resolve().relative_to(args.context.resolve()))
            except ValueError:
                try:
                    inline = dockerfile.read_text()
                except OSError as exc:
                    print(f"Error: cannot read {dockerfile}: {exc.strerror}", file=sys.stderr)
                    return 1
                relative = dockerfile.name
            options = BuildOptions(
                dockerfile=relative,
                dockerfile_inline=inline,
                build_args=dict(args.build_arg),
                labels=dict(args.label),
                target=args.target,
                tags=tuple(args.tag),
                no_cache=args.no_cache,
                pull=args.pull,
                network=args.network,
                extra_hosts=tuple(args.add_host),
            )

            def show(event: BuildEvent) -> None:
                if not args.quiet and event.stream:
                    sys.stdout.write(event.stream)
                    sys.stdout.flush()

            record = await build(BuildContext(args.context), options, images, None, show)
            if args.quiet:
                print(record.id)
            return 0
    except EngineError as exc:
        print(f"Error: {exc.render()}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    import anyio

    parser = argparse.ArgumentParser(prog="python -m engine.build")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["builder", *(sys.argv[1:] if argv is None else argv)])
    status: int = anyio.run(run, args)
    return status
