"""``pycompose kube generate|play|down|apply|delete``: the disk, the engine and the
cluster around :mod:`compose.kube`."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import Any

from compose.errors import ComposeError, Issue, PlanError
from compose.kube.generate import Bundle, GenerateOptions, HostFile, generate
from compose.load import LoadResult
from compose.output import yaml_text
from compose.source import location_of

# a ConfigMap or Secret holds at most 1 MiB: a larger source cannot become one
MAX_SOURCE_BYTES = 1 << 20


class LocalFiles:
    """The sources ``kube generate`` reads: config/secret files and bind-mounted
    directories, bounded, without following symlinks below a directory."""

    def read_bytes(self, path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                content = handle.read(MAX_SOURCE_BYTES + 1)
        except OSError as error:
            raise PlanError(f"cannot read {path}: {error.strerror}") from None
        if len(content) > MAX_SOURCE_BYTES:
            raise PlanError(
                f"{path} is larger than 1 MiB, the most a ConfigMap or Secret holds",
                hint="mount it from a volume instead",
            )
        return content

    def small_tree(self, path: str, max_files: int, max_bytes: int) -> list[HostFile] | None:
        if not os.path.isdir(path) or os.path.islink(path):
            return None
        found: list[HostFile] = []
        total = 0
        for directory, subdirectories, names in os.walk(path, followlinks=False):
            subdirectories.sort()
            for name in sorted(names):
                full = os.path.join(directory, name)
                info = os.lstat(full)
                if not stat.S_ISREG(info.st_mode):
                    continue  # symlinks, sockets: nothing a ConfigMap can hold
                total += info.st_size
                if len(found) >= max_files or total > max_bytes:
                    return None
                with open(full, "rb") as handle:
                    content = handle.read(max_bytes + 1)
                relative = os.path.relpath(full, path)
                found.append(HostFile(relative, stat.S_IMODE(info.st_mode), content))
        return found


class StrictError(ComposeError):
    """``kube generate --strict`` met keys that Kubernetes cannot carry exactly."""


def generate_options(args: argparse.Namespace) -> GenerateOptions:
    return GenerateOptions(
        services=tuple(args.services),
        service_type=args.service_type,
        volume_size=args.volume_size,
    )


def manifests_text(objects: list[dict[str, Any]]) -> str:
    return "".join("---\n" + yaml_text(obj) for obj in objects)


def write_bundle(bundle: Bundle, destination: str) -> None:
    directory = Path(destination)
    directory.mkdir(parents=True, exist_ok=True)
    width = len(str(len(bundle.objects)))
    for number, obj in enumerate(bundle.objects):
        name = f"{number:0{width}d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        (directory / name).write_text(yaml_text(obj), encoding="utf-8")


def cmd_kube_generate(loaded: LoadResult, args: argparse.Namespace) -> int:
    bundle = generate(loaded, generate_options(args), LocalFiles())
    if args.strict:
        lost = bundle.approximations()
        if lost:
            raise StrictError(
                Issue(
                    f"{e.verdict} on Kubernetes: {e.text}",
                    location_of(loaded.tree, e.key),
                    e.key,
                    hint="drop --strict to accept it (kube generate --explain lists every key)",
                )
                for e in lost
            )
    if args.explain:
        sys.stdout.write("".join(e.line() + "\n" for e in bundle.explanations))
        if args.output and args.output != "-":
            write_bundle(bundle, args.output)
        return 0
    if args.output and args.output != "-":
        write_bundle(bundle, args.output)
        print(f"wrote {len(bundle.objects)} objects to {args.output}", file=sys.stderr)
        return 0
    sys.stdout.write(manifests_text(bundle.objects))
    return 0


def read_manifests(paths: list[str]) -> list[Any]:
    from compose.source import parse_documents

    documents: list[Any] = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise PlanError(f"cannot read {path}: {error.strerror}") from None
        documents.extend(parse_documents(text, "<stdin>" if path == "-" else path))
    return documents


def played_project(args: argparse.Namespace) -> LoadResult:
    """The manifests of ``kube play``/``kube down`` as a loaded Compose project."""
    from compose.kube.play import to_compose
    from compose.load_text import load_from_text

    played = to_compose(read_manifests(args.manifests), args.project_name or None)
    for warning in played.warnings:
        print(f"WARN: {warning}", file=sys.stderr)
    return load_from_text(
        yaml_text(_escape_dollars(played.tree)),
        environment=played.environment,
        name=played.name,
        working_dir=Path.cwd(),
    )


def run_kube_command(args: argparse.Namespace) -> int:
    if args.kube_command in ("play", "down"):
        return _play_or_down(args)
    return run_cluster_command(args, read_manifests(args.manifests))


def project_objects(loaded: LoadResult) -> list[dict[str, Any]]:
    """The objects ``kube generate`` makes of the project, with its default options."""
    return generate(loaded, GenerateOptions(), LocalFiles()).objects


def run_cluster_command(args: argparse.Namespace, documents: list[Any]) -> int:
    from compose.kube import cluster

    if args.kube_command == "apply":
        return cluster.apply(documents, args)
    return cluster.delete(documents, args)


def _play_or_down(args: argparse.Namespace) -> int:
    import anyio

    from compose.arguments import build_parser
    from compose.commands import Terminal, run_stack_command

    loaded = played_project(args)
    name = loaded.project.name
    if args.kube_command == "play":
        argv = ["-p", name, "up", "-d", "--wait", "--remove-orphans"]
        argv += ["--wait-timeout", str(args.wait_timeout)]
    else:
        argv = ["-p", name, "down", "--remove-orphans", *(["-v"] if args.volumes else [])]
    stack_args = build_parser().parse_args(argv)
    terminal = Terminal(progress=args.progress, ansi=args.ansi)
    return int(anyio.run(run_stack_command, loaded, stack_args, terminal))


def _escape_dollars(value: Any) -> Any:
    """The manifests' strings as literal text for the loader, which interpolates ``$``."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape_dollars(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(item) for item in value]
    return value
