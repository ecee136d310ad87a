"""The `pycompose` command line: parse arguments, call the library, print, exit.

With :mod:`compose.commands` (the commands that talk to the engine), this is where
compose/ reads the process environment, touches the disk, prints and chooses exit
codes; the grammar of the command line is :mod:`compose.arguments`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from compose.arguments import VERSION, build_parser
from engine.api.errors import EngineError

if TYPE_CHECKING:
    from pathlib import Path

    from compose.errors import PycomposeError
    from compose.load import LoadOptions, LoadResult

# The loader (pydantic), the planner and the engine client are imported by the commands that
# use them: `version`, `engine` and `--help` start without them, without compose.errors
# (dataclasses, inspect, ast) until something fails, and without pathlib.


def user_errors() -> tuple[type[PycomposeError], type[EngineError]]:
    """What a command raises on purpose: printed as a message, exit status 1."""
    from compose.errors import PycomposeError

    return (PycomposeError, EngineError)


class LocalFileSystem:
    """The real disk, for :func:`compose.load.load_project`."""

    def read_text(self, path: Path) -> str:
        return path.read_text(encoding="utf-8")

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()


def _stdin_file(args: argparse.Namespace) -> str | None:
    """The compose file of ``-f -``, read once per command (a second load reuses it)."""
    if "-" not in args.file:
        return None
    cached: str | None = getattr(args, "_stdin_file", None)
    if cached is None:
        from compose.errors import ProjectError
        from compose.source import MAX_FILE_BYTES

        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ProjectError.single(
                f"the compose file on stdin (-f -) is larger than {MAX_FILE_BYTES >> 20} MiB"
            )
        try:
            cached = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProjectError.single(
                "the compose file on stdin (-f -) is not UTF-8 text", hint="save it as UTF-8"
            ) from None
        args._stdin_file = cached
    return cached


def _options(args: argparse.Namespace, **overrides: Any) -> LoadOptions:
    from pathlib import Path

    from compose.load import LoadOptions

    environment = dict(os.environ)
    return LoadOptions(
        cwd=Path.cwd(),
        stdin=_stdin_file(args),
        environment=environment,
        files=tuple(args.file),
        project_directory=args.project_directory,
        project_name=args.project_name or None,
        env_files=tuple(args.env_file),
        profiles=tuple(args.profile),
        all_resources=args.all_resources,
        **overrides,
    )


def _load(args: argparse.Namespace, **overrides: Any) -> LoadResult:
    from compose.load import load_project

    return load_project(_options(args, **overrides), LocalFileSystem())


def _print_warnings(result: LoadResult, stream: TextIO) -> None:
    for warning in result.warnings:
        print(f"WARN: {warning}", file=stream)


def _write(text: str, destination: str | None) -> None:
    if destination:
        with open(destination, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)


def cmd_config(args: argparse.Namespace) -> int:
    from compose import output

    result = _load(
        args,
        interpolate=not args.no_interpolate,
        normalize=not args.no_normalize,
        resolve_paths=not args.no_path_resolution,
        services=tuple(args.services),
        consistency=not args.no_consistency,
    )
    _print_warnings(result, sys.stderr)
    if args.no_env_resolution:
        print(
            "WARN: --no-env-resolution: docker compose 2.40 still reads env_file into "
            "environment with it, and so does pycompose",
            file=sys.stderr,
        )
    project = result.project
    if args.resolve_image_digests or args.lock_image_digests:
        import anyio

        from compose.commands.digests import resolve_with_engine

        service_images = {name: s.image for name, s in project.services.items() if s.image}
        resolved = anyio.run(resolve_with_engine, service_images)
        if args.lock_image_digests:
            return _write_locked(project, resolved, args)
        project = project.model_copy(
            update={
                "services": {
                    name: s.model_copy(update={"image": resolved[name]}) if name in resolved else s
                    for name, s in project.services.items()
                }
            }
        )
    if args.quiet:
        return 0
    # docker compose escapes "$" as "$$" only in interpolated output
    escape_dollars = not args.no_interpolate
    data = output.config_dict(project, escape_dollars)
    services: dict[str, Any] = data.get("services") or {}
    if args.variables:
        _write(_variables_text(result, args.format), args.output)
        return 0
    if args.environment:
        _write("".join(f"{k}={v}\n" for k, v in sorted(result.environment.items())), args.output)
        return 0
    if args.list_models:
        models = sorted(result.tree.get("models") or {})
        _write("".join(f"{name}\n" for name in models), args.output)
        return 0
    if args.list_services:
        from compose.graph import build_graph

        _write("".join(f"{name}\n" for name in build_graph(project).start_order()), args.output)
        return 0
    if args.list_volumes:
        _write("".join(f"{name}\n" for name in sorted(data.get("volumes") or {})), args.output)
        return 0
    if args.list_networks:
        _write("".join(f"{name}\n" for name in sorted(data.get("networks") or {})), args.output)
        return 0
    if args.list_profiles:
        profiles = sorted(
            {
                p
                for s in (result.tree.get("services") or {}).values()
                for p in (s.get("profiles") or [])
            }
        )
        _write("".join(f"{name}\n" for name in profiles), args.output)
        return 0
    if args.list_images:
        images = []
        for name, service in sorted(services.items()):
            images.append(service.get("image") or f"{project.name}-{name}")
        _write("".join(f"{image}\n" for image in images), args.output)
        return 0
    if args.hash:
        wanted = sorted(services) if args.hash == "*" else [s.strip() for s in args.hash.split(",")]
        from compose.desired import config_hashes  # the engine's payloads: --hash only

        hashes = config_hashes(project)
        lines = []
        for name in wanted:
            if name not in hashes:
                from compose.errors import ComposeError, Issue

                raise ComposeError([Issue(f"no such service: {name}")])
            lines.append(f"{name} {hashes[name]}\n")
        _write("".join(lines), args.output)
        return 0
    if args.explain:
        from pathlib import Path

        from compose.explain import explain

        _write(explain(result, Path.cwd()), args.output)
        return 0
    if args.format == "json":
        _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n", args.output)
    else:
        _write(output.config_yaml(project, escape_dollars), args.output)
    return 0


def _write_locked(project: Any, images: dict[str, str], args: argparse.Namespace) -> int:
    """``--lock-image-digests``: docker compose's override file of pinned images only."""
    from compose import output
    from compose.digests import locked

    if args.quiet:
        return 0
    lock = locked(project.services, images)
    if args.format == "json":
        # docker compose's JSON of that override: an empty name, null command and entrypoint
        services = {
            name: {"command": None, "entrypoint": None, **fields}
            for name, fields in lock["services"].items()
        }
        text = json.dumps({"name": "", "services": services}, indent=2, ensure_ascii=False)
        _write(text + "\n", args.output)
    else:
        _write(output.yaml_text(lock), args.output)
    return 0


