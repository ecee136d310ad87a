"""Lifecycle hooks: ``post_start`` after a container starts, ``pre_stop`` before it stops.

As docker compose 2.40 runs them (``pkg/compose/hook.go``): each hook is an exec in the
container with its own user, privileges, working directory and environment, one after
the other; its output goes to the progress display; a hook that exits non-zero fails the
operation (``up`` for post_start, ``stop``/``down`` for pre_stop). A container that is
already gone or stopped when its pre_stop hook would run is simply stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compose import model_parts as parts
from compose.errors import PlanError
from engine.api.client import EngineClient
from engine.api.errors import Conflict, NotFound
from engine.api.models import ExecCreate

MAX_OUTPUT_LINES = 200
"""Lines of a hook's output shown (the rest is counted): a chatty hook cannot flood the screen."""


def _environment(hook: parts.ServiceHook) -> list[str] | None:
    if not hook.environment:
        return None
    return [k if v is None else f"{k}={v}" for k, v in sorted(hook.environment.items())]


async def run_hooks(
    client: EngineClient,
    container: str,
    hooks: Sequence[parts.ServiceHook] | None,
    kind: str,
    on_output: Callable[[str], None],
) -> None:
    """Run ``hooks`` (``kind``: post_start or pre_stop) in ``container``, in order.

    Error handling: a hook exiting non-zero is a PlanError naming the hook, the container
    and the status; pre_stop on a container that is gone or not running is skipped.
    """
    for hook in hooks or ():
        command = hook.command if isinstance(hook.command, list) else None
        if not command:
            raise PlanError(f"{kind} hook of container {container} has no command")
        body = ExecCreate(
            User=hook.user or "",
            Privileged=bool(hook.privileged),
            Env=_environment(hook),
            WorkingDir=hook.working_dir or "",
            Cmd=list(command),
        )
        try:
            created = await client.exec_create(container, body)
        except (NotFound, Conflict):
            if kind == "pre_stop":
                return
            raise
        output = await client.exec_start(created.Id)
        lines = b"".join(chunk for _, chunk in output).decode(errors="replace").splitlines()
        for line in lines[:MAX_OUTPUT_LINES]:
            on_output(line)
        if len(lines) > MAX_OUTPUT_LINES:
            on_output(f"({len(lines) - MAX_OUTPUT_LINES} more lines)")
        status = (await client.exec_inspect(created.Id)).ExitCode
        if status:
            raise PlanError(
                f"{kind} hook {command} of container {container} exited with status {status}",
                hint=f"check the hook's command (services.<name>.{kind})",
            )
