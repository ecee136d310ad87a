"""The RUN instruction: its command (shell or exec form, heredoc scripts), its environment
(ENV, declared ARGs, the predefined proxy args) and cache key, then the run in a container.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from engine.build import dockerfile as df
from engine.build import run
from engine.build.cache import step_key
from engine.build.events import BuildStepFailed
from engine.build.instructions import DEFAULT_SHELL
from engine.build.scratch import Scratch, StageState
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.build.builder import Builder

PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)


async def run_instruction(builder: Builder, instruction: df.Instruction, state: StageState) -> None:
    """A RUN step: its command line, environment and cache key, then the run in a layer step."""
    config = state.run_config
    shell = list(config.get("Shell") or DEFAULT_SHELL)
    scripts: dict[str, str] = {}  # heredoc scripts with a #! line, run as files
    if instruction.exec_form:
        argv = list(instruction.args)
    else:
        command = instruction.args[0] if instruction.args else ""
        if instruction.heredocs:
            first = instruction.heredocs[0]
            only = command.strip() in (
                f"<<{first.name}",
                f"<<-{first.name}",
            ) or command.strip() in (
                f'<<"{first.name}"',
                f"<<'{first.name}'",
                f'<<-"{first.name}"',
                f"<<-'{first.name}'",
            )
            if only and len(instruction.heredocs) == 1 and first.content.startswith("#!"):
                scripts[first.name] = first.content
                command = ""
            elif only and len(instruction.heredocs) == 1:
                command = first.content
            else:
                command += "\n" + "".join(h.content + h.name + "\n" for h in instruction.heredocs)
        argv = [f"{run.PIPES}/{name}" for name in scripts] or [*shell, command]
    env_list = list(config.get("Env") or [])
    env_keys = {item.partition("=")[0] for item in env_list}
    args_env = [
        (name, value)
        for name, value in state.scope.args.items()
        if value is not None and name not in env_keys
    ]
    # predefined proxy args reach RUN undeclared, but stay out of the history and
    # the cache key (Docker's rule: they are about the build host, not the image)
    proxies = [
        (name, builder.options.build_args[name])
        for name in sorted(PROXY_ARGS & set(builder.options.build_args))
        if name not in state.scope.args and name not in env_keys
    ]
    builder.used_args.update(name for name, _ in proxies)
    env_list += [f"{name}={value}" for name, value in args_env + proxies]
    prefix = (
        f"|{len(args_env)} " + " ".join(f"{n}={v}" for n, v in args_env) + " " if args_env else ""
    )
    network = instruction.flag("network") or builder.options.network
    created_by = f"RUN {prefix}{' '.join(argv)} # buildkit"
    inputs = f"network={network}\n" + json.dumps(scripts, sort_keys=True)
    key = step_key(state.key, created_by, inputs)

    async def work(scratch: Scratch) -> None:
        await _run_container(
            builder, instruction, scratch, argv, env_list, config, network, scripts
        )

    await builder.layer_step(state, key, created_by, work)


async def _run_container(
    builder: Builder,
    instruction: df.Instruction,
    scratch: Scratch,
    argv: list[str],
    env: list[str],
    config: Mapping[str, Any],
    network: str,
    scripts: Mapping[str, str],
) -> None:
    request = run.RunRequest(
        container_id=scratch.container_id,
        root=scratch.merged,
        bundle=scratch.base / "bundle",
        argv=argv,
        env=env,
        user=config.get("User") or "",
        working_dir=config.get("WorkingDir") or "/",
        network=network,
        netns_path=builder.options.netns_path,
        resolv_conf=builder.options.resolv_conf,
        extra_hosts=builder.options.extra_hosts,
        shm_size=builder.options.shm_size,
        scripts=scripts,
    )
    builder.say(f" ---> Running in {scratch.container_id[-12:]}\n")
    try:
        result = await run.run_step(builder.runc(), request, builder.say)
    except EngineError as exc:
        raise df.DockerfileError(
            f"RUN: {exc.message}", line=instruction.line, file=builder.file, hint=exc.hint
        ) from exc
    builder.say(f"Removing intermediate container {scratch.container_id[-12:]}\n")
    if result.exit_code != 0:
        shown = json.dumps(argv) if instruction.exec_form else " ".join(argv)
        output = "\n".join(result.tail)
        raise BuildStepFailed(
            f"{builder.file}:{instruction.line}: {instruction.text.splitlines()[0]}: "
            f"the command '{shown}' returned a non-zero code: {result.exit_code}"
            + (f"\n{output}" if output else ""),
            exit_code=result.exit_code,
            output=output,
            hint="fix the command; its last output is shown above",
        )
    await scratch.unmount_all()
    await anyio.to_thread.run_sync(run.clean_placeholders, scratch.upper, result.existed)