def _variables_text(result: LoadResult, format_: str | None) -> str:
    """``config --variables``: the files' variables, first use first, as docker compose."""
    from compose import variables

    found: dict[str, variables.Variable] = {}
    for path in result.files:
        text = result.file_text(path)
        if text is None:
            text = path.read_text(encoding="utf-8")
        for variable in variables.file_variables(text):
            found.setdefault(variable.name, variable)
    listed = list(found.values())
    if format_ == "json":
        return json.dumps(variables.as_json(listed), indent=4) + "\n\n"
    if format_ == "yaml":
        return "".join(
            f"{name}:\n"
            + "".join(
                f"    {key.lower()}: {json.dumps(value) if value in ('', True, False) else value}\n"
                for key, value in fields.items()
            )
            for name, fields in variables.as_json(listed).items()
        )
    return variables.render_table(listed)


def cmd_graph(args: argparse.Namespace) -> int:
    from compose.graph import build_graph, render_dot, render_mermaid, render_text

    result = _load(args)
    _print_warnings(result, sys.stderr)
    graph = build_graph(result.project, result.tree)
    renderer = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}[args.format]
    sys.stdout.write(renderer(graph))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    if args.short:
        print(VERSION)
        return 0
    if args.format == "json":
        print(json.dumps({"version": VERSION}))
        return 0
    if args.format != "pretty":
        from compose.errors import PlanError

        raise PlanError(f"invalid --format {args.format!r} for version", hint="pretty or json")
    print(f"pycompose version {VERSION}")
    from compose.commands.engine_control import engine_version

    engine = engine_version()
    print(
        f"engine: {engine}" if engine else "engine: not running (it starts when a command needs it)"
    )
    return 0


def _refuse_dry_run(args: argparse.Namespace) -> None:
    """Never act on a request for a dry run: say what is supported instead."""
    if args.dry_run:
        from compose.errors import PlanError

        raise PlanError(
            f"--dry-run is not supported by `{args.subcommand}`",
            hint="up, create and down print their plan with --dry-run",
        )


def cmd_image(args: argparse.Namespace) -> int:
    """``pycompose image ...``: the engine's images, through its API."""
    import anyio

    _refuse_dry_run(args)
    from compose.commands import Terminal, run_image_command

    return int(anyio.run(run_image_command, args, Terminal(progress=args.progress, ansi=args.ansi)))


def cmd_engine(args: argparse.Namespace) -> int:
    """``pycompose engine ...``: start, stop and look at the engine daemon."""
    from compose.commands import Terminal
    from compose.commands.engine_control import run_engine_command

    _refuse_dry_run(args)
    return run_engine_command(args, Terminal())


