"""``pycompose attach SERVICE``: the user's terminal joined to a service's running container.

As ``docker compose attach``: through the engine's attach API (a hijacked connection, see
:mod:`compose.commands.tty`); stdin is attached when the container keeps it open
(``stdin_open``) unless ``--no-stdin``; with a TTY the terminal is raw, its size follows
the window, and the detach keys (``--detach-keys``, default ctrl-p ctrl-q) leave the
container running: pycompose then prints docker's "read escape sequence" and exits 1.
Without a TTY, ``--sig-proxy`` (the default) passes the signals pycompose gets on to the
container. Otherwise pycompose's exit status is the container's.
"""

from __future__ import annotations

import argparse
import contextlib

from compose.commands.session import Session
from compose.commands.tty import (
    Interaction,
    interact,
    require_terminal_input,
    stream_terminal_size,
)
from compose.errors import PlanError
from engine.api.errors import EngineError, InvalidParameter
from engine.api.models.detach_keys import DEFAULT_DETACH_KEYS, parse_detach_keys


async def cmd_attach(session: Session, args: argparse.Namespace) -> int:
    client, terminal = session.client, session.terminal
    if args.service not in session.desired.services:
        raise PlanError(f"no such service: {args.service}")
    try:
        keys = parse_detach_keys(args.detach_keys or DEFAULT_DETACH_KEYS)
    except InvalidParameter as exc:
        raise PlanError(str(exc), hint=exc.hint) from None
    container = None
    for candidate in await session.containers(all=False, services=[args.service]):
        if candidate.number == args.index:
            container = candidate
    if container is None:
        which = "" if args.index == 1 else f" container #{args.index}"
        raise PlanError(
            f'service "{args.service}" is not running{which}',
            hint="start it with `pycompose up -d`",
        )
    config = (await client.container_inspect(container.id)).Config
    with_stdin = config.open_stdin and not args.no_stdin
    if config.tty and with_stdin:
        require_terminal_input(terminal.inp)

    async def resize(height: int, width: int) -> None:
        with contextlib.suppress(EngineError):  # it may have ended meanwhile
            await client.container_resize(container.id, height, width)

    async def kill(signal_name: str) -> None:
        with contextlib.suppress(EngineError):
            await client.container_kill(container.id, signal=signal_name)

    size = stream_terminal_size(terminal.out) if config.tty else None
    if size is not None:
        # as docker: a size one larger first (the window follower then sends the real one),
        # so that the program redraws (a shell shows its prompt again) on each attach
        await resize(size[0] + 1, size[1] + 1)
    async with client.container_attach_stream(
        container.id, stdin=with_stdin, tty=config.tty, detach_keys=args.detach_keys
    ) as connection:
        detached = await interact(
            Interaction(
                connection,
                terminal.inp if with_stdin else None,
                terminal.out,
                terminal.err,
                resize=resize,
                kill=kill if args.sig_proxy else None,
                detach_keys=keys,
            )
        )
    if detached:
        print("read escape sequence", file=terminal.err, flush=True)
        return 1
    return int((await client.container_wait(container.id)).StatusCode)


COMMANDS = {"attach": cmd_attach}
