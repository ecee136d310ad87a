"""The image commands: the services' ``pull`` and ``push``, and ``pycompose image ...``.

``pycompose image ls|inspect|tag|rm|pull|push|import|save|prune`` act on the engine's
images through its API (``/images/json``, ``/images/{name}/json``, ``/images/{name}/tag``,
``DELETE /images/{name}``, ``/images/create``, ``/images/{name}/push``, ``/images/load``,
``/images/get``, ``/images/prune``) and print what ``docker image`` prints.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from compose.apply import ProgressEvent
from compose.commands.session import Session
from compose.commands.terminal import print_table
from compose.errors import PlanError
from compose.units import size_text
from engine.api.errors import EngineError
from engine.api.models import ImageSummary

# --- the services' images ----------------------------------------------------------------------


async def _transfer_service_images(
    session: Session, args: argparse.Namespace, *, push: bool
) -> int:
    """``pull`` (images of services without a build-only section) or ``push`` (services
    that name an image), with progress; failures end it unless ``--ignore-*-failures``."""
    desired = session.desired
    doing, done = ("Pushing", "Pushed") if push else ("Pulling", "Pulled")
    ignore = args.ignore_push_failures if push else args.ignore_pull_failures
    if args.quiet:
        session.terminal.progress = "quiet"
    progress = session.terminal.progress_display()
    failures = []
    wanted = list(args.services)
    if wanted and args.include_deps:
        wanted = desired.graph.with_dependencies(wanted)
    with progress.running(doing):
        for service in desired.services.values():
            if wanted and service.name not in wanted:
                continue
            if push and not service.config.get("image"):
                continue
            if not push and service.config.get("build") and not service.config.get("image"):
                continue
            if not push and args.ignore_buildable and service.config.get("build"):
                continue
            if not push and args.policy == "missing" and await _present(session, service.image):
                continue
            progress(ProgressEvent("Image", service.image, doing))
            stream = (
                session.client.image_push(service.image)
                if push
                else session.client.image_pull(
                    service.image, platform=service.service.platform or None
                )
            )
            try:
                async for message in stream:
                    if message.get("id") and message.get("status"):
                        detail = f"{message['id']}: {message['status']}"
                        progress(ProgressEvent("Image", service.image, doing, detail))
            except EngineError as error:
                failures.append(error)
                progress(ProgressEvent("Image", service.image, "Error", str(error), error=True))
                if not ignore:
                    raise
                continue
            progress(ProgressEvent("Image", service.image, done, done=True))
    return 1 if failures and not ignore else 0


async def _present(session: Session, image: str) -> bool:
    try:
        await session.client.image_inspect(image)
    except EngineError:
        return False
    return True


async def cmd_pull(session: Session, args: argparse.Namespace) -> int:
    """Pull the services' images (not those only built from a ``build:`` section)."""
    return await _transfer_service_images(session, args, push=False)


async def cmd_push(session: Session, args: argparse.Namespace) -> int:
    """Push the images of the services that name one."""
    return await _transfer_service_images(session, args, push=True)


COMMANDS = {"pull": cmd_pull, "push": cmd_push}


# --- pycompose image ... -----------------------------------------------------------------------


def since(created: int, now: datetime.datetime | None = None) -> str:
    """``2 years ago``, as ``docker images`` shows the creation time (0: unknown)."""
    if not created:
        return "N/A"
    when = datetime.datetime.fromtimestamp(created, datetime.UTC)
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


def split_tag(reference: str) -> tuple[str, str]:
    """``repo:tag`` as (repository, tag); the tag is ``latest`` when absent."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = name.rpartition(":")
        return repository, tag
    return name, "" if digest else "latest"


def familiar(reference: str) -> str:
    """A reference as docker prints it: no ``docker.io/library/``, a tag when none is given."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            reference = reference[len(prefix) :]
            break
    repository, tag = split_tag(reference)
    if "@" in reference:
        return reference
    return f"{repository}:{tag}"


