"""The `pycompose` command line's grammar: every command, its flags and their help.

:func:`build_parser` gives the parser :mod:`compose.cli` runs; nothing here acts.
"""

from __future__ import annotations

import argparse
from typing import Any

from compose.arguments.base import VERSION, ArgumentParser
from compose.arguments.engine import add_engine_commands, add_image_commands
from compose.arguments.lazy import CommandParsers
from compose.arguments.live import add_live_commands
from compose.arguments.project import add_project_commands
from compose.arguments.stack import add_stack_commands
from compose.kube.arguments import add_kube_commands


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
    add(
        "--compatibility",
        action="store_true",
        help="not supported: docker-compose v1 names (project_service_1)",
    )


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole grammar. With ``lazy``, a command's parser is made only when the command
    line names it (:mod:`compose.arguments.lazy`): the CLI's way, the same help and errors."""
    parser = ArgumentParser(
        prog="pycompose",
        description="Run multi-container stacks described in Compose files.",
    )
    _add_global_options(parser)
    parser.add_argument("--version", action="version", version=f"pycompose version {VERSION}")
    parser.register("action", "commands", CommandParsers)
    commands = parser.add_subparsers(
        dest="subcommand", metavar="COMMAND", parser_class=ArgumentParser, action="commands"
    )
    assert isinstance(commands, CommandParsers)

    def global_options(subparser: argparse.ArgumentParser) -> None:
        _add_global_options(subparser, suppress=True)

    for group in (
        _add_file_commands,
        add_stack_commands,
        add_live_commands,
        add_project_commands,
        add_kube_commands,
    ):
        commands.register(group, global_options)
    commands.register(add_image_commands)
    commands.register(add_engine_commands)
    if not lazy:
        commands.make_all()
    return parser


def _add_file_commands(commands: Any) -> None:
    """The commands that read the files only: config, graph; and version."""
    config = commands.add_parser("config", help="validate and print the normalised project")
    config.add_argument("services", nargs="*", metavar="SERVICE")
    config.add_argument("--format", choices=["yaml", "json"], default=None)
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
    config.add_argument(
        "--environment", action="store_true", help="print the environment used to interpolate"
    )
    config.add_argument(
        "--models", dest="list_models", action="store_true", help="print model names"
    )
    config.add_argument(
        "--variables", action="store_true", help="print the variables the files use, with defaults"
    )
    config.add_argument(
        "--no-env-resolution",
        action="store_true",
        help="accepted as docker compose 2.40 does: env files are still resolved (warned)",
    )
    config.add_argument(
        "--no-consistency",
        action="store_true",
        help="skip the model's consistency checks (undefined references...)",
    )
    config.add_argument(
        "--resolve-image-digests",
        action="store_true",
        help="pin image tags to the registry's digests (asked through the engine)",
    )
    config.add_argument(
        "--lock-image-digests",
        action="store_true",
        help="print an override file of the services' images pinned to digests",
    )

    graph = commands.add_parser("graph", help="print the service dependency graph")
    graph.add_argument("--format", choices=["text", "mermaid", "dot"], default="text")

    version = commands.add_parser("version", help="show the pycompose version")
    version.add_argument("--short", action="store_true", help="only pycompose's version number")
    version.add_argument("-f", "--format", default="pretty", help="pretty or json")


__all__ = ["VERSION", "ArgumentParser", "build_parser"]
