"""The command tests' harness: the commands run against the real route table on a fake engine.

:class:`CommandBackend` is the API tests' :class:`FakeBackend` with what the commands need
besides (restart, pause, top, network connect, and an image store kept as a dict). The
:class:`Harness` parses a command line with pycompose's own parser, loads the project
from memory and runs the command on a :class:`~compose.commands.Session` whose terminal
writes to string buffers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "api"))

from fake_backend import FakeBackend

from compose.arguments import build_parser
from compose.commands import STACK_COMMANDS, Session, Terminal
from compose.commands.images import cmd_image
from compose.commands.listing import cmd_ls
from compose.load import LoadOptions, load_project
from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import (
    ContainerTop,
    ImageDeleteItem,
    ImageInspect,
    ImageSummary,
    NetworkConnect,
    ProgressDetail,
    ProgressMessage,
)
from engine.daemon.backend_api import Filters


class MemoryFiles:
    """The project's files, from a dict (path -> text)."""

    def __init__(self, files: Mapping[Path, str]) -> None:
        self.files = dict(files)

    def read_text(self, path: Path) -> str:
        if path not in self.files:
            raise FileNotFoundError(str(path))
        return self.files[path]

    def is_file(self, path: Path) -> bool:
        return path in self.files

    def is_dir(self, path: Path) -> bool:
        return any(path in file.parents for file in self.files)


def image_id(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


@dataclass
class StoredImage:
    id: str
    tags: list[str]
    created: int = 1_600_000_000
    size: int = 4_200_000


class CommandBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, StoredImage] = {}
        self.connected: list[tuple[str, NetworkConnect]] = []
        self.calls: list[tuple[str, str]] = []
        self.loaded_archives: list[bytes] = []
        self.builds: list[Mapping[str, Sequence[str]]] = []

    def add_image(self, *tags: str) -> StoredImage:
        image = StoredImage(image_id(tags[0]), list(tags))
        self.images[image.id] = image
        return image

    def find_image(self, name: str) -> StoredImage:
        for image in self.images.values():
            if name in (image.id, *image.tags) or f"{name}:latest" in image.tags:
                return image
        raise errors.NotFound(f"no such image: {name}: No such image: {name}")

    # --- containers -----------------------------------------------------------------

    async def container_restart(self, ref: str, timeout: int | None) -> None:
        self.calls.append(("restart", self._get(ref).name))
        await self.container_stop(ref, timeout, "SIGTERM")
        await self.container_start(ref)

    async def container_pause(self, ref: str) -> None:
        container = self._get(ref)
        self.calls.append(("pause", container.name))
        container.state = "paused"

    async def container_unpause(self, ref: str) -> None:
        container = self._get(ref)
        self.calls.append(("unpause", container.name))
        container.state = "running"

    async def container_top(self, ref: str, ps_args: str) -> ContainerTop:
        self._get(ref)
        return ContainerTop(Titles=["PID", "CMD"], Processes=[["1", "sleep 60"]])

    async def network_connect(self, ref: str, body: NetworkConnect) -> None:
        await self.network_inspect(ref)
        self.connected.append((ref, body))

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool, filters: Filters) -> list[ImageSummary]:
        return [
            ImageSummary(
                Id=image.id,
                RepoTags=image.tags,
                RepoDigests=[f"{image.tags[0].split(':')[0]}@sha256:{'d' * 64}"]
                if image.tags
                else [],
                Created=image.created,
                Size=image.size,
            )
            for image in self.images.values()
        ]

    async def image_inspect(self, name: str) -> ImageInspect:
        image = self.find_image(name)
        return ImageInspect(Id=image.id, RepoTags=image.tags, Size=image.size)

    async def image_pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[ProgressMessage]:
        if not tag and ":" in image.rsplit("/", 1)[-1]:
            image, _, tag = image.rpartition(":")  # fromImage=name:tag, as docker sends it too
        stream = await super().image_pull(image, tag, platform=platform, auth=auth)
        name = f"{image}:{tag or 'latest'}"
        if name not in (t for i in self.images.values() for t in i.tags):
            self.add_image(name)
        self.calls.append(("pull", f"{name} {platform}".strip()))
        return stream

    async def image_push(self, name: str, tag: str, *, auth: str) -> AsyncIterator[ProgressMessage]:
        self.find_image(name)
        self.calls.append(("push", name))

        async def progress() -> AsyncIterator[ProgressMessage]:
            yield ProgressMessage(
                status="Pushed", id="abc123", progressDetail=ProgressDetail(current=5, total=5)
            )
            yield ProgressMessage(status="latest: digest: sha256:" + "e" * 64)
            yield ProgressMessage(aux={"Tag": "latest", "Digest": "sha256:" + "e" * 64})

        return progress()

    async def image_tag(self, name: str, repo: str, tag: str) -> None:
        self.find_image(name).tags.append(f"{repo}:{tag}" if tag else repo)

    async def image_remove(self, name: str, *, force: bool, noprune: bool) -> list[ImageDeleteItem]:
        image = self.find_image(name)
        reference = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        if reference in image.tags and len(image.tags) > 1:
            image.tags.remove(reference)
            return [ImageDeleteItem(Untagged=reference)]
        del self.images[image.id]
        return [ImageDeleteItem(Untagged=reference), ImageDeleteItem(Deleted=image.id)]

    async def image_load(
        self, tar: AsyncIterator[bytes], *, quiet: bool
    ) -> AsyncIterator[ProgressMessage]:
        self.loaded_archives.append(b"".join([chunk async for chunk in tar]))
        self.add_image("loaded/image:1")

        async def messages() -> AsyncIterator[ProgressMessage]:
            yield ProgressMessage(status="Loaded image: loaded/image:1\n")

        return messages()

    async def image_save(self, names: list[str]) -> AsyncIterator[bytes]:
        for name in names:
            self.find_image(name)

        async def chunks() -> AsyncIterator[bytes]:
            for name in names:
                yield f"archive of {name}\n".encode()

        return chunks()

    async def image_prune(self, filters: Filters) -> dict[str, Any]:
        dangling = filters.get("dangling", ["true"])[-1] == "true"
        removed = [i for i in self.images.values() if not i.tags or not dangling]
        for image in removed:
            del self.images[image.id]
        return {"ImagesDeleted": [{"Deleted": i.id} for i in removed] or None}

    async def image_build(
        self, context: AsyncIterator[bytes], query: Mapping[str, Sequence[str]]
    ) -> AsyncIterator[dict[str, Any]]:
        async for _ in context:
            pass
        self.builds.append(dict(query))
        self.add_image(query["t"][0])

        async def messages() -> AsyncIterator[dict[str, Any]]:
            yield {"stream": "Step 1/1 : FROM scratch\n"}
            yield {"stream": f"Successfully tagged {query['t'][0]}\n"}

        return messages()


