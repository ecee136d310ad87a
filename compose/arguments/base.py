"""What every part of the grammar shares: the version, the parser class."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

VERSION = "0.1.0"

# commands that act on the engine rather than on a project: they take no project flags
ENGINE_COMMANDS = {
    "image": "manage images (pull, push, ls, inspect, tag, rm, save, ...)",
    "engine": "control the engine daemon (start, stop, status, logs)",
}


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"pycompose: error: {message}\n")


class GoBool(argparse.Action):
    """A boolean flag as docker's Go CLI reads it: ``--flag`` sets it, ``--flag=false``
    (or ``=0``) clears it; its default may be true (``ps --orphans``)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        super().__init__(option_strings, dest, nargs="?", const="true", **kwargs)
        self.metavar = ""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        text = str(values).lower()
        if text not in ("true", "false", "1", "0", "t", "f"):
            parser.error(f"invalid boolean value {values!r} for {option_string}: true or false")
        setattr(namespace, self.dest, text in ("true", "1", "t"))