def image_rows(image: ImageSummary) -> list[dict[str, str]]:
    """The rows of ``image ls`` for one image: one per tag (``<none>`` when untagged)."""
    created = (
        datetime.datetime.fromtimestamp(image.Created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if image.Created
        else ""
    )
    base = {
        "ID": image.Id.removeprefix("sha256:")[:12],
        "CreatedAt": created,
        "CreatedSince": since(image.Created),
        "Size": size_text(image.Size),
    }
    digest = next((d.rpartition("@")[2] for d in image.RepoDigests), "<none>")
    rows = []
    for reference in image.RepoTags or ["<none>:<none>"]:
        repository, tag = (
            ("<none>", "<none>") if reference == "<none>:<none>" else split_tag(reference)
        )
        rows.append({"Repository": repository, "Tag": tag, "Digest": digest, **base})
    return rows


@contextmanager
def _layer_bars(quiet: bool) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A callback drawing one progress bar per layer (on stderr) from the engine's messages."""
    if quiet:
        yield lambda _message: None
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

    def on_message(message: dict[str, Any]) -> None:
        status = str(message.get("status") or "")
        layer = message.get("id")
        if not layer:
            if status:
                console.print(status, markup=False)
            return
        detail = message.get("progressDetail") or {}
        total = detail.get("total") or None
        if layer not in tasks:
            tasks[layer] = bars.add_task(status, layer=layer, total=total)
        bars.update(
            tasks[layer], description=status, completed=detail.get("current") or 0, total=total
        )

    with bars:
        yield on_message


async def _archive_chunks(path: Path) -> AsyncIterator[bytes]:
    """The archive to load: a tar file as it is, an OCI layout directory tarred on the way."""
    if path.is_dir():
        buffer = io.BytesIO()

        def pack() -> None:
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for entry in sorted(path.iterdir()):
                    tar.add(entry, arcname=entry.name)

        await anyio.to_thread.run_sync(pack)
        yield buffer.getvalue()
        return
    try:
        handle = await anyio.open_file(path, "rb")
    except OSError as exc:
        raise PlanError(f"{path}: {exc.strerror or exc}") from exc
    async with handle:
        while chunk := await handle.read(1 << 20):
            yield chunk


def _print_items(items: list[dict[str, Any]], out: Any) -> None:
    for item in items:
        for key, value in item.items():
            if value is not None:
                print(f"{key}: {value}", file=out)


async def _image_ls(session: Session, args: argparse.Namespace) -> None:
    out = session.terminal.out
    images = await session.client.image_list()
    if args.quiet:
        for image in images:
            print(image.Id.removeprefix("sha256:")[:12], file=out)
        return
    rows = [row for image in images for row in image_rows(image)]
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return
    columns = ["Repository", "Tag", *(["Digest"] if args.digests else []), "ID", "CreatedSince"]
    header = {
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "Digest": "DIGEST",
        "ID": "IMAGE ID",
        "CreatedSince": "CREATED",
        "Size": "SIZE",
    }
    columns.append("Size")
    print_table([[row[c] for c in columns] for row in [header, *rows]], out)


async def _image_pull(session: Session, args: argparse.Namespace) -> None:
    with _layer_bars(args.quiet) as on_message:
        async for message in session.client.image_pull(args.name, platform=args.platform):
            on_message(message)
    if args.quiet:
        print(familiar(args.name), file=session.terminal.out)
    else:
        print((await session.client.image_inspect(args.name)).Id, file=session.terminal.out)


async def _image_push(session: Session, args: argparse.Namespace) -> None:
    digest = ""
    with _layer_bars(args.quiet) as on_message:
        async for message in session.client.image_push(args.name):
            aux = message.get("aux") or {}
            digest = aux.get("Digest") or digest
            if not aux:
                on_message(message)
    print(digest, file=session.terminal.out)


async def _image_load(session: Session, args: argparse.Namespace) -> None:
    loaded: list[str] = []
    async for message in session.client.image_load(_archive_chunks(args.path)):
        text = str(message.get("stream") or message.get("status") or "").strip()
        if text:
            print(text, file=session.terminal.out)
        for prefix in ("Loaded image: ", "Loaded image ID: "):
            if text.startswith(prefix):
                loaded.append(text.removeprefix(prefix))
    if args.tag:
        if len(loaded) != 1:
            raise PlanError(f"--tag needs an archive of one image; {args.path} held {len(loaded)}")
        repository, tag = split_tag(args.tag)
        await session.client.image_tag(loaded[0], repository, tag)


async def _image_save(session: Session, args: argparse.Namespace) -> None:
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        async with await anyio.open_file(partial, "wb") as handle:
            async for chunk in session.client.image_save(args.names):
                await handle.write(chunk)
        await anyio.Path(partial).rename(args.output)
    finally:
        await anyio.Path(partial).unlink(missing_ok=True)


async def cmd_image(session: Session, args: argparse.Namespace) -> int:
    """``pycompose image <command>`` (see the module docstring)."""
    client, out = session.client, session.terminal.out
    command = args.image_command
    if command in ("ls", "list"):
        await _image_ls(session, args)
    elif command == "pull":
        await _image_pull(session, args)
    elif command == "push":
        await _image_push(session, args)
    elif command == "inspect":
        found = []
        for name in args.names:
            found.append((await client.request("GET", f"/images/{name}/json")).json())
        out.write(json.dumps(found, indent=4) + "\n")
    elif command == "tag":
        repository, tag = split_tag(args.target)
        await client.image_tag(args.source, repository, tag)
    elif command in ("rm", "remove"):
        for name in args.names:
            removed = await client.image_remove(name, force=args.force)
            _print_items([item.model_dump() for item in removed], out)
    elif command in ("import", "load"):
        await _image_load(session, args)
    elif command == "save":
        await _image_save(session, args)
    elif command == "prune":
        report = await client.image_prune(filters={"dangling": ["false" if args.all else "true"]})
        _print_items(list(report.get("ImagesDeleted") or []), out)
    return 0
