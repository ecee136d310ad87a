"""Images: ``/images/...`` and ``/build`` over the image store (engine.images, engine.build).

Pulls and pushes run in the engine's task group and report their progress as Docker's
JSON message stream; an error before the first progress (an unknown tag, refused
credentials) is still raised before the answer starts, so the route answers it as an HTTP
error, as dockerd does. Loads, saves and build contexts are spooled to files under the
data root, never held in memory whole.

Registry credentials: a client's ``X-Registry-Auth`` (username and password, as
``docker`` sends them from its login) is used for that request only: its pull or push
talks to the registry with those credentials and a token cache of its own, which no other
request sees. A request without credentials (``{}``, as ``docker`` sends when not logged
in) uses the engine's own Docker config (root's ``~/.docker/config.json``, or
``DOCKER_CONFIG``). Identity or registry tokens in the header are refused as unsupported.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from engine.api import models as api
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.shapes import familiar
from engine.daemon.backend_api import Filters
from engine.daemon.networking import Networking
from engine.errors import EngineError, InvalidParameter, NotFound, Unsupported
from engine.images import ImageService, Progress
from engine.images.auth import Credentials

if TYPE_CHECKING:
    from engine.build import BuildOptions

log = logging.getLogger(__name__)

ProgressWork = Callable[[Callable[[Progress], None]], Awaitable[list[api.ProgressMessage]]]
"""An image operation: it reports progress through the callback and returns the final
messages of its stream."""


class Images:
    """The engine's images, in Docker's shapes."""

    def __init__(
        self,
        images: ImageService,
        events: EventSink,
        task_group: TaskGroup,
        data_root: Path,
        networking: Networking | None = None,
    ) -> None:
        self.images = images
        self.events = events
        self.task_group = task_group
        self.data_root = data_root
        self.networking = networking

    async def matching(self, *, all: bool, filters: Filters) -> list[api.ImageSummary]:
        result = []
        for image in self.images.images():
            config: dict[str, Any] = {}
            with contextlib.suppress(EngineError, OSError, ValueError):
                config = self.images.config(image).get("config") or {}
            labels = config.get("Labels") or {}
            if not api.labels_match(labels, filters.get("label", ())):
                continue
            created = 0
            if image.created:
                with contextlib.suppress(ValueError):
                    created = int(
                        datetime.fromisoformat(image.created.replace("Z", "+00:00")).timestamp()
                    )
            tags = [familiar(t) for t in image.repo_tags]
            if "dangling" in filters and (not tags) != _flag(filters["dangling"]):
                continue
            if "reference" in filters and not any(
                t == ref or t.split(":")[0] == ref for ref in filters["reference"] for t in tags
            ):
                continue
            result.append(
                api.ImageSummary(
                    Id=image.id,
                    RepoTags=tags,
                    RepoDigests=[familiar(d) for d in image.repo_digests],
                    Created=created,
                    Size=image.size,
                    VirtualSize=image.size,
                    Labels=labels,
                )
            )
        return result

    async def inspect(self, name: str) -> api.ImageInspect:
        try:
            data = self.images.inspect(name)
        except NotFound as exc:
            raise NotFound(f"no such image: {name}: No such image: {name}") from exc
        return api.ImageInspect.model_validate(data)

    async def history(self, name: str) -> list[dict[str, Any]]:
        """``GET /images/{name}/history``: the config's history, newest first, as dockerd.

        Entries that made a layer carry its size; only the newest names the image (its ID
        and tags), older ones are ``<missing>`` as with pulled images in dockerd.
        """
        record = self.images.resolve(name)
        config = self.images.config(record)
        layers = iter(record.layers)
        rows: list[dict[str, Any]] = []
        for entry in config.get("history") or []:
            size = 0
            if not entry.get("empty_layer"):
                layer = next(layers, None)
                size = layer.size if layer is not None else 0
            rows.append(
                {
                    "Id": "<missing>",
                    "Created": _unix_time(entry.get("created")),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": entry.get("comment", ""),
                }
            )
        rows.reverse()
        if rows:
            rows[0]["Id"] = record.id
            rows[0]["Tags"] = [familiar(t) for t in record.repo_tags] or None
        return rows

    async def _progress_stream(self, work: ProgressWork) -> AsyncIterator[api.ProgressMessage]:
        """Run ``work`` in the engine's task group; its progress as a message stream.

        The first message is awaited before returning, so an error before any progress
        (unknown tag) is raised here and the route answers it as an HTTP error.
        """
        send, receive = anyio.create_memory_object_stream[api.ProgressMessage | EngineError | None](
            10_000
        )

        def on_progress(progress: Progress) -> None:
            detail = None
            if progress.total:
                detail = api.ProgressDetail(current=progress.current, total=progress.total)
            message = api.ProgressMessage(
                status=progress.status, id=progress.id or None, progressDetail=detail
            )
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                send.send_nowait(message)

        async def run() -> None:
            with send:
                try:
                    for message in await work(on_progress):
                        await send.send(message)
                except EngineError as exc:
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await send.send(exc)
                except Exception as exc:
                    log.exception("image operation failed")
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await send.send(EngineError(f"internal error: {exc}"))
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(None)

        self.task_group.start_soon(run)
        held: list[api.ProgressMessage] = []
        first = await receive.receive()
        # "Pulling from x" comes before the manifest is fetched: hold it until the next
        # message, so that an unknown tag is still an HTTP 404 (as dockerd answers).
        while isinstance(first, api.ProgressMessage) and (first.status or "").startswith(
            "Pulling from"
        ):
            held.append(first)
            first = await receive.receive()
        if isinstance(first, EngineError):
            receive.close()
            raise first

        async def messages() -> AsyncIterator[api.ProgressMessage]:
            with receive:
                for message in held:
                    yield message
                item: api.ProgressMessage | EngineError | None = first
                while item is not None:
                    if isinstance(item, EngineError):
                        raise item
                    yield item
                    try:
                        item = await receive.receive()
                    except anyio.EndOfStream:
                        return

        return messages()

    async def distribution(self, name: str, *, auth: str) -> dict[str, Any]:
        return await self.images.distribution(name, registry_auth(auth))

    async def pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[api.ProgressMessage]:
        reference = image
        if tag:
            reference = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"

        credentials = registry_auth(auth)

        async def work(on_progress: Callable[[Progress], None]) -> list[api.ProgressMessage]:
            def forward(progress: Progress) -> None:
                # the store closes with its own "Digest:" and "Status:" lines; the stream
                # ends with dockerd's wording instead (below), each line once
                if progress.id or not progress.status.startswith(("Digest: ", "Status: ")):
                    on_progress(progress)

            before = None
            with contextlib.suppress(EngineError):
                before = self.images.resolve(reference).id
            record = await self.images.pull(
                reference, platform=platform or None, progress=forward, credentials=credentials
            )
            self.events.emit("image", "pull", reference, {"name": reference})
            status = (
                f"Image is up to date for {reference}"
                if before == record.id
                else f"Downloaded newer image for {reference}"
            )
            digest = record.manifest_digest or record.id
            return [
                api.ProgressMessage(status=f"Digest: {digest}"),
                api.ProgressMessage(status=f"Status: {status}"),
            ]

        return await self._progress_stream(work)

    async def push(self, name: str, tag: str, *, auth: str) -> AsyncIterator[api.ProgressMessage]:
        reference = f"{name}:{tag}" if tag else name
        credentials = registry_auth(auth)

        async def work(on_progress: Callable[[Progress], None]) -> list[api.ProgressMessage]:
            manifest_size = 0

            def forward(progress: Progress) -> None:
                # the store's last line is dockerd's "<tag>: digest: <digest> size: <n>"
                nonlocal manifest_size
                if not progress.id and ": digest: " in progress.status:
                    _, _, size = progress.status.rpartition(" size: ")
                    manifest_size = int(size) if size.isdigit() else 0
                on_progress(progress)

            digest = await self.images.push(reference, progress=forward, credentials=credentials)
            self.events.emit("image", "push", reference, {"name": reference})
            aux = {"Tag": tag or "latest", "Digest": digest, "Size": manifest_size}
            return [api.ProgressMessage(progressDetail=api.ProgressDetail(), aux=aux)]

        return await self._progress_stream(work)

    async def tag(self, name: str, repo: str, tag: str) -> None:
        target = f"{repo}:{tag}" if tag else repo
        self.images.tag(name, target)
        self.events.emit("image", "tag", self.images.resolve(target).id, {"name": target})

    async def remove(self, name: str, *, force: bool, noprune: bool) -> list[api.ImageDeleteItem]:
        report = await self.images.remove(name, force=force)
        for item in report:
            for action, value in item.items():
                self.events.emit("image", action.lower(), value, {"name": value})
        return [api.ImageDeleteItem.model_validate(item) for item in report]

    async def load(
        self, tar: AsyncIterator[bytes], *, quiet: bool
    ) -> AsyncIterator[api.ProgressMessage]:
        spool = Path(tempfile.mkstemp(prefix="load-", suffix=".tar", dir=self.data_root)[1])
        try:
            with open(spool, "wb") as handle:
                async for chunk in tar:
                    await anyio.to_thread.run_sync(handle.write, chunk)
            records = await self.images.load(spool)
        finally:
            spool.unlink(missing_ok=True)
        messages = []
        for record in records:
            names = [familiar(t) for t in record.repo_tags]
            self.events.emit("image", "load", record.id, {"name": names[0] if names else record.id})
            text = f"Loaded image: {names[0]}" if names else f"Loaded image ID: {record.id}"
            messages.append(api.ProgressMessage(status=text + "\n"))

        async def generate() -> AsyncIterator[api.ProgressMessage]:
            for message in messages:
                yield message

        return generate()

    async def build(
        self, context: AsyncIterator[bytes], query: Mapping[str, Sequence[str]]
    ) -> AsyncIterator[dict[str, Any]]:
        """``POST /build``: the classic builder's JSON stream (``docker build``'s output).

        The build runs to its end before the answer streams, so that its errors can still
        be plain HTTP errors (a bad Dockerfile is a 400, as with dockerd); a failing step
        comes as an ``errorDetail`` line, as docker build expects.
        """
        from engine.build import build, error_message, options_from_query, receive_context

        options = options_from_query(query)  # InvalidParameter / Unsupported before reading
        workdir = Path(tempfile.mkdtemp(prefix="build-", dir=self.data_root))
        messages: list[dict[str, Any]] = []
        sandbox_id = f"build-{secrets.token_hex(16)}"
        try:
            options = await self._build_network(options, sandbox_id)
            build_context = await receive_context(context, workdir)
            try:
                record = await build(
                    build_context,
                    options,
                    self.images,
                    on_progress=lambda event: messages.append(event.to_message()),
                )
            except EngineError as error:
                messages.append(error_message(error))
            else:
                name = (record.repo_tags or [record.id])[0]
                self.events.emit("image", "tag", record.id, {"name": name})
        finally:
            with anyio.CancelScope(shield=True):
                if self.networking is not None:
                    await self.networking.detach(sandbox_id)
                await anyio.to_thread.run_sync(shutil.rmtree, workdir, True)

        async def generate() -> AsyncIterator[dict[str, Any]]:
            for message in messages:
                yield message

        return generate()

    async def _build_network(self, options: BuildOptions, sandbox_id: str) -> BuildOptions:
        """The build's network namespace for ``default`` (the default bridge, or the user
        network the build names), as dockerd gives each RUN a container on the bridge:
        RUN steps never share the host's network unless ``host`` is asked for.

        Resource handling: the caller detaches ``sandbox_id`` after the build.
        """
        if options.network != "default":
            return options
        if self.networking is None:
            if options.network_name:
                raise Unsupported("build networks need the engine's networking")
            return options  # RUN steps get an empty network namespace
        body = api.ContainerCreate.model_validate(
            {"Image": "build", "HostConfig": {"NetworkMode": options.network_name or "default"}}
        )

        def no_container(ref: str) -> int:
            raise InvalidParameter("a build cannot join another container's network")

        attachment = await self.networking.attach(sandbox_id, sandbox_id, body, no_container)
        return dataclasses.replace(
            options,
            netns_path=attachment.namespace_paths.get("network"),
            resolv_conf=attachment.etc_files.get("/etc/resolv.conf"),
        )

    async def save(self, names: list[str]) -> AsyncIterator[bytes]:
        for name in names:
            self.images.resolve(name)
        spool = Path(tempfile.mkstemp(prefix="save-", suffix=".tar", dir=self.data_root)[1])
        try:
            await self.images.save(names, spool)
        except BaseException:
            spool.unlink(missing_ok=True)
            raise

        async def generate() -> AsyncIterator[bytes]:
            try:
                async with await anyio.open_file(spool, "rb") as handle:
                    while chunk := await handle.read(1 << 20):
                        yield chunk
            finally:
                spool.unlink(missing_ok=True)

        return generate()

    async def prune(self, filters: Filters) -> dict[str, Any]:
        dangling = _flag(filters.get("dangling", ["true"]))
        report = await self.images.prune(all_images=not dangling)
        return {"ImagesDeleted": report or None, "SpaceReclaimed": 0}


def registry_auth(header: str) -> Credentials | None:
    """The credentials of an ``X-Registry-Auth`` header (base64url JSON, Docker's
    AuthConfig); None when it carries none. Tokens cannot be honoured: Unsupported."""
    if not header.strip():
        return None
    text = header.strip()
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        config = json.loads(decoded) if decoded.strip() else {}
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("invalid X-Registry-Auth header: not base64url JSON") from exc
    if not isinstance(config, dict):
        raise InvalidParameter("invalid X-Registry-Auth header: not a JSON object")
    if config.get("identitytoken") or config.get("registrytoken"):
        raise Unsupported("registry tokens in X-Registry-Auth are not supported by this engine")
    username, password = str(config.get("username") or ""), str(config.get("password") or "")
    if not username and config.get("auth"):
        try:
            raw = base64.b64decode(str(config["auth"])).decode()
        except (binascii.Error, ValueError) as exc:
            raise InvalidParameter("invalid X-Registry-Auth header: bad 'auth'") from exc
        username, _, password = raw.partition(":")
    if not username and not password:
        return None
    return Credentials(username, password)


def _unix_time(created: object) -> int:
    """An RFC 3339 time of an image config as Unix seconds (0 when absent or malformed)."""
    if not isinstance(created, str) or not created:
        return 0
    with contextlib.suppress(ValueError):
        return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    return 0


def _flag(values: list[str]) -> bool:
    """A boolean filter (``dangling=true``): its last value, ``1``/``true`` for yes."""
    return values[-1].lower() in ("1", "true")
