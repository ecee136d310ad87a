"""A service's ``build:`` section through the engine's ``POST /build`` (classic builder
API): the context as a tar, the options as query parameters, the builder's stream read
for errors and output. Used by ``up --build`` (compose.apply) and ``pycompose build``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from compose.apply import ApplyError
from engine.api.client import EngineClient


def _context_tar(context: str, dockerfile_inline: str | None) -> bytes:
    """The build context as the tar POST /build takes (the engine applies .dockerignore)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(context, arcname=".")
        if dockerfile_inline is not None:
            data = dockerfile_inline.encode()
            info = tarfile.TarInfo("Dockerfile.pycompose-inline")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def build_image(
    client: EngineClient,
    image: str,
    build: Mapping[str, Any],
    on_output: Callable[[str], None],
) -> None:
    """Build ``image`` from a service's ``build:`` section through ``POST /build``.

    Error handling: a failing step raises ApplyError with the builder's message (it cites
    the Dockerfile line); a bad request comes back as the engine's error.
    """
    context = str(build.get("context") or ".")
    inline = build.get("dockerfile_inline")
    params: dict[str, str] = {
        "t": image,
        "dockerfile": "Dockerfile.pycompose-inline"
        if inline
        else str(build.get("dockerfile") or "Dockerfile"),
        "rm": "1",
        "forcerm": "1",
    }
    if build.get("args"):
        params["buildargs"] = json.dumps({k: v for k, v in build["args"].items() if v is not None})
    if build.get("labels"):
        params["labels"] = json.dumps(dict(build["labels"]))
    if build.get("target"):
        params["target"] = str(build["target"])
    if build.get("no_cache"):
        params["nocache"] = "1"
    if build.get("pull"):
        params["pull"] = "1"
    if build.get("network"):
        params["networkmode"] = str(build["network"])
    if build.get("shm_size"):
        params["shmsize"] = str(build["shm_size"])
    if build.get("extra_hosts"):
        params["extrahosts"] = ",".join(str(h).replace("=", ":", 1) for h in build["extra_hosts"])
    body = await anyio.to_thread.run_sync(_context_tar, context, inline)
    response = await client.request(
        "POST", "/build", params=params, content=body, headers={"Content-Type": "application/x-tar"}
    )
    for line in response.text.splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail") or {}
            raise ApplyError(
                f"building {image} failed: {detail.get('message') or message.get('error')}"
            )
        text = str(message.get("stream") or message.get("status") or "").rstrip()
        if text:
            on_output(text)
    for tag in build.get("tags") or []:
        repository, _, tag_name = (
            str(tag).rpartition(":") if ":" in str(tag).split("/")[-1] else (str(tag), "", "latest")
        )
        await client.image_tag(image, repository, tag_name)
