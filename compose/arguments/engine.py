"""The commands on the engine itself: ``pycompose image ...`` and ``pycompose engine ...``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose.arguments.base import ENGINE_COMMANDS, ArgumentParser

if TYPE_CHECKING:
    from pathlib import Path


def _path(text: str) -> Path:
    """A path argument, as ``type=Path`` would give, without importing pathlib into every
    command's start (argparse calls this only when ``image load``/``save`` parse)."""
    from pathlib import Path

    return Path(text)


def add_image_commands(commands: Any) -> None:
    """``pycompose image ...``: the engine's images, through its API."""
    image = commands.add_parser("image", help=ENGINE_COMMANDS["image"])
    actions = image.add_subparsers(
        dest="image_command", metavar="COMMAND", required=True, parser_class=ArgumentParser
    )

    pull = actions.add_parser("pull", help="pull an image from a registry")
    pull.add_argument("name")
    pull.add_argument("--platform", help="os/arch[/variant], default: the engine's")
    pull.add_argument("-q", "--quiet", action="store_true")

    push = actions.add_parser("push", help="push an image to a registry")
    push.add_argument("name")
    push.add_argument("-q", "--quiet", action="store_true")

    ls = actions.add_parser("ls", aliases=["list"], help="list images")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image IDs")
    ls.add_argument("--digests", action="store_true")

    actions.add_parser("inspect", help="show images in detail (JSON)").add_argument(
        "names", nargs="+"
    )

    tag = actions.add_parser("tag", help="add a tag to an image")
    tag.add_argument("source")
    tag.add_argument("target")

    rm = actions.add_parser("rm", aliases=["remove"], help="remove images")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")

    load = actions.add_parser(
        "import", aliases=["load"], help="load a docker save archive or an OCI layout (dir or tar)"
    )
    load.add_argument("path", type=_path)
    load.add_argument("-t", "--tag", help="also tag the (single) loaded image")

    save = actions.add_parser("save", help="write images to a docker-loadable tar")
    save.add_argument("names", nargs="+")
    save.add_argument("-o", "--output", type=_path, required=True)

    prune = actions.add_parser("prune", help="remove dangling (or, with -a, all unused) images")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask (never asks)")


def add_engine_commands(commands: Any) -> None:
    """``pycompose engine start|stop|status|logs``: the engine daemon as a process."""
    engine = commands.add_parser("engine", help=ENGINE_COMMANDS["engine"])
    engine.add_argument("--host", default=None, help="engine socket (PYCOMPOSE_HOST)")
    engine.add_argument("--data-root", default=None, help="engine data (PYCOMPOSE_DATA_ROOT)")
    actions = engine.add_subparsers(
        dest="engine_action", metavar="ACTION", required=True, parser_class=ArgumentParser
    )
    start = actions.add_parser("start", help="start the engine if it is not running")
    start.add_argument("--timeout", type=float, default=30.0)
    stop = actions.add_parser("stop", help="stop the engine (containers keep running)")
    stop.add_argument("--timeout", type=float, default=30.0)
    actions.add_parser("status", help="whether the engine runs, and what it holds")
    logs = actions.add_parser("logs", help="the engine's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int, default=50)
    for action, text in (
        ("install-service", "write a systemd unit that starts the engine at boot, enable it"),
        ("uninstall-service", "disable and remove that systemd unit"),
    ):
        service = actions.add_parser(action, help=text)
        service.add_argument("--unit-dir", default="/etc/systemd/system")
        service.add_argument("--name", default="pycompose-engine", help="the unit's name")
        service.add_argument(
            "--no-enable", action="store_true", help="only write/remove the file (no systemctl)"
        )
