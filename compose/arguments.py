"""The `pycompose` command line's grammar: every command, its flags and their help.

:func:`build_parser` gives the parser :mod:`compose.cli` runs; nothing here acts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from compose.kube.arguments import add_kube_commands

VERSION = "0.1.0"

# commands that act on the engine rather than on a project: they take no project flags
ENGINE_COMMANDS = {
    "image": "manage images (pull, push, ls, inspect, tag, rm, save, ...)",
    "engine": "control the engine daemon (start, stop, status, logs)",
}


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"pycompose: error: {message}\n")


def _go_bool(value: str) -> bool:
    """``--sig-proxy=false`` and the like, booleans as Go's flag package reads them."""
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r} (true or false)")


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
    add_kube_commands(commands)
    for subparser in commands.choices.values():
        _add_global_options(subparser, suppress=True)
    _add_image_commands(commands)
    _add_engine_commands(commands)
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
    _add_create_options(up)
    up.add_argument("--no-start", action="store_true")
    up.add_argument("--abort-on-container-exit", action="store_true")
    up.add_argument("--abort-on-container-failure", action="store_true")
    up.add_argument("--exit-code-from", metavar="SERVICE")
    up.add_argument("--attach", action="append", metavar="SERVICE")
    up.add_argument("--no-attach", action="append", metavar="SERVICE")
    up.add_argument(
        "--attach-dependencies", action="store_true", help="show the dependencies' output too"
    )
    up.add_argument("--no-color", action="store_true", help="no colours in the output")
    up.add_argument("--timestamps", action="store_true")
    up.add_argument("--no-log-prefix", action="store_true")
    up.add_argument("-t", "--timeout", type=int, default=None, help="stop timeout in seconds")
    up.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="watch the services' develop.watch paths (with -d: a detached watcher)",
    )

    create = command("create", "create the project's containers without starting them")
    _add_create_options(create)
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
    logs.add_argument("-n", "--tail", default="all", help="lines from the end (default: all)")
    logs.add_argument("-t", "--timestamps", action="store_true")
    when = "RFC 3339 time (2024-05-01T10:00:00Z), Unix seconds or a duration ago (42m)"
    logs.add_argument("--since", help=f"lines since: {when}")
    logs.add_argument("--until", help=f"lines before: {when}")
    logs.add_argument("--no-log-prefix", action="store_true")
    logs.add_argument("--no-color", action="store_true")
    logs.add_argument("--index", type=int, default=None, help="only replica #N of the service")

    exec_ = commands.add_parser("exec", help="run a command in a running container")
    exec_.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    exec_.add_argument("-d", "--detach", action="store_true")
    exec_.add_argument(
        "-i",
        "--interactive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep stdin attached (default)",
    )
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
    run.add_argument(
        "-P", "--service-ports", action="store_true", help="publish the service's ports"
    )
    run.add_argument("--no-deps", action="store_true")
    run.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--cap-add", action="append", default=[], metavar="CAPABILITY")
    run.add_argument("--cap-drop", action="append", default=[], metavar="CAPABILITY")
    run.add_argument(
        "--use-aliases", action="store_true", help="join the service's network aliases"
    )
    run.add_argument("--build", action="store_true", help="build the image before running")
    run.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    run.add_argument("--quiet-pull", action="store_true", help="pull without progress")
    run.add_argument("--remove-orphans", action="store_true")
    run.add_argument("--entrypoint")
    run.add_argument("-u", "--user")
    run.add_argument("-w", "--workdir")
    run.add_argument("--name")
    run.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true")
    run.add_argument(
        "-i",
        "--interactive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep stdin attached (default)",
    )
    run.add_argument("service")
    run.add_argument("command", nargs=argparse.REMAINDER)

    attach = commands.add_parser("attach", help="attach to a service's running container")
    attach.add_argument("service")
    attach.add_argument("--index", type=int, default=1, help="which replica (default 1)")
    attach.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    attach.add_argument(
        "--sig-proxy",
        nargs="?",
        type=_go_bool,
        const=True,
        default=True,
        metavar="BOOL",
        help="pass the signals pycompose gets on to the container (default true)",
    )
    attach.add_argument(
        "--detach-keys", metavar="KEYS", help="the keys that detach (default ctrl-p,ctrl-q)"
    )

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
    events.add_argument("--since", help=f"events since: {when}")
    events.add_argument("--until", help=f"events before (then exit): {when}")
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
    _add_watch_command(commands)
    ls = commands.add_parser("ls", help="list projects")
    ls.add_argument("-a", "--all", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", choices=["table", "json"], default="table")


def _flag_value(text: str) -> bool:
    """A boolean flag's value as docker compose takes it (``--prune=false``)."""
    value = text.strip().lower()
    if value in ("1", "t", "true", "yes"):
        return True
    if value in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r} (true or false)")


