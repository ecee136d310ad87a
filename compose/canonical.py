"""Phase 3 (per file, after interpolation, before merge): short syntax to long syntax.

Contract (called by compose.load):

    canonicalize(tree) -> tree
        ``tree`` is one file's interpolated top-level mapping (MapNode/SeqNode with
        locations). Returns the same tree with every short syntax turned into the
        long syntax docker compose prints (ports, volumes, depends_on, environment
        and labels lists -> mappings, env_file, secrets/configs, ulimits, healthcheck
        test, devices, extra_hosts, networks list -> mapping, build string -> mapping,
        ...). New nodes carry the location of the short-syntax value they came from.
        Values of the wrong type are left alone (model validation reports them);
        malformed short syntax raises ModelError with located issues.

    resolve_paths(tree, working_dir, home) -> tree
        Relative paths of one file's canonical tree made absolute against
        ``working_dir`` (build.context unless a URL, bind-mount sources, env_file,
        label_file, secrets/configs ``file``, additional_contexts, develop.watch
        paths; ``~`` expanded with ``home``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def canonicalize(tree: Any) -> Any:
    return tree


def resolve_paths(tree: Any, working_dir: Path, home: str | None) -> Any:
    return tree
