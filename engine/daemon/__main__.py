"""``python -m engine.daemon --socket PATH --data-root DIR``: the engine daemon.

Start-up: must run as root -> lock ``<data root>/engine.lock`` (one engine per data root;
the file holds the pid) -> open the backend (repair, re-adopt) -> listen on the socket
(mode 0660, owner root, group ``--group`` if given) -> serve until SIGTERM/SIGINT.

Stopping leaves the containers running (Docker's live-restore): the next engine on the
same data root re-adopts them. The socket is removed on the way out.

Exit codes: 0 after a signal, 1 on a start-up error (message on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import grp
import hashlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import anyio
from anyio.abc import SocketListener, TaskStatus

from engine.api.client import DEFAULT_DATA_ROOT, DEFAULT_SOCKET, socket_from_host
from engine.daemon.backend import EngineBackend
from engine.daemon.routes import Router
from engine.daemon.server import serve
from engine.network import settings_for_instance

log = logging.getLogger("engine.daemon")

DEFAULT_EXEC_ROOT = "/run/pycompose"


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.daemon", description=__doc__)
    parser.add_argument(
        "--socket",
        default=os.environ.get("PYCOMPOSE_HOST", DEFAULT_SOCKET),
        help="unix socket to listen on (PYCOMPOSE_HOST; default %(default)s)",
    )
    parser.add_argument(
        "--data-root",
        default=os.environ.get("PYCOMPOSE_DATA_ROOT", DEFAULT_DATA_ROOT),
        help="where images, containers and state live (PYCOMPOSE_DATA_ROOT)",
    )
    parser.add_argument(
        "--exec-root",
        default=os.environ.get("PYCOMPOSE_EXEC_ROOT", DEFAULT_EXEC_ROOT),
        help="runtime state (runc, attach sockets) (PYCOMPOSE_EXEC_ROOT)",
    )
    parser.add_argument("--group", default="", help="group owning the socket (mode 0660)")
    parser.add_argument(
        "--no-network",
        action="store_true",
        default=os.environ.get("PYCOMPOSE_NO_NETWORK", "") not in ("", "0"),
        help="no bridge networks: containers get loopback only (host/none modes still work)",
    )
    parser.add_argument(
        "--network-host-netns",
        default=os.environ.get("PYCOMPOSE_NETWORK_NETNS") or None,
        help="treat this network namespace as the host (tests: bridges and rules go there)",
    )
    parser.add_argument(
        "--resolv-conf", default="/etc/resolv.conf", help="the host's resolver configuration"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


@contextlib.contextmanager
def engine_lock(data_root: Path) -> Iterator[IO[str]]:
    """Hold ``<data root>/engine.lock`` for the engine's life; StartupError if taken."""
    data_root.mkdir(parents=True, exist_ok=True)
    handle = open(data_root / "engine.lock", "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise StartupError(
                f"another engine (pid {holder}) already uses the data root {data_root}; "
                "stop it first (pycompose engine stop) or choose another --data-root"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield handle
    finally:
        handle.close()


async def run(args: argparse.Namespace) -> None:
    data_root = Path(args.data_root)
    exec_root = Path(args.exec_root)
    socket_path = socket_from_host(args.socket)
    group_id = -1
    if args.group:
        try:
            group_id = grp.getgrnam(args.group).gr_gid
        except KeyError as exc:
            raise StartupError(f"no such group {args.group!r} (--group)") from exc
    Path(socket_path).parent.mkdir(parents=True, exist_ok=True)
    network_settings = None
    if not args.no_network:
        # the default engine keeps the plain names; an engine on another data root (tests,
        # a second engine) names its bridges, veths and nftables tables apart
        instance = (
            ""
            if data_root == Path(DEFAULT_DATA_ROOT)
            else hashlib.sha256(str(data_root).encode()).hexdigest()[:6]
        )
        network_settings = settings_for_instance(
            instance,
            run_dir=exec_root / "network",
            host_netns=args.network_host_netns,
            resolv_conf=Path(args.resolv_conf),
        )
    async with (
        anyio.create_task_group() as task_group,
        EngineBackend.open(data_root, exec_root, task_group, network_settings) as backend,
    ):
        listener = await anyio.create_unix_listener(socket_path, mode=0o660)
        os.chown(socket_path, 0, group_id)
        try:
            await task_group.start(_serve, Router(backend), listener)
            log.info("engine listening on %s (data root %s)", socket_path, data_root)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for received in signals:
                    log.info("signal %s: stopping (containers keep running)", received)
                    break
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)
            task_group.cancel_scope.cancel()


async def _serve(
    router: Router, listener: SocketListener, *, task_status: TaskStatus[None]
) -> None:
    await serve(router, listener, task_status=task_status)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pyroute2").setLevel(logging.WARNING)  # one line per netlink message
    if os.geteuid() != 0:
        print(
            "error: the engine must run as root (it mounts file systems and creates "
            "namespaces and cgroups)\n    hint: run it with sudo, or as the root user",
            file=sys.stderr,
        )
        return 1
    try:
        with engine_lock(Path(args.data_root)):
            anyio.run(run, args)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
