"""``pycompose image pull|push|ls|inspect|tag|rm|import|save|prune|mount|umount``.

Until the daemon exists these act on the store directly (``--data-root``, or the
``PYCOMPOSE_DATA_ROOT`` environment variable, default ``/var/lib/pycompose``).
``register(subparsers)`` adds the ``image`` command to the main parser;
``await run(args)`` runs it and returns the exit status.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from engine.errors import EngineError
from engine.images.manager import ImageService
from engine.images.progress import Progress as ProgressEvent
from engine.images.reference import parse_reference
from engine.images.store import DEFAULT_DATA_ROOT, ImageRecord


def _human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g}{unit}"
        size /= 1000
    return f"{size:.3g}TB"


def _since(created: str | None, now: datetime.datetime | None = None) -> str:
    """``2 years ago``, as ``docker images`` shows the creation time."""
    if not created:
        return "N/A"
    try:
        when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    seconds = ((now or datetime.datetime.now(datetime.UTC)) - when).total_seconds()
    for unit, length in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("week", 7 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``image`` and its subcommands to an argparse subparsers object."""
    image: argparse.ArgumentParser = subparsers.add_parser("image", help="manage images")
    image.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("PYCOMPOSE_DATA_ROOT", DEFAULT_DATA_ROOT)),
        help="engine data root (env PYCOMPOSE_DATA_ROOT; default %(default)s)",
    )
    image.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="reach this registry over plain HTTP (repeatable)",
    )
    image.add_argument("--docker-config", type=Path, help="credentials file (config.json)")
    # the same options after the subcommand (``image ls --data-root X``); SUPPRESS keeps
    # the value given before it when they are absent
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", type=Path, default=argparse.SUPPRESS)
    common.add_argument(
        "--insecure-registry", action="append", default=argparse.SUPPRESS, metavar="HOST[:PORT]"
    )
    common.add_argument("--docker-config", type=Path, default=argparse.SUPPRESS)
    commands = image.add_subparsers(dest="image_command", required=True)

    pull = commands.add_parser("pull", parents=[common], help="pull an image from a registry")
    pull.add_argument("name")
    pull.add_argument("--platform", help="os/arch[/variant], default: this host's")
    pull.add_argument("-q", "--quiet", action="store_true")

    push = commands.add_parser("push", parents=[common], help="push an image to a registry")
    push.add_argument("name")
    push.add_argument("--chunk-size", type=int, help="upload in chunks of this many bytes")
    push.add_argument("-q", "--quiet", action="store_true")

    ls = commands.add_parser("ls", parents=[common], aliases=["list"], help="list images")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image IDs")
    ls.add_argument("--digests", action="store_true")

    inspect = commands.add_parser("inspect", parents=[common], help="show images in detail (JSON)")
    inspect.add_argument("names", nargs="+")

    tag = commands.add_parser("tag", parents=[common], help="add a tag to an image")
    tag.add_argument("source")
    tag.add_argument("target")

    rm = commands.add_parser("rm", parents=[common], aliases=["remove"], help="remove images")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")

    load = commands.add_parser(
        "import",
        parents=[common],
        aliases=["load"],
        help="load a docker save archive or an OCI layout (dir or tar)",
    )
    load.add_argument("path", type=Path)
    load.add_argument("-t", "--tag", help="also tag the (single) loaded image")

    save = commands.add_parser(
        "save", parents=[common], help="write images to a docker-loadable/OCI tar"
    )
    save.add_argument("names", nargs="+")
    save.add_argument("-o", "--output", type=Path, required=True)

    prune = commands.add_parser(
        "prune", parents=[common], help="remove dangling (or, with -a, all unused) images"
    )
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask (never asks)")

    mount = commands.add_parser(
        "mount", parents=[common], help="mount an image read-only; print the path"
    )
    mount.add_argument("name")
    umount = commands.add_parser(
        "umount", parents=[common], aliases=["unmount"], help="unmount an image"
    )
    umount.add_argument("name")
    return image


