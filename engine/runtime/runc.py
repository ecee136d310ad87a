"""A thin typed wrapper over the ``runc`` binary: one method per verb, no policy.

Every call runs ``runc --root <state dir> <verb> ...`` through ``anyio.run_process``; a
non-zero exit raises :class:`RuntimeExitError` carrying runc's stderr. ``state`` parses
``runc state`` JSON into :class:`RuncState`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Literal

import anyio
from pydantic import BaseModel, ConfigDict

from engine.errors import EngineInternal, InvalidParameter, NotFound

DEFAULT_STATE_ROOT = "/run/pycompose/runc"
EXEC_FIFO = "exec.fifo"  # runc's mark of a created container, see Runc.start
START_TIMEOUT = 60.0
STATE_LIMIT = 4 << 20  # bytes of runc's state.json read (it is tens of KiB)
CGROUP_ROOT = "/sys/fs/cgroup/"
_INIT_PID = re.compile(rb'"init_process_pid"\s*:\s*(\d{1,10})\s*[,}]')
_INIT_START = re.compile(rb'"init_process_start"\s*:\s*(\d{1,20})\s*[,}]')


class RuntimeExitError(EngineInternal):
    """runc exited non-zero; ``stderr`` is what it said, ``exit_code`` its status."""

    def __init__(self, verb: str, exit_code: int, stderr: str) -> None:
        message = _runc_message(stderr) or f"runc {verb} failed with exit code {exit_code}"
        super().__init__(f"runc {verb}: {message}")
        self.verb = verb
        self.exit_code = exit_code
        self.stderr = stderr


def _runc_message(stderr: str) -> str:
    """The ``msg=`` of runc's last logfmt error line, or the raw text."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    marker = 'msg="'
    if marker in last:
        text = last.split(marker, 1)[1]
        return text[:-1] if text.endswith('"') else text
    return last


class RuncState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    pid: int
    status: Literal["creating", "created", "running", "paused", "stopped"]
    bundle: str
    created: str


def find_runtime(name: str = "runc") -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise EngineInternal(
            f"the OCI runtime {name!r} is not installed",
            hint="install it (apt-get install runc) or run scripts/install.sh",
        )
    return path


