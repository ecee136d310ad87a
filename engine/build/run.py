"""RUN steps: a command in a container over a step's mounted root (``runc run``).

Lifecycle of ``run_step``: ``prepare_bundle`` (blocking) writes ``config.json`` (made by
``engine.runtime.build_spec``: Docker's defaults, the image's user resolved in the root's
/etc/passwd) and notes which mount points the root lacked; ``runc run`` runs in the
foreground with stdout and stderr merged, each line handed to ``on_output``; the runc
container is deleted at the end, failures and cancellation included (shielded). After
the root is unmounted, ``clean_placeholders`` removes from the upper dir the empty mount
points runc had to make (``/proc``, ``/etc/hosts``...): they are not the step's changes.

Network: ``none`` is an empty network namespace; ``host`` the host's; ``default`` joins
``netns_path`` (the namespace the engine made for the build on its bridge), or an empty
namespace when there is none: a RUN step never shares the host's network unless asked.
``/etc/hosts`` (localhost + extra hosts) is mounted read-only, and with a network
``resolv_conf`` (the build's namespace's) or, for ``host``, the host's ``/etc/resolv.conf``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.api.models import ContainerCreate as ContainerConfig
from engine.api.models import HostConfig, ImageConfig
from engine.build import files
from engine.runtime.runc import Runc
from engine.runtime.spec import SpecContext, build_spec

OUTPUT_TAIL = 20
MAX_LINE = 64 * 1024
PIPES = "/dev/pipes"  # where heredoc scripts with a #! line are mounted (as BuildKit)
# mount points runc makes in the root when missing; not part of a RUN's layer
PLACEHOLDERS = (
    "/proc",
    "/sys",
    "/dev",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc",  # last: made only to hold the files above
)


@dataclasses.dataclass(frozen=True, slots=True)
class RunRequest:
    container_id: str
    root: Path  # the mounted step root (overlay: layers + upper)
    bundle: Path  # a fresh directory for config.json and mounted files
    argv: Sequence[str]
    env: Sequence[str]
    user: str = ""
    working_dir: str = "/"
    network: str = "none"
    netns_path: str | None = None
    resolv_conf: str | None = None
    extra_hosts: Sequence[str] = ()
    shm_size: int = 0
    scripts: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    tail: tuple[str, ...]  # the last OUTPUT_TAIL lines of output
    existed: Mapping[str, bool]  # PLACEHOLDERS -> present in the root before the run


def _bind(source: str, destination: str) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", "ro", "rprivate"],
    }


def prepare_bundle(request: RunRequest) -> dict[str, bool]:
    """Write the bundle; make the working directory. Blocking. Returns ``existed``.

    Error handling: ``EngineError`` from ``build_spec`` (an unknown user, a bad working
    directory) is left to the caller, who knows the Dockerfile line.
    """
    root, bundle = request.root, request.bundle
    existed = {path: files.exists_beneath(root, path) for path in PLACEHOLDERS}
    files.make_dirs(root, request.working_dir, None)

    def read(path: str) -> str:
        return files.read_text_beneath(root, path)

    bundle.mkdir(parents=True, exist_ok=True)
    mounts: list[dict[str, Any]] = []
    for name, content in request.scripts.items():
        script = bundle / "pipes" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(content)
        script.chmod(0o755)
        mounts.append(_bind(str(script), f"{PIPES}/{name}"))
    mode = "none"
    namespace_paths: dict[str, str] = {}
    if request.network == "host":
        mode = "host"
    elif request.network == "default" and request.netns_path:
        mode = ""
        namespace_paths["network"] = str(request.netns_path)
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    for item in request.extra_hosts:
        name, _, address = item.partition(":")
        hosts += f"{address}\t{name}\n"
    (bundle / "hosts").write_text(hosts)
    mounts.append(_bind(str(bundle / "hosts"), "/etc/hosts"))
    if mode == "" and request.resolv_conf is not None:
        (bundle / "resolv.conf").write_text(request.resolv_conf)
        mounts.append(_bind(str(bundle / "resolv.conf"), "/etc/resolv.conf"))
    elif mode != "none" and Path("/etc/resolv.conf").exists():
        mounts.append(_bind("/etc/resolv.conf", "/etc/resolv.conf"))
    spec = build_spec(
        ContainerConfig(
            cmd=list(request.argv),
            env=list(request.env),
            user=request.user,
            working_dir=request.working_dir,
            host_config=HostConfig(network_mode=mode, shm_size=request.shm_size),
        ),
        ImageConfig(),
        SpecContext(
            container_id=request.container_id,
            rootfs=str(root),
            passwd_text=read("/etc/passwd"),
            group_text=read("/etc/group"),
            mounts=mounts,
            namespace_paths=namespace_paths,
            cgroup_version=2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1,
        ),
    )
    (bundle / "config.json").write_text(json.dumps(spec))
    return existed


async def run_step(runc: Runc, request: RunRequest, on_output: Callable[[str], None]) -> RunResult:
    """Run ``request`` to its end; its exit code and output tail.

    Resource handling: the runc container is deleted before returning, also on errors and
    cancellation (``runc delete --force``, shielded).
    """
    existed = await anyio.to_thread.run_sync(prepare_bundle, request)
    os.makedirs(runc.state_root, exist_ok=True)
    tail: list[str] = []

    def line_out(text: str) -> None:
        tail.append(text)
        del tail[:-OUTPUT_TAIL]
        on_output(text + "\n")

    try:
        process = await anyio.open_process(
            [*runc.base_args(), "run", "--bundle", str(request.bundle), request.container_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        async with process:
            assert process.stdout is not None
            pending = b""
            async for chunk in process.stdout:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE:  # output without newlines: pass it on in pieces
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    line_out(line.decode(errors="replace"))
            if pending:
                line_out(pending.decode(errors="replace"))
            code = await process.wait()
    finally:
        with anyio.CancelScope(shield=True):
            if runc.has_state(request.container_id):
                await anyio.run_process(
                    [*runc.base_args(), "delete", "--force", request.container_id], check=False
                )
    return RunResult(code, tuple(tail), existed)


def clean_placeholders(upper: Path, existed: Mapping[str, bool]) -> None:
    """Remove the empty mount points runc made in the upper dir. Blocking."""
    for path, was_there in existed.items():
        if was_there:
            continue
        target = upper / path.lstrip("/")
        if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
            target.rmdir()
        elif target.is_file() and not target.is_symlink() and target.stat().st_size == 0:
            target.unlink()