@dataclass
class Harness:
    client: EngineClient
    backend: CommandBackend
    project_dir: Path
    out: io.StringIO = field(default_factory=io.StringIO)
    err: io.StringIO = field(default_factory=io.StringIO)
    stdin: bytes = b""

    def session(self, files: Mapping[str, str] | None = None) -> Session:
        terminal = Terminal(
            out=self.out,
            err=self.err,
            progress="plain",
            ansi="never",
            inp=io.TextIOWrapper(io.BytesIO(self.stdin)),
        )
        loaded = None
        if files is not None:
            disk = {self.project_dir / name: text for name, text in files.items()}
            options = LoadOptions(cwd=self.project_dir, environment={}, project_name="demo")
            loaded = load_project(options, MemoryFiles(disk))
        return Session(self.client, terminal, loaded)

    def parse(self, *argv: str) -> argparse.Namespace:
        return build_parser().parse_args(list(argv))

    async def run(self, *argv: str, files: Mapping[str, str] | None = None) -> int:
        """Run ``pycompose <argv>`` on ``files`` (name -> text, the project directory)."""
        self.out.seek(0)
        self.out.truncate()
        self.err.seek(0)
        self.err.truncate()
        args = self.parse(*argv)
        if args.subcommand == "image":
            return await cmd_image(self.session(), args)
        if args.subcommand == "ls":
            return await cmd_ls(self.session(), args)
        return await STACK_COMMANDS[args.subcommand](self.session(files or STACK), args)

    def names(self) -> set[str]:
        return {c.name for c in self.backend.containers.values()}

    def container(self, name: str) -> Any:
        return next(c for c in self.backend.containers.values() if c.name == name)


STACK = {
    "compose.yaml": """
services:
  web:
    image: web:1
    depends_on: [db]
    ports: ["8080:80"]
    networks: [front, back]
  db:
    image: db:1
    environment:
      MODE: primary
    networks: [back]
    volumes: ["data:/var/lib/db"]
networks:
  front: {}
  back: {}
volumes:
  data: {}
"""
}
