"""The `pycompose` command line: parse arguments, call the library, print, exit.

This is the only module of compose/ that reads the process environment, touches
the disk directly, prints or chooses an exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from compose import output
from compose.desired import config_hashes
from compose.errors import ComposeError, Issue, PlanError, PycomposeError
from compose.graph import build_graph, render_dot, render_mermaid, render_text
from compose.load import LoadOptions, LoadResult, load_project

if TYPE_CHECKING:
    from engine.api.errors import EngineError

VERSION = "0.1.0"


class LocalFileSystem:
    """The real disk, for :func:`compose.load.load_project`."""

    def read_text(self, path: Path) -> str:
        return path.read_text(encoding="utf-8")

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"pycompose: error: {message}\n")


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The global flags. With ``suppress`` they are added to a subcommand, since docker
    compose accepts them after the command too, without overriding values given before it."""

    def add(*names: str, **kwargs: Any) -> None:
        if suppress:
            kwargs["default"] = argparse.SUPPRESS
            kwargs["help"] = argparse.SUPPRESS
            # a command's own flag wins (logs -f is --follow, run -p is --publish)
            names = tuple(n for n in names if n not in parser._option_string_actions)
            if not any(n.startswith("--") for n in names):
                return
        parser.add_argument(*names, **kwargs)

    add(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="compose configuration file (repeatable)",
    )
    add("-p", "--project-name", metavar="NAME", help="project name")
    add(
        "--project-directory",
        metavar="DIR",
        help="alternate working directory (default: the first file's directory)",
    )
    add(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="alternate environment file (repeatable)",
    )
    add(
        "--profile",
        action="append",
        default=[],
        metavar="PROFILE",
        help="profile to enable (repeatable)",
    )
    add("--all-resources", action="store_true", help="include resources that no service uses")
    add("--parallel", type=int, default=-1, help="maximum parallelism (-1: no limit)")
    add("--dry-run", action="store_true", help="show what would be done")
    add("--ansi", choices=["never", "always", "auto"], default="auto")
    add("--progress", choices=["auto", "tty", "plain", "quiet", "json"], default="auto")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="pycompose",
        description="Run multi-container stacks described in Compose files.",
    )
    _add_global_options(parser)
    parser.add_argument("--version", action="version", version=f"pycompose version {VERSION}")
    commands = parser.add_subparsers(
        dest="subcommand", metavar="COMMAND", parser_class=_ArgumentParser
    )

    config = commands.add_parser("config", help="validate and print the normalised project")
    config.add_argument("services", nargs="*", metavar="SERVICE")
    config.add_argument("--format", choices=["yaml", "json"], default="yaml")
    config.add_argument(
        "--services", dest="list_services", action="store_true", help="print service names"
    )
    config.add_argument(
        "--volumes", dest="list_volumes", action="store_true", help="print volume names"
    )
    config.add_argument(
        "--networks", dest="list_networks", action="store_true", help="print network names"
    )
    config.add_argument(
        "--profiles", dest="list_profiles", action="store_true", help="print profile names"
    )
    config.add_argument(
        "--images", dest="list_images", action="store_true", help="print image names"
    )
    config.add_argument("--hash", metavar="SERVICES", help='print config hashes ("*" for all)')
    config.add_argument("-q", "--quiet", action="store_true", help="only validate")
    config.add_argument("--no-interpolate", action="store_true")
    config.add_argument("--no-normalize", action="store_true")
    config.add_argument("--no-path-resolution", action="store_true")
    config.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    config.add_argument("--explain", action="store_true", help="show where every value came from")

    graph = commands.add_parser("graph", help="print the service dependency graph")
    graph.add_argument("--format", choices=["text", "mermaid", "dot"], default="text")

    commands.add_parser("version", help="show the pycompose version").add_argument(
        "--short", action="store_true", help="only pycompose's version number"
    )
    _add_stack_commands(commands)
    for name, subparser in commands.choices.items():
        if name not in ENGINE_COMMANDS:
            _add_global_options(subparser, suppress=True)

    # Engine-side command groups are parsed by their own modules, imported only when used,
    # so that `pycompose config` does not pay for the engine's imports.
    for name, help_text in ENGINE_COMMANDS.items():
        group = commands.add_parser(name, help=help_text, add_help=False)
        group.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def _add_stack_commands(commands: Any) -> None:
    """The commands that act on the project's containers (compose.commands runs them)."""

    def command(name: str, help_text: str, services: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        if services:
            parser.add_argument("services", nargs="*", metavar="SERVICE")
        return parser

    up = command("up", "create and start the project's containers")
    up.add_argument("-d", "--detach", action="store_true", help="run in the background")
    up.add_argument("--wait", action="store_true", help="wait until services are running/healthy")
    up.add_argument("--wait-timeout", type=float, default=None, metavar="SECONDS")
    up.add_argument("--build", action="store_true", help="build images before starting")
    up.add_argument("--no-build", action="store_true", help="do not build missing images")
    up.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    up.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    up.add_argument("--remove-orphans", action="store_true")
    up.add_argument("--force-recreate", action="store_true")
    up.add_argument("--no-recreate", action="store_true")
    up.add_argument("--no-deps", action="store_true")
    up.add_argument("--no-start", action="store_true")
    up.add_argument("--abort-on-container-exit", action="store_true")
    up.add_argument("--abort-on-container-failure", action="store_true")
    up.add_argument("--exit-code-from", metavar="SERVICE")
    up.add_argument("--attach", action="append", metavar="SERVICE")
    up.add_argument("--no-attach", action="append", metavar="SERVICE")
    up.add_argument("--timestamps", action="store_true")
    up.add_argument("--no-log-prefix", action="store_true")
    up.add_argument("-t", "--timeout", type=int, default=None, help="stop timeout in seconds")

    create = command("create", "create the project's containers without starting them")
    create.add_argument("--build", action="store_true")
    create.add_argument("--no-build", action="store_true")
    create.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    create.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    create.add_argument("--remove-orphans", action="store_true")
    create.add_argument("--force-recreate", action="store_true")
    create.add_argument("--no-recreate", action="store_true")
    create.add_argument("--no-deps", action="store_true")
    create.set_defaults(timeout=None, wait_timeout=None)

    down = commands.add_parser("down", help="stop and remove the project's containers and networks")
    down.add_argument("-v", "--volumes", action="store_true", help="also remove named volumes")
    down.add_argument("--rmi", choices=["all", "local"], default=None)
    down.add_argument("--remove-orphans", action="store_true")
    down.add_argument("-t", "--timeout", type=int, default=None)

    for name, text in (
        ("start", "start existing containers"),
        ("pause", "pause containers"),
        ("unpause", "unpause containers"),
    ):
        command(name, text)
    for name, text in (("stop", "stop containers"), ("restart", "restart containers")):
        command(name, text).add_argument("-t", "--timeout", type=int, default=None)
    command("kill", "kill containers").add_argument("-s", "--signal", default="SIGKILL")
    rm = command("rm", "remove stopped containers")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("-s", "--stop", action="store_true")
    rm.add_argument("-v", "--volumes", action="store_true")

    ps = command("ps", "list the project's containers")
    ps.add_argument("--format", choices=["table", "json"], default="table")
    ps.add_argument("-q", "--quiet", action="store_true")
    ps.add_argument("--services", dest="list_services", action="store_true")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE")
    ps.add_argument("--status", action="append", default=[])

    logs = command("logs", "show the services' output")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", default="all")
    logs.add_argument("-t", "--timestamps", action="store_true")
    logs.add_argument("--since")
    logs.add_argument("--until")
    logs.add_argument("--no-log-prefix", action="store_true")
    logs.add_argument("--no-color", action="store_true")

    exec_ = commands.add_parser("exec", help="run a command in a running container")
    exec_.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    exec_.add_argument("-d", "--detach", action="store_true")
    exec_.add_argument("-u", "--user")
    exec_.add_argument("-w", "--workdir")
    exec_.add_argument("-e", "--env", action="append", default=[])
    exec_.add_argument("--index", type=int, default=1)
    exec_.add_argument("--privileged", action="store_true")
    exec_.add_argument("--no-stdin", action="store_true", help=argparse.SUPPRESS)
    exec_.add_argument("service")
    exec_.add_argument("command", nargs=argparse.REMAINDER)

    run = commands.add_parser("run", help="run a one-off command for a service")
    run.add_argument("--rm", action="store_true")
    run.add_argument("-d", "--detach", action="store_true")
    run.add_argument("-e", "--env", action="append", default=[])
    run.add_argument("-v", "--volume", action="append", default=[])
    run.add_argument("-p", "--publish", action="append", default=[])
    run.add_argument("--service-ports", action="store_true")
    run.add_argument("--no-deps", action="store_true")
    run.add_argument("--entrypoint")
    run.add_argument("-u", "--user")
    run.add_argument("-w", "--workdir")
    run.add_argument("--name")
    run.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    run.add_argument("service")
    run.add_argument("command", nargs=argparse.REMAINDER)

    command("top", "show the processes of the containers")
    port = commands.add_parser("port", help="print the public port of a port binding")
    port.add_argument("service")
    port.add_argument("private_port")
    port.add_argument("--index", type=int, default=1)
    port.add_argument("--protocol", default="tcp")
    command("images", "list the images the containers use").add_argument(
        "-q", "--quiet", action="store_true"
    )
    command("wait", "wait for containers to stop; print their exit codes")
    command("pull", "pull the services' images").add_argument(
        "--ignore-pull-failures", action="store_true"
    )
    events = command("events", "stream the project's container events")
    events.add_argument("--json", action="store_true")
    command("push", "push the services' images").add_argument(
        "--ignore-push-failures", action="store_true"
    )
    command("stats", "show the containers' resource use").add_argument(
        "--no-stream", action="store_true", help="one sample, then exit"
    )
    build = command("build", "build the services' images")
    build.add_argument("--no-cache", action="store_true")
    build.add_argument("--pull", action="store_true")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("-q", "--quiet", action="store_true")
    cp = commands.add_parser("cp", help="copy files between a service container and the host")
    cp.add_argument("source", metavar="SRC", help="SERVICE:PATH or a local path")
    cp.add_argument("destination", metavar="DEST", help="SERVICE:PATH or a local path")
    cp.add_argument("--index", type=int, default=1)
    ls = commands.add_parser("ls", help="list projects")
    ls.add_argument("-a", "--all", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", choices=["table", "json"], default="table")


def _options(args: argparse.Namespace, **overrides: Any) -> LoadOptions:
    environment = dict(os.environ)
    return LoadOptions(
        cwd=Path.cwd(),
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
    return load_project(_options(args, **overrides), LocalFileSystem())


def _print_warnings(result: LoadResult, stream: TextIO) -> None:
    for warning in result.warnings:
        print(f"WARN: {warning}", file=stream)


def _write(text: str, destination: str | None) -> None:
    if destination:
        Path(destination).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_config(args: argparse.Namespace) -> int:
    result = _load(
        args,
        interpolate=not args.no_interpolate,
        normalize=not args.no_normalize,
        resolve_paths=not args.no_path_resolution,
        services=tuple(args.services),
    )
    _print_warnings(result, sys.stderr)
    project = result.project
    if args.quiet:
        return 0
    # docker compose escapes "$" as "$$" only in interpolated output
    escape_dollars = not args.no_interpolate
    data = output.config_dict(project, escape_dollars)
    services: dict[str, Any] = data.get("services") or {}
    if args.list_services:
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
        hashes = config_hashes(project)
        lines = []
        for name in wanted:
            if name not in hashes:
                raise ComposeError([Issue(f"no such service: {name}")])
            lines.append(f"{name} {hashes[name]}\n")
        _write("".join(lines), args.output)
        return 0
    if args.explain:
        from compose.explain import explain

        _write(explain(result, Path.cwd()), args.output)
        return 0
    if args.format == "json":
        _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n", args.output)
    else:
        _write(output.config_yaml(project, escape_dollars), args.output)
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    result = _load(args)
    _print_warnings(result, sys.stderr)
    graph = build_graph(result.project, result.tree)
    renderer = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}[args.format]
    sys.stdout.write(renderer(graph))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    print(f"pycompose version {VERSION}")
    if getattr(args, "short", False):
        return 0
    import anyio

    from compose.commands import Terminal, engine_version

    engine = anyio.run(engine_version, Terminal())
    print(
        f"engine: {engine}" if engine else "engine: not running (it starts when a command needs it)"
    )
    return 0


ENGINE_COMMANDS = {
    "image": "manage images (pull, push, ls, inspect, tag, rm, save, ...)",
    "engine": "control the engine daemon (start, stop, status, logs)",
}


def cmd_engine_group(args: argparse.Namespace) -> int:
    """Hand ``pycompose image|engine ...`` to the engine module that owns the command."""
    import inspect
    from types import ModuleType

    import anyio

    module: ModuleType
    if args.subcommand == "image":
        from engine.images import cli as module
    else:
        from engine.daemon import cli as module
    parser = _ArgumentParser(prog="pycompose")
    module.register(parser.add_subparsers(dest="command", parser_class=_ArgumentParser))
    group_args = parser.parse_args([args.subcommand, *args.arguments])
    if inspect.iscoroutinefunction(module.run):
        return int(anyio.run(module.run, group_args))
    return int(module.run(group_args))


def cmd_stack(args: argparse.Namespace) -> int:
    """A command on the project's containers: load the project, then talk to the engine."""
    import anyio

    from compose.commands import Terminal, engine_errors, run_ls, run_stack_command

    terminal = Terminal(progress=args.progress, ansi=args.ansi)
    if args.dry_run and args.subcommand not in ("up", "create", "down"):
        # never act on a request for a dry run: say what is supported instead
        raise PlanError(
            f"--dry-run is not supported by `{args.subcommand}`",
            hint="up, create and down print their plan with --dry-run",
        )
    if args.subcommand == "ls":
        return anyio.run(run_ls, args, terminal)
    services = tuple(getattr(args, "services", ()) or ())
    if getattr(args, "service", None):
        services = (args.service,)
    # services named on the command line are enabled even when their profile is not;
    # the project is not narrowed to them (the planner selects what to act on)
    result = _load(args, enable_services=services)
    _print_warnings(result, sys.stderr)
    try:
        status: int = anyio.run(run_stack_command, result, args, terminal)
    except BaseExceptionGroup as group:
        errors = engine_errors(group)
        if len(errors) == 1:
            raise errors[0] from None
        print(f"{len(errors)} operations failed:", file=sys.stderr)
        for error in errors:
            print("  " + render_error(error, Path.cwd()).replace("\n", "\n  "), file=sys.stderr)
        return 1
    return status


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
)

COMMANDS = {
    "config": cmd_config,
    "graph": cmd_graph,
    "version": cmd_version,
    "image": cmd_engine_group,
    "engine": cmd_engine_group,
    **{name: cmd_stack for name in STACK_COMMAND_NAMES},
}


def _relative(text: str, cwd: Path) -> str:
    prefix = str(cwd).rstrip("/") + "/"
    return text.replace(prefix, "")


def render_error(error: PycomposeError | EngineError, cwd: Path) -> str:
    """An error as the user sees it, with file names relative to the working directory."""
    return _relative(error.render(), cwd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if args.subcommand in ENGINE_COMMANDS:
        args.arguments = [*extras, *args.arguments]
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if args.subcommand is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return COMMANDS[args.subcommand](args)
    except PycomposeError as error:
        print(render_error(error, Path.cwd()), file=sys.stderr)
        return 1
    except Exception as error:
        # imported here: `config` and the other commands without an engine stay light
        from engine.api.errors import EngineError

        if not isinstance(error, EngineError):
            raise
        print(render_error(error, Path.cwd()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
