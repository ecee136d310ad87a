"""The engine client's images, networks and volumes (``image_pull`` = ``POST
/images/create`` …), for :class:`engine.api.client.EngineClient`."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote

from engine.api.errors import EngineError
from engine.api.models import (
    ImageDeleteItem,
    ImageInspect,
    ImageSummary,
    Network,
    NetworkConnect,
    NetworkCreate,
    NetworkCreateResponse,
    NetworkDisconnect,
    Volume,
    VolumeCreate,
    VolumeList,
    encode_filters,
)
from engine.api.transport import Filters, Transport
from engine.api.transport import query as _query


class ResourcesClient(Transport):
    """Images, networks and volumes of one engine."""

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool = False) -> list[ImageSummary]:
        data = await self._json("GET", "/images/json", params=_query(all=all or None))
        return [ImageSummary.model_validate(item) for item in data]

    async def image_inspect(self, name: str) -> ImageInspect:
        return ImageInspect.model_validate(await self._json("GET", f"/images/{name}/json"))

    async def distribution_inspect(self, name: str) -> dict[str, Any]:
        """What the registry holds under ``name`` (its descriptor and platforms), asked by
        the engine with the credentials it uses for a pull."""
        data = await self._json(
            "GET", f"/distribution/{name}/json", headers={"X-Registry-Auth": "e30="}
        )
        if not isinstance(data, dict):
            raise EngineError(f"the answer to GET /distribution/{name}/json is not an object")
        return data

    async def image_pull(
        self, image: str, tag: str = "", *, platform: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Pull progress messages; an error during the pull is raised."""
        params = _query(fromImage=image, tag=tag or None, platform=platform or None)
        async for message in self._stream_lines(
            "POST", "/images/create", params, headers={"X-Registry-Auth": "e30="}
        ):
            yield message

    async def image_push(self, name: str, tag: str = "") -> AsyncIterator[dict[str, Any]]:
        async for message in self._stream_lines(
            "POST",
            f"/images/{name}/push",
            _query(tag=tag or None),
            headers={"X-Registry-Auth": "e30="},
        ):
            yield message

    async def image_tag(self, name: str, repo: str, tag: str = "") -> None:
        await self.request("POST", f"/images/{name}/tag", params=_query(repo=repo, tag=tag or None))

    async def image_remove(self, name: str, *, force: bool = False) -> list[ImageDeleteItem]:
        data = await self._json("DELETE", f"/images/{name}", params=_query(force=force or None))
        return [ImageDeleteItem.model_validate(item) for item in data]

    async def image_load(
        self, archive: AsyncIterable[bytes], *, quiet: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """``POST /images/load`` of a docker-save or OCI archive streamed from ``archive``;
        the engine's messages (``Loaded image: ...``)."""
        async for message in self._stream_lines(
            "POST",
            "/images/load",
            params=_query(quiet=quiet or None),
            headers={"Content-Type": "application/x-tar"},
            content=archive,
        ):
            yield message

    async def image_save(self, names: Iterable[str]) -> AsyncIterator[bytes]:
        """``GET /images/get``: the images as one docker-loadable tar, chunk by chunk."""
        params = [("names", name) for name in names]
        async for chunk in self._stream_bytes("GET", "/images/get", params):
            yield chunk

    async def image_prune(self, *, filters: Filters | None = None) -> dict[str, Any]:
        params = {"filters": encode_filters(filters)} if filters else None
        result: dict[str, Any] = await self._json("POST", "/images/prune", params=params)
        return result

    # --- networks -------------------------------------------------------------------

    async def network_list(self, *, filters: Filters | None = None) -> list[Network]:
        params = {"filters": encode_filters(filters)} if filters else None
        data = await self._json("GET", "/networks", params=params)
        return [Network.model_validate(item) for item in data]

    async def network_inspect(self, ref: str) -> Network:
        return Network.model_validate(await self._json("GET", f"/networks/{quote(ref)}"))

    async def network_create(self, body: NetworkCreate) -> NetworkCreateResponse:
        data = await self._json("POST", "/networks/create", body=body.request_body())
        return NetworkCreateResponse.model_validate(data)

    async def network_connect(self, ref: str, body: NetworkConnect) -> None:
        await self.request(
            "POST",
            f"/networks/{quote(ref)}/connect",
            body=body.request_body(),
        )

    async def network_disconnect(self, ref: str, body: NetworkDisconnect) -> None:
        await self.request(
            "POST", f"/networks/{quote(ref)}/disconnect", body=body.model_dump(mode="json")
        )

    async def network_remove(self, ref: str) -> None:
        await self.request("DELETE", f"/networks/{quote(ref)}")

    # --- volumes --------------------------------------------------------------------

    async def volume_list(self, *, filters: Filters | None = None) -> VolumeList:
        params = {"filters": encode_filters(filters)} if filters else None
        return VolumeList.model_validate(await self._json("GET", "/volumes", params=params))

    async def volume_inspect(self, name: str) -> Volume:
        return Volume.model_validate(await self._json("GET", f"/volumes/{quote(name)}"))

    async def volume_create(self, body: VolumeCreate) -> Volume:
        data = await self._json("POST", "/volumes/create", body=body.request_body())
        return Volume.model_validate(data)

    async def volume_remove(self, name: str, *, force: bool = False) -> None:
        await self.request("DELETE", f"/volumes/{quote(name)}", params=_query(force=force or None))
