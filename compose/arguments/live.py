"""The commands that stay with the terminal: ``attach`` and ``watch``."""

from __future__ import annotations

import argparse
from typing import Any

from compose.arguments.base import GoBool


def add_live_commands(commands: Any) -> None:
    attach = commands.add_parser("attach", help="attach to a service's running container")
    attach.add_argument("service")
    attach.add_argument("--index", type=int, default=1, help="which replica (default 1)")
    attach.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    attach.add_argument(
        "--sig-proxy",
        action=GoBool,
        default=True,
        help="pass the signals pycompose gets on to the container (default true)",
    )
    attach.add_argument(
        "--detach-keys", metavar="KEYS", help="the keys that detach (default ctrl-p,ctrl-q)"
    )

    watch = commands.add_parser(
        "watch", help="sync, restart or rebuild services when their files change"
    )
    watch.add_argument("services", nargs="*", metavar="SERVICE")
    watch.add_argument(
        "--no-up", action="store_true", help="do not build and start the services first"
    )
    watch.add_argument(
        "--prune",
        action=GoBool,
        default=True,
        help="remove the images a rebuild leaves dangling (default true)",
    )
    watch.add_argument("--quiet", action="store_true", help="hide build output")
    watch.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="keep watching in a background process after the command returns",
    )
    watch.add_argument("--status", action="store_true", help="show the project's detached watcher")
    watch.add_argument("--stop", action="store_true", help="stop the project's detached watcher")
    watch.add_argument(
        "--detached-child", dest="child", action="store_true", help=argparse.SUPPRESS
    )
