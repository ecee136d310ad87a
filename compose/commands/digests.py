"""``config --resolve-image-digests``: each service image's digest, asked of the registry
through the engine (``GET /distribution/{name}/json``, as docker compose asks dockerd), so
that it works against pycompose's engine and dockerd alike."""

from __future__ import annotations

from collections.abc import Mapping

import anyio

from compose.digests import pinned, to_resolve
from compose.errors import PlanError
from engine.api.client import EngineClient
from engine.api.errors import EngineError

# registry round trips in flight at once
_CONCURRENT = 4


async def resolve_images(client: EngineClient, images: Mapping[str, str]) -> dict[str, str]:
    """``images`` (service -> image) pinned to their registry digests, service -> image."""
    wanted = sorted({ref for image in images.values() if (ref := to_resolve(image))})
    digests: dict[str, str] = {}
    failures: list[str] = []
    limit = anyio.Semaphore(_CONCURRENT)

    async def one(reference: str) -> None:
        async with limit:
            try:
                answer = await client.distribution_inspect(reference)
            except EngineError as error:
                failures.append(f"failed to resolve digest for {reference}: {error.message}")
                return
        descriptor = answer.get("Descriptor")
        digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
        if not isinstance(digest, str):
            failures.append(f"failed to resolve digest for {reference}: the answer has none")
            return
        digests[reference] = digest

    async with anyio.create_task_group() as group:
        for reference in wanted:
            group.start_soon(one, reference)
    if failures:
        raise PlanError(
            "\n".join(sorted(failures)),
            hint="check the image names and that the registry holds them (pycompose pull)",
        )
    return {
        service: pinned(image, digests.get(to_resolve(image) or ""))
        for service, image in images.items()
    }


async def resolve_with_engine(images: Mapping[str, str]) -> dict[str, str]:
    from compose.commands.session import connect

    if not any(to_resolve(image) for image in images.values()):
        return {service: pinned(image, None) for service, image in images.items()}
    async with await connect() as client:
        return await resolve_images(client, images)
