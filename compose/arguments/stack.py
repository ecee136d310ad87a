"""The commands on a project's containers (compose.commands runs them)."""

from __future__ import annotations

import argparse
from typing import Any

from compose.arguments.base import GoBool
from compose.arguments.refused import refuse

FORMAT_HELP = "table, json, or a Go template ({{.Name}}, {{json .}}, table {{.Name}})"


def add_stack_commands(commands: Any) -> None:
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
    add_create_options(up)
    up.add_argument("--no-start", action="store_true")
    up.add_argument("--abort-on-container-exit", action="store_true")
    up.add_argument("--abort-on-container-failure", action="store_true")
    up.add_argument("--exit-code-from", metavar="SERVICE")
    up.add_argument("--attach", action="append", metavar="SERVICE")
    up.add_argument("--no-attach", action="append", metavar="SERVICE")
    up.add_argument(
        "--attach-dependencies", action="store_true", help="show the dependencies' output too"
    )
    up.add_argument(
        "--menu",
        action=GoBool,
        default=False,
        help="interactive shortcuts: not supported (only --menu=false is accepted)",
    )
    up.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="watch the services' develop.watch paths (with -d: a detached watcher)",
    )
    up.add_argument("--timestamps", action="store_true")
    up.add_argument("--no-log-prefix", action="store_true")
    up.add_argument("-t", "--timeout", type=int, default=None, help="stop timeout in seconds")
    up.add_argument(
        "--always-recreate-deps", action="store_true", help="recreate the services' dependencies"
    )
    up.add_argument("--no-color", action="store_true", help="monochrome output")
    up.add_argument("--quiet-build", action="store_true", help="no build output")
    up.add_argument(
        "-V",
        "--renew-anon-volumes",
        action="store_true",
        help="new anonymous volumes instead of the previous containers' ones",
    )

    create = command("create", "create the project's containers without starting them")
    add_create_options(create)
    create.set_defaults(timeout=None, wait_timeout=None)

    down = command("down", "stop and remove the project's containers and networks")
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
    command("stop", "stop containers").add_argument("-t", "--timeout", type=int, default=None)
    restart = command("restart", "restart containers")
    restart.add_argument("-t", "--timeout", type=int, default=None)
    restart.add_argument(
        "--no-deps", action="store_true", help="do not restart the services' dependencies"
    )
    kill = command("kill", "kill containers")
    kill.add_argument("-s", "--signal", default="SIGKILL")
    kill.add_argument(
        "--remove-orphans", action="store_true", help="also remove containers of no service"
    )
    rm = command("rm", "remove stopped containers")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("-s", "--stop", action="store_true")
    rm.add_argument("-v", "--volumes", action="store_true")

    ps = command("ps", "list the project's containers")
    ps.add_argument("--format", default="table", help=FORMAT_HELP)
    ps.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    ps.add_argument(
        "--orphans",
        action=GoBool,
        default=True,
        help="include containers of services the project no longer declares "
        "(default; --orphans=false hides them)",
    )
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
    exec_.add_argument("-T", "--no-TTY", "--no-tty", dest="no_tty", action="store_true")
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
    run.add_argument(
        "--quiet-build", action="store_true", help="no progress output of the preparation"
    )
    run.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output of the preparation"
    )
    run.add_argument(
        "--env-from-file", action="append", default=[], metavar="FILE", help="env file (before -e)"
    )
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

    command("top", "show the processes of the containers")
    port = commands.add_parser("port", help="print the public port of a port binding")
    port.add_argument("service")
    port.add_argument("private_port")
    port.add_argument("--index", type=int, default=1)
    port.add_argument("--protocol", default="tcp")
    images = command("images", "list the images the containers use")
    images.add_argument("-q", "--quiet", action="store_true")
    images.add_argument("--format", choices=["table", "json"], default="table")
    command("wait", "wait for containers to stop; print their exit codes").add_argument(
        "--down-project", action="store_true", help="then stop and remove the whole project"
    )
    pull = command("pull", "pull the services' images")
    pull.add_argument("--ignore-pull-failures", action="store_true")
    pull.add_argument(
        "--ignore-buildable", action="store_true", help="skip services that have a build"
    )
    pull.add_argument("--include-deps", action="store_true", help="also the services' dependencies")
    pull.add_argument(
        "--policy",
        choices=["missing", "always"],
        default=None,
        help="pull only missing images, or always",
    )
    pull.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    events = command("events", "stream the project's container events")
    events.add_argument("--json", action="store_true")
    events.add_argument("--since", help=f"events since: {when}")
    events.add_argument("--until", help=f"events before (then exit): {when}")
    push = command("push", "push the services' images")
    push.add_argument("--ignore-push-failures", action="store_true")
    push.add_argument("--include-deps", action="store_true", help="also the services' dependencies")
    push.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    stats = command("stats", "show the containers' resource use")
    stats.add_argument("--no-stream", action="store_true", help="one sample, then exit")
    stats.add_argument("-a", "--all", action="store_true", help="also stopped containers")
    stats.add_argument("--format", default="table", help=FORMAT_HELP)
    stats.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    build = command("build", "build the services' images")
    build.add_argument("--no-cache", action="store_true")
    build.add_argument("--pull", action="store_true")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("-q", "--quiet", action="store_true")
    build.add_argument("--push", action="store_true", help="push the images once built")
    build.add_argument(
        "--with-dependencies", action="store_true", help="also build the services' dependencies"
    )
    build.add_argument(
        "--print", action="store_true", help="print the builds as a bake file, build nothing"
    )
    refuse(build, "build", "--builder", value=True)
    refuse(build, "build", "-m", "--memory", value=True)
    refuse(build, "build", "--provenance", value=True)
    refuse(build, "build", "--sbom", value=True)
    refuse(build, "build", "--ssh", value=True)
    refuse(build, "build", "--check")
    cp = commands.add_parser("cp", help="copy files between a service container and the host")
    cp.add_argument("source", metavar="SRC", help="SERVICE:PATH or a local path")
    cp.add_argument("destination", metavar="DEST", help="SERVICE:PATH or a local path")
    cp.add_argument("--index", type=int, default=1)
    cp.add_argument("-a", "--archive", action="store_true", help="keep uid/gid of the copied files")
    cp.add_argument(
        "-L", "--follow-link", action="store_true", help="follow a symbolic link in SRC"
    )
    cp.add_argument(
        "--all", action="store_true", help="also containers made by `run` (one-off ones)"
    )
    ls = commands.add_parser("ls", help="list projects")
    ls.add_argument("-a", "--all", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", default="table", help=FORMAT_HELP)
    ls.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE", help="name=PATTERN"
    )


def add_create_options(parser: Any) -> None:
    """The options of ``up`` and ``create``: how the containers are made."""
    parser.add_argument("--build", action="store_true", help="build images before starting")
    parser.add_argument("--no-build", action="store_true", help="do not build missing images")
    parser.add_argument("--pull", choices=["always", "missing", "never"], default=None)
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    parser.add_argument("--remove-orphans", action="store_true")
    parser.add_argument("--force-recreate", action="store_true")
    parser.add_argument("--no-recreate", action="store_true")
    parser.add_argument("--no-deps", action="store_true")
    parser.add_argument("--quiet-pull", action="store_true", help="pull without progress output")
    parser.add_argument("-y", "--yes", action="store_true", help='answer "yes" to every question')