@contextmanager
def _progress_bars(quiet: bool) -> Iterator[Any]:
    """A progress callback drawing one bar per layer (on stderr)."""
    if quiet:
        yield lambda _event: None
        return
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    bars = Progress(
        TextColumn("{task.fields[layer]}"),
        TextColumn("{task.description:<20}"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def on_event(event: ProgressEvent) -> None:
        if not event.id:
            console.print(event.status, markup=False)
            return
        if event.id not in tasks:
            tasks[event.id] = bars.add_task(event.status, layer=event.id, total=event.total or None)
        bars.update(
            tasks[event.id],
            description=event.status,
            completed=event.current,
            total=event.total or None,
        )

    with bars:
        yield on_event


def _rows(record: ImageRecord) -> list[dict[str, str]]:
    created = record.created or ""
    base = {
        "ID": record.id[7:19],
        "CreatedAt": created,
        "CreatedSince": _since(created),
        "Size": _human_size(record.size),
    }
    rows = []
    for tag in record.repo_tags or ("<none>:<none>",):
        if tag == "<none>:<none>":
            repository, tag_name = "<none>", "<none>"
        else:
            ref = parse_reference(tag)
            repository, tag_name = ref.familiar_name, ref.tag or "<none>"
        digest = next((d.rpartition("@")[2] for d in record.repo_digests), "<none>")
        rows.append({"Repository": repository, "Tag": tag_name, "Digest": digest, **base})
    return rows


async def run(args: argparse.Namespace) -> int:
    """Run ``pycompose image <command>``; print results; return the exit status."""
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        async with ImageService(
            args.data_root,
            docker_config=args.docker_config,
            insecure_registries=args.insecure_registry,
        ) as images:
            return await _dispatch(images, args, out)
    except EngineError as exc:
        err.print(f"Error: {exc.render()}", markup=False)
        return 1


async def _dispatch(images: ImageService, args: argparse.Namespace, out: Console) -> int:
    command = args.image_command
    if command == "pull":
        with _progress_bars(args.quiet) as on_event:
            record = await images.pull(args.name, platform=args.platform, progress=on_event)
        out.print(parse_reference(args.name).familiar() if args.quiet else record.id)
    elif command == "push":
        with _progress_bars(args.quiet) as on_event:
            digest = await images.push(args.name, progress=on_event, chunk_size=args.chunk_size)
        out.print(digest)
    elif command in ("ls", "list"):
        records = images.images()
        if args.quiet:
            for record in records:
                out.print(record.id[7:19])
        elif args.format == "json":
            for record in records:
                for row in _rows(record):
                    sys.stdout.write(json.dumps(row) + "\n")
        else:
            columns = [
                "Repository",
                "Tag",
                *(["Digest"] if args.digests else []),
                "ID",
                "CreatedSince",
                "Size",
            ]
            rows = [row for record in records for row in _rows(record)]
            widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
            header = {
                "Repository": "REPOSITORY",
                "Tag": "TAG",
                "Digest": "DIGEST",
                "ID": "IMAGE ID",
                "CreatedSince": "CREATED",
                "Size": "SIZE",
            }
            for row in [header, *rows]:
                out.print(
                    "   ".join(row[c].ljust(widths[c]) for c in columns).rstrip(), markup=False
                )
    elif command == "inspect":
        sys.stdout.write(json.dumps([images.inspect(n) for n in args.names], indent=4) + "\n")
    elif command == "tag":
        images.tag(args.source, args.target)
    elif command in ("rm", "remove"):
        for name in args.names:
            for entry in await images.remove(name, force=args.force):
                for key, value in entry.items():
                    out.print(f"{key}: {value}", markup=False)
    elif command in ("import", "load"):
        for record in await images.load(args.path, tag=args.tag):
            for tag in record.repo_tags:
                out.print(f"Loaded image: {parse_reference(tag).familiar()}", markup=False)
            if not record.repo_tags:
                out.print(f"Loaded image ID: {record.id}")
    elif command == "save":
        await images.save(args.names, args.output)
    elif command == "prune":
        report = await images.prune(all_images=args.all)
        for entry in report:
            for key, value in entry.items():
                out.print(f"{key}: {value}", markup=False)
    elif command == "mount":
        out.print(str(await images.mount(args.name)), markup=False)
    elif command in ("umount", "unmount"):
        await images.umount(args.name)
    return 0