def cmd_stack(args: argparse.Namespace) -> int:
    """A command on the project's containers: load the project, then talk to the engine."""
    from compose.commands import Terminal, run_ls, run_stack_command

    terminal = Terminal(progress=args.progress, ansi=args.ansi)
    if args.subcommand not in ("up", "create", "down", "publish"):
        _refuse_dry_run(args)
    if args.subcommand == "ls":
        import anyio

        return anyio.run(run_ls, args, terminal)
    services = tuple(getattr(args, "services", ()) or ())
    if getattr(args, "service", None):
        services = (args.service,)
    if args.subcommand == "scale":
        services = tuple(item.partition("=")[0] for item in services)
    # services named on the command line are enabled even when their profile is not;
    # the project is not narrowed to them (the planner selects what to act on)
    result = _load(args, enable_services=services)
    _print_warnings(result, sys.stderr)
    if args.subcommand == "ps":  # one request without the client when the engine answers
        from compose.commands.ps_view import quick_ps

        quick = quick_ps(result, args, terminal)
        if quick is not None:
            return quick
    import anyio

    try:
        status: int = anyio.run(run_stack_command, result, args, terminal)
    except BaseExceptionGroup as group:
        return _operations_failed(group)
    return status


def _operations_failed(group: BaseExceptionGroup[BaseException]) -> int:
    """Several concurrent engine operations failed: one is raised, more are listed."""
    from compose.commands import engine_errors

    errors = engine_errors(group)
    if len(errors) == 1:
        raise errors[0] from None
    from pathlib import Path

    print(f"{len(errors)} operations failed:", file=sys.stderr)
    for error in errors:
        print("  " + render_error(error, Path.cwd()).replace("\n", "\n  "), file=sys.stderr)
    return 1


def cmd_kube(args: argparse.Namespace) -> int:
    """``pycompose kube ...``: generate reads the project; play, down, apply and delete
    read manifests."""
    from compose.commands import kube

    _refuse_dry_run(args)
    if args.kube_command == "generate":
        result = _load(args)
        _print_warnings(result, sys.stderr)
        return kube.cmd_kube_generate(result, args)
    if args.kube_command in ("apply", "delete") and not args.manifests:
        result = _load(args)  # the project's own manifests, as `kube generate` writes them
        _print_warnings(result, sys.stderr)
        return kube.run_cluster_command(args, kube.project_objects(result))
    try:
        return kube.run_kube_command(args)
    except BaseExceptionGroup as group:
        return _operations_failed(group)


STACK_COMMAND_NAMES = (
    "up",
    "down",
    "create",
    "start",
    "stop",
    "restart",
    "kill",
    "pause",
    "unpause",
    "rm",
    "ps",
    "logs",
    "top",
    "port",
    "images",
    "exec",
    "run",
    "wait",
    "pull",
    "ls",
    "events",
    "push",
    "stats",
    "cp",
    "build",
    "watch",
    "attach",
    "volumes",
    "scale",
    "commit",
    "export",
    "publish",
)

COMMANDS = {
    "config": cmd_config,
    "graph": cmd_graph,
    "version": cmd_version,
    "image": cmd_image,
    "engine": cmd_engine,
    "kube": cmd_kube,
    **{name: cmd_stack for name in STACK_COMMAND_NAMES},
}


def _relative(text: str, cwd: Path) -> str:
    prefix = str(cwd).rstrip("/") + "/"
    return text.replace(prefix, "")


def render_error(error: PycomposeError | EngineError, cwd: Path) -> str:
    """An error as the user sees it, with file names relative to the working directory."""
    return _relative(error.render(), cwd)


@functools.cache
def cached_parser() -> argparse.ArgumentParser:
    """The whole parser, built once per process (argparse's parsing leaves it unchanged); the
    CLI server builds it before it forks."""
    return build_parser()


def _parser() -> argparse.ArgumentParser:
    """The server's parser when it was built; in a cold start, the top level and the named
    command's parser alone (compose.arguments.lazy): the whole grammar costs ~65 ms."""
    if cached_parser.cache_info().currsize:
        return cached_parser()
    return build_parser(lazy=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if args.subcommand is None:
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, "compatibility", False):
        parser.error(
            "--compatibility is not supported: pycompose names containers "
            "<project>-<service>-<n> only"
        )
    try:
        status = COMMANDS[args.subcommand](args)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return status
    except user_errors() as error:  # evaluated only when an exception gets here
        from pathlib import Path

        print(render_error(error, Path.cwd()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()


# the status of a process killed by SIGPIPE, as a shell reports it (what docker compose
# ends with when the reader of its output goes away, `pycompose logs | head -1`)
SIGPIPE_STATUS = 128 + signal.SIGPIPE


def _reader_gone() -> int:
    """Stop quietly after stdout's reader went away: later writes (Python's own flush at
    exit among them) go nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return SIGPIPE_STATUS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
