"""The commands that talk to the engine, by family, around one :class:`Session`.

==================  ====================================================================
lifecycle           up, create, down, start, stop, restart, kill, pause, unpause, rm
inspection          ps, logs, top, port, images, ls, events, stats, wait
oneoff              exec, run, cp
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
from collections.abc import Awaitable, Callable

from compose.apply import ApplyError, failures
from compose.commands import build, images, inspection, lifecycle, oneoff
from compose.commands.session import Session, connect, open_session
from compose.commands.terminal import Terminal
from compose.errors import PycomposeError
from compose.keys import check_keys
from compose.load import LoadResult
from engine.api.errors import EngineError

Command = Callable[[Session, argparse.Namespace], Awaitable[int]]

CREATING_COMMANDS = frozenset({"up", "create", "run", "watch"})

# the commands on a project (`ls` needs none, but is one of them for the parser)
STACK_COMMANDS: dict[str, Command] = {
    **lifecycle.COMMANDS,
    **{name: c for name, c in inspection.COMMANDS.items() if name != "ls"},
    **oneoff.COMMANDS,
    **images.COMMANDS,
    **build.COMMANDS,
}


async def run_stack_command(
    loaded: LoadResult, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Connect to the engine and run one of :data:`STACK_COMMANDS` on the loaded project.

    A command that creates containers first refuses the keys pycompose does not honour
    (compose.keys), before anything is made.
    """
    if args.subcommand in CREATING_COMMANDS:
        for warning in check_keys(loaded.tree):
            print(f"WARN: {warning}", file=terminal.err)
    async with open_session(terminal, loaded) as session:
        return int(await STACK_COMMANDS[args.subcommand](session, args))


async def run_ls(args: argparse.Namespace, terminal: Terminal) -> int:
    """``pycompose ls``: no project is loaded."""
    async with open_session(terminal) as session:
        return await inspection.cmd_ls(session, args)


async def run_image_command(args: argparse.Namespace, terminal: Terminal) -> int:
    """``pycompose image <command>``: no project is loaded."""
    async with open_session(terminal) as session:
        return await images.cmd_image(session, args)


def engine_errors(error: BaseException) -> list[PycomposeError | EngineError]:
    """The pycompose and engine errors inside a (possibly grouped) failure; others re-raised."""
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
