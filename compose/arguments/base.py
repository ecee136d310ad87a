"""What every part of the grammar shares: the version, the parser class."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

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
