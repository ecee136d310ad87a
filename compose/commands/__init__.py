"""The commands that talk to the engine, by family, around one :class:`Session`.

==================  ====================================================================
lifecycle           up, create, down, start, stop, restart, kill, pause, unpause, rm
inspection          logs, top, port, events, wait
listing             ps, images, ls, stats, volumes (table, json or a Go template)
project             scale, commit, export, publish
oneoff              exec, run, cp
attach              attach (attached.py: the output of `up` without -d)
watch               watch (develop.watch; detached watchers)
images              pull, push (the services' images) and ``pycompose image ...``
build               build
engine_control      ``pycompose engine start|stop|status|logs``, the engine's version
==================  ====================================================================

Each command is ``async def cmd_x(session, args) -> int`` (the exit status). They follow
one shape: observe -> decide (pure: compose.reconcile) -> act (compose.apply) -> report,
and print only to the session's :class:`Terminal`, so they can be tested.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.api.errors import EngineError

if TYPE_CHECKING:
    from compose.commands.session import Session
    from compose.commands.terminal import Terminal
    from compose.errors import PycomposeError
    from compose.load import LoadResult

# The command modules (and through them pydantic, anyio and the HTTP client) are imported
# when a command runs, not when `pycompose version` or `pycompose engine` merely passes by.

Command = Callable[["Session", argparse.Namespace], Awaitable[int]]


# the commands that create containers refuse the keys pycompose does not honour first
CREATING_COMMANDS = frozenset({"up", "create", "run", "watch"})

# cheapest imports first
_FAMILIES = (
    "inspection",
    "listing",
    "lifecycle",
    "oneoff",
    "attach",
    "project",
    "build",
    "images",
    "watch",
)


def stack_commands() -> dict[str, Command]:
    """The commands on a project (`ls` needs none, but is one of them for the parser)."""
    commands: dict[str, Command] = {}
    for family in reversed(_FAMILIES):
        commands.update(_family_commands(family))
    return commands


def _family_commands(family: str) -> dict[str, Command]:
    module = importlib.import_module(f"compose.commands.{family}")
    found: dict[str, Command] = module.COMMANDS
    return {name: c for name, c in found.items() if name != "ls"}


# which family holds each command, so that running one imports that family alone
# (tests/compose/commands/test_families.py checks it against the families' COMMANDS)
FAMILY_OF = {
    **dict.fromkeys(("events", "logs", "port", "top", "wait"), "inspection"),
    **dict.fromkeys(("images", "ps", "stats", "volumes"), "listing"),
    **dict.fromkeys(
        ("create", "down", "kill", "pause", "restart", "rm", "start", "stop", "unpause", "up"),
        "lifecycle",
    ),
    **dict.fromkeys(("cp", "exec", "run"), "oneoff"),
    "attach": "attach",
    **dict.fromkeys(("commit", "export", "publish", "scale"), "project"),
    "build": "build",
    **dict.fromkeys(("pull", "push"), "images"),
    "watch": "watch",
}


def stack_command(name: str) -> Command:
    """One command, importing only the family that holds it (a name belongs to one family)."""
    family = FAMILY_OF.get(name)
    commands = _family_commands(family) if family else {}
    if name in commands:
        return commands[name]
    for family in _FAMILIES:  # a command not in the table yet
        commands = _family_commands(family)
        if name in commands:
            return commands[name]
    raise KeyError(name)


def __getattr__(name: str) -> Any:
    if name == "STACK_COMMANDS":
        return stack_commands()
    if name == "Terminal":  # not loaded by `pycompose version` (engine_control is in here)
        from compose.commands.terminal import Terminal

        return Terminal
    if name in ("Session", "connect", "open_session"):
        from compose.commands import session

        return getattr(session, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def run_stack_command(
    loaded: LoadResult, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Connect to the engine and run one of :data:`STACK_COMMANDS` on the loaded project.

    A command that creates containers first refuses the keys pycompose does not honour
    (compose.keys), before anything is made.
    """
    from compose.commands.session import open_session

    if args.subcommand in CREATING_COMMANDS:
        from compose.keys.checks import check_keys

        for warning in check_keys(loaded.tree):
            print(f"WARN: {warning}", file=terminal.err)
    command = stack_command(args.subcommand)
    async with open_session(terminal, loaded, args.parallel) as session:
        return int(await command(session, args))


async def run_ls(args: argparse.Namespace, terminal: Terminal) -> int:
    """``pycompose ls``: no project is loaded."""
    from compose.commands import listing
    from compose.commands.session import open_session

    async with open_session(terminal, parallel=args.parallel) as session:
        return await listing.cmd_ls(session, args)


async def run_image_command(args: argparse.Namespace, terminal: Terminal) -> int:
    """``pycompose image <command>``: no project is loaded."""
    from compose.commands import images
    from compose.commands.session import open_session

    async with open_session(terminal) as session:
        return await images.cmd_image(session, args)


def engine_errors(error: BaseException) -> list[PycomposeError | EngineError]:
    """The pycompose and engine errors inside a (possibly grouped) failure; others re-raised."""
    from compose.apply import ApplyError, failures
    from compose.errors import PycomposeError

    found: list[PycomposeError | EngineError] = []
    for leaf in failures(error):
        if isinstance(leaf, PycomposeError | EngineError):
            found.append(leaf)
        elif isinstance(leaf, TimeoutError):
            found.append(
                ApplyError("timed out waiting for the services", hint="raise --wait-timeout")
            )
        else:
            raise leaf
    return found


__all__ = [
    "STACK_COMMANDS",
    "Session",
    "Terminal",
    "connect",
    "engine_errors",
    "open_session",
    "run_image_command",
    "run_ls",
    "run_stack_command",
]