class Runc:
    """runc with a fixed binary and state directory (``--root``)."""

    def __init__(self, binary: str | None = None, state_root: str = DEFAULT_STATE_ROOT) -> None:
        self.binary = binary or find_runtime()
        self.state_root = state_root

    def has_state(self, container_id: str) -> bool:
        """Whether runc keeps state for the container (cheap: no process started)."""
        return os.path.exists(os.path.join(self.state_root, container_id))

    def base_args(self) -> list[str]:
        return [self.binary, "--root", self.state_root]

    async def _run(self, verb: str, *args: str, check: bool = True) -> bytes:
        result = await anyio.run_process([*self.base_args(), verb, *args], check=False, stdin=None)
        if check and result.returncode != 0:
            stderr = result.stderr.decode(errors="replace")
            if "does not exist" in stderr or "not exist" in stderr:
                raise NotFound(f"runc {verb}: {_runc_message(stderr)}") from RuntimeExitError(
                    verb, result.returncode, stderr
                )
            raise RuntimeExitError(verb, result.returncode, stderr)
        return result.stdout

    async def create(
        self,
        container_id: str,
        bundle: str,
        *,
        pid_file: str | None = None,
        console_socket: str | None = None,
        no_pivot: bool = False,
    ) -> None:
        args = ["--bundle", bundle]
        if pid_file:
            args += ["--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        if no_pivot:
            args.append("--no-pivot")
        await self._run("create", *args, container_id)

    async def start(self, container_id: str, *, init_pid: int = 0) -> None:
        """Let a created container's process run (``runc start``).

        runc's own start only opens the container's ``exec.fifo``, reads the byte its init
        writes there before it executes the process, and removes the fifo (runc's mark of a
        created container); with the init's pid known, the engine does that itself and saves
        a runc process per start. Anything unexpected (another runtime, no fifo) goes
        through ``runc start``.
        """
        fifo = os.path.join(self.state_root, container_id, EXEC_FIFO)
        if init_pid > 0 and os.path.basename(self.binary) == "runc":
            try:
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                pass
            else:
                try:
                    await _release_init(fd, init_pid)
                finally:
                    os.close(fd)
                os.unlink(fifo)
                return
        await self._run("start", container_id)

    async def run(self, container_id: str, bundle: str) -> int:
        """``runc run`` in the foreground (stdio inherited as DEVNULL); its exit status."""
        result = await anyio.run_process(
            [*self.base_args(), "run", "--bundle", bundle, container_id], check=False
        )
        return result.returncode

    async def kill(
        self, container_id: str, sig: int | str = signal.SIGTERM, *, all_processes: bool = False
    ) -> None:
        args = ["--all"] if all_processes else []
        name = sig if isinstance(sig, str) else str(int(sig))
        await self._run("kill", *args, container_id, name)

    def signal_init(self, container_id: str, sig: int) -> bool:
        """Send ``sig`` to the container's init as ``runc kill`` (without ``--all``) does,
        without running runc: the init's pid and start time from runc's state file, and a
        pidfd, so that a pid the kernel gave to another process since is never signalled.
        False when that cannot be done here (the caller runs ``runc kill``, which reports
        why). A stop is one signal to a process: a fork and an exec of runc cost more.
        """
        try:
            path = os.path.join(self.state_root, container_id, "state.json")
            with open(path, "rb") as handle:
                text = handle.read(STATE_LIMIT)
        except OSError:
            return False
        # Two top-level keys of a file that also holds the whole OCI config (tens of kB to
        # decode): a quote inside a JSON string is always escaped, so these patterns can
        # only be runc's own keys, whatever the image put in the config.
        pid_match = _INIT_PID.search(text)
        start_match = _INIT_START.search(text)
        if pid_match is None or start_match is None:
            return False
        pid, start = int(pid_match[1]), int(start_match[1])
        if pid <= 0:
            return False
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return False
        try:
            # the pidfd holds the process: the start time read after it was opened tells
            # whether it is the init runc recorded (field 22 of /proc/<pid>/stat)
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read(4096)
            if int(stat[stat.rindex(b")") + 2 :].split()[19]) != start:
                return False
            signal.pidfd_send_signal(pidfd, sig)
        except (OSError, ValueError, IndexError):
            return False
        finally:
            os.close(pidfd)
        return True

    async def delete(self, container_id: str, *, force: bool = False) -> None:
        args = ["--force"] if force else []
        await self._run("delete", *args, container_id)

    async def delete_exited(self, container_id: str) -> None:
        """``runc delete --force`` of a container whose process has exited.

        For a stopped container in its own pid namespace, without hooks, runc's delete
        removes its cgroups (empty once the init is gone) and its state directory; the
        engine does that itself, in a worker thread, and saves a runc process per exit.
        Anything else, or any step that fails, goes through ``runc delete --force``.
        """
        done = await anyio.to_thread.run_sync(self._delete_stopped, container_id)
        if not done:
            await self.delete(container_id, force=True)

    def _delete_stopped(self, container_id: str) -> bool:
        """The removal :meth:`delete_exited` describes; False if runc should do it."""
        directory = os.path.join(self.state_root, container_id)
        if os.path.basename(self.binary) != "runc" or "/" in container_id:
            return False
        try:
            with open(os.path.join(directory, "state.json"), "rb") as file:
                state = json.loads(file.read(STATE_LIMIT + 1)[:STATE_LIMIT])
            config = state["config"]
            paths = list(state["cgroup_paths"].values())
            own_pid_namespace = any(
                n["type"] == "NEWPID" and not n["path"] for n in config["namespaces"]
            )
            hooks = any((config.get("Hooks") or {}).values()) or state.get("intel_rdt_path")
            init = (int(state["init_process_pid"]), int(state["init_process_start"]))
        except FileNotFoundError:
            return not os.path.exists(directory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False
        if not own_pid_namespace or hooks or _started_at(init[0]) == init[1]:
            return False
        for path in paths:
            if not isinstance(path, str) or not path.startswith(CGROUP_ROOT):
                return False
            try:
                os.rmdir(path)
            except FileNotFoundError:
                continue
            except OSError:
                return False
        shutil.rmtree(directory)
        return True

    async def state(self, container_id: str) -> RuncState:
        return RuncState.model_validate(json.loads(await self._run("state", container_id)))

    async def list_ids(self) -> list[str]:
        if not os.path.isdir(self.state_root):
            return []
        output = await self._run("list", "--format", "json")
        entries = json.loads(output or b"null") or []
        return [entry["id"] for entry in entries]

    async def pause(self, container_id: str) -> None:
        await self._run("pause", container_id)

    async def resume(self, container_id: str) -> None:
        await self._run("resume", container_id)

    async def exec(
        self,
        container_id: str,
        process_file: str,
        *,
        stdin: bytes | None = None,
        detach: bool = False,
        pid_file: str | None = None,
    ) -> tuple[int, bytes, bytes]:
        """``runc exec --process <file>``: (exit code, stdout, stderr) of the process."""
        args = ["--process", process_file]
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", pid_file]
        result = await anyio.run_process(
            [*self.base_args(), "exec", *args, container_id], input=stdin, check=False
        )
        return result.returncode, result.stdout, result.stderr

    async def update(self, container_id: str, resources_file: str) -> None:
        await self._run("update", "--resources", resources_file, container_id)

    async def ps(self, container_id: str) -> list[int]:
        output = await self._run("ps", "--format", "json", container_id)
        return [int(pid) for pid in json.loads(output or b"[]") or []]


async def _release_init(fd: int, pid: int) -> None:
    """Read the init's byte from its ``exec.fifo`` (opened non-blocking on ``fd``), then
    wait until the init closes the fifo as it executes the process (runc's ``start``).

    Error handling: an init that died first (or a fifo closed without its byte) is a
    :class:`RuntimeExitError`, as ``runc start`` reports it; the wait is bounded.
    """
    data = b""
    with anyio.move_on_after(START_TIMEOUT):
        while True:
            # A fifo read before its writer came returns end of file, and poll reports no
            # hang-up until a writer has come and gone: wait for readiness, then read.
            with anyio.move_on_after(0.1) as scope:
                await anyio.wait_readable(fd)
            if scope.cancelled_caught:
                if _started_at(pid) < 0:
                    raise RuntimeExitError("start", 1, "container process is already dead")
                continue
            try:
                chunk = os.read(fd, 64)
            except BlockingIOError:
                continue
            if chunk:
                data += chunk[: 64 - len(data)]
                continue
            if not data:
                raise RuntimeExitError("start", 1, "cannot start an already running container")
            return
    raise RuntimeExitError("start", 1, f"the container's init did not start in {START_TIMEOUT} s")


def _started_at(pid: int) -> int:
    """The start time (clock ticks after boot) of a live ``pid``; -1 if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return -1 if fields[0] == "Z" else int(fields[19])


def signal_number(name: str | int) -> int:
    """``"SIGTERM"``, ``"TERM"``, ``"15"`` or ``15`` -> 15."""
    if isinstance(name, int):
        return name
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = f"SIG{text}"
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise InvalidParameter(
            f"invalid signal: {name}", hint="use a name such as SIGTERM or a number"
        ) from None


def exit_code_of_status(status: int) -> int:
    """A wait status (as os.waitstatus_to_exitcode returns it) -> Docker's exit code."""
    return 128 - status if status < 0 else status