def _add_watch_command(commands: Any) -> None:
    """``pycompose watch``: develop.watch, in the foreground or detached."""
    watch = commands.add_parser(
        "watch", help="sync, restart or rebuild services when their files change"
    )
    watch.add_argument("services", nargs="*", metavar="SERVICE")
    watch.add_argument(
        "--no-up", action="store_true", help="do not build and start the services first"
    )
    watch.add_argument(
        "--prune",
        type=_flag_value,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="remove the images a rebuild leaves dangling (default true)",
    )
    watch.add_argument("--quiet", action="store_true", help="hide build output")
    watch.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="keep watching in a background process after the command returns",
    )
    watch.add_argument("--status", action="store_true", help="show the project's detached watcher")
    watch.add_argument("--stop", action="store_true", help="stop the project's detached watcher")
    watch.add_argument(
        "--detached-child", dest="child", action="store_true", help=argparse.SUPPRESS
    )


def _add_image_commands(commands: Any) -> None:
    """``pycompose image ...``: the engine's images, through its API."""
    image = commands.add_parser("image", help=ENGINE_COMMANDS["image"])
    actions = image.add_subparsers(
        dest="image_command", metavar="COMMAND", required=True, parser_class=_ArgumentParser
    )

    pull = actions.add_parser("pull", help="pull an image from a registry")
    pull.add_argument("name")
    pull.add_argument("--platform", help="os/arch[/variant], default: the engine's")
    pull.add_argument("-q", "--quiet", action="store_true")

    push = actions.add_parser("push", help="push an image to a registry")
    push.add_argument("name")
    push.add_argument("-q", "--quiet", action="store_true")

    ls = actions.add_parser("ls", aliases=["list"], help="list images")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image IDs")
    ls.add_argument("--digests", action="store_true")

    actions.add_parser("inspect", help="show images in detail (JSON)").add_argument(
        "names", nargs="+"
    )

    tag = actions.add_parser("tag", help="add a tag to an image")
    tag.add_argument("source")
    tag.add_argument("target")

    rm = actions.add_parser("rm", aliases=["remove"], help="remove images")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")

    load = actions.add_parser(
        "import", aliases=["load"], help="load a docker save archive or an OCI layout (dir or tar)"
    )
    load.add_argument("path", type=Path)
    load.add_argument("-t", "--tag", help="also tag the (single) loaded image")

    save = actions.add_parser("save", help="write images to a docker-loadable tar")
    save.add_argument("names", nargs="+")
    save.add_argument("-o", "--output", type=Path, required=True)

    prune = actions.add_parser("prune", help="remove dangling (or, with -a, all unused) images")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask (never asks)")


def _add_create_options(parser: Any) -> None:
    """The options of ``up`` and ``create``: how the containers are made."""
    parser.add_argument("--build", action="store_true", help="build images before starting")
    parser.add_argument("--no-build", action="store_true", help="do not build missing images")
    parser.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    parser.add_argument("--remove-orphans", action="store_true")
    parser.add_argument("--force-recreate", action="store_true")
    parser.add_argument("--no-recreate", action="store_true")
    parser.add_argument("--no-deps", action="store_true")


def _add_engine_commands(commands: Any) -> None:
    """``pycompose engine start|stop|status|logs``: the engine daemon as a process."""
    engine = commands.add_parser("engine", help=ENGINE_COMMANDS["engine"])
    engine.add_argument("--host", default=None, help="engine socket (PYCOMPOSE_HOST)")
    engine.add_argument("--data-root", default=None, help="engine data (PYCOMPOSE_DATA_ROOT)")
    actions = engine.add_subparsers(
        dest="engine_action", metavar="ACTION", required=True, parser_class=_ArgumentParser
    )
    start = actions.add_parser("start", help="start the engine if it is not running")
    start.add_argument("--timeout", type=float, default=30.0)
    stop = actions.add_parser("stop", help="stop the engine (containers keep running)")
    stop.add_argument("--timeout", type=float, default=30.0)
    actions.add_parser("status", help="whether the engine runs, and what it holds")
    logs = actions.add_parser("logs", help="the engine's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int, default=50)
    for action, text in (
        ("install-service", "write a systemd unit that starts the engine at boot, enable it"),
        ("uninstall-service", "disable and remove that systemd unit"),
    ):
        service = actions.add_parser(action, help=text)
        service.add_argument("--unit-dir", default="/etc/systemd/system")
        service.add_argument("--name", default="pycompose-engine", help="the unit's name")
        service.add_argument(
            "--no-enable", action="store_true", help="only write/remove the file (no systemctl)"
        )
