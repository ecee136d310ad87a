"""docker compose's flags that pycompose cannot honour: parsed, so that they are known, and
refused before anything is done, naming the flag and why (never silently accepted)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

# (command, long flag) -> why pycompose cannot do it
REFUSED: dict[tuple[str, str], str] = {
    ("build", "--builder"): "the engine builds with its own classic builder only",
    ("build", "--memory"): "the engine's builder sets no memory limit on a build step",
    ("build", "--provenance"): "the engine's builder makes no attestations",
    ("build", "--sbom"): "the engine's builder makes no attestations",
    ("build", "--ssh"): "the engine's builder forwards no SSH agent into a build",
    ("build", "--check"): "the engine's builder has no build checks (a BuildKit feature)",
    ("publish", "--app"): "image references are published as written; no app bundle is made",
    ("publish", "--resolve-image-digests"): "pin the images in the file (image: name@sha256:...)",
    ("publish", "--oci-version"): "pycompose publishes OCI 1.1 artifacts only",
}


class _Refuse(argparse.Action):
    def __init__(self, *args: Any, reason: str, **kwargs: Any) -> None:
        self.reason = reason
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} is not supported: {self.reason}")


def refuse(parser: argparse.ArgumentParser, command: str, *names: str, value: bool = False) -> None:
    """Add docker compose's flag ``names`` to ``parser``, refused with its reason."""
    long = next(name for name in names if name.startswith("--"))
    reason = REFUSED[(command, long)]
    parser.add_argument(
        *names,
        action=_Refuse,
        nargs=None if value else 0,
        reason=reason,
        default=argparse.SUPPRESS,
        help=f"not supported: {reason}",
    )
