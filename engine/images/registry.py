"""A client of the OCI distribution API (registry v2), over httpx. Async.

One :class:`RegistryClient` serves every registry host; it picks the scheme
(plain HTTP for localhost, 127.0.0.0/8, ::1 and the hosts listed as insecure,
HTTPS otherwise, as Docker does) and the :class:`~engine.images.auth.RegistryAuth`
of each host. Verbs map one to one to the API:

    get_manifest      GET  /v2/<name>/manifests/<tag|digest>   (Accept: all schema-2 types)
    fetch_blob        GET  /v2/<name>/blobs/<digest>           (streamed into an Ingest)
    blob_exists       HEAD /v2/<name>/blobs/<digest>
    mount_blob        POST /v2/<name>/blobs/uploads/?mount=&from=
    upload_blob       POST + PUT (monolithic) or POST + PATCH… + PUT (chunked)
    put_manifest      PUT  /v2/<name>/manifests/<tag|digest>

Error handling: 404 -> :class:`ImageNotFound`; 401/403 -> :class:`AuthError`;
other statuses and transport failures -> :class:`RegistryError`, with the
registry's own ``errors[].message`` quoted. Nothing here touches the store
except through the Ingest it is handed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from engine.images import manifest as mf
from engine.images.auth import Credentials, RegistryAuth
from engine.images.errors import (
    AuthError,
    DigestMismatch,
    ImageNotFound,
    InvalidImage,
    RegistryError,
)
from engine.images.reference import DEFAULT_DOMAIN, Reference
from engine.images.store import Ingest, sha256_digest

DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOWNLOAD_CHUNK = 1 << 18
DEFAULT_UPLOAD_CHUNK = 16 << 20
BytesCallback = Callable[[int], None]


def is_insecure_default(host: str) -> bool:
    """Docker's rule: localhost and loopback addresses may use plain HTTP."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _registry_message(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        messages = [f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors]
        if messages:
            return "; ".join(messages)
    except (ValueError, AttributeError):
        pass
    return response.reason_phrase or f"HTTP {response.status_code}"


class RegistryClient:
    """Talks to registries. Use as ``async with RegistryClient(...) as client``."""

    def __init__(
        self,
        *,
        credentials: Mapping[str, Credentials] | None = None,
        insecure_registries: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._credentials = dict(credentials or {})
        self._insecure = set(insecure_registries)
        self._auth: dict[str, RegistryAuth] = {}
        self._owns_http = True
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )

    def with_credentials(self, credentials: Mapping[str, Credentials]) -> RegistryClient:
        """A client for one API request that brought its own credentials: the same
        connections, but only ``credentials`` and a token cache of its own (a token it
        gets is never seen by another request, and it never uses the engine's or another
        client's). Closing it leaves the connections to this client."""
        view = RegistryClient.__new__(RegistryClient)
        view._credentials = dict(credentials)
        view._insecure = self._insecure
        view._auth = {}
        view._owns_http = False
        view._http = self._http
        return view

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def base_url(self, domain: str) -> str:
        host = DOCKER_HUB_API_HOST if domain == DEFAULT_DOMAIN else domain
        scheme = "http" if domain in self._insecure or is_insecure_default(domain) else "https"
        return f"{scheme}://{host}/v2/"

    def auth(self, domain: str) -> RegistryAuth:
        if domain not in self._auth:
            self._auth[domain] = RegistryAuth(self._credentials.get(domain))
        return self._auth[domain]

    def _url(self, ref: Reference, tail: str) -> str:
        return f"{self.base_url(ref.domain)}{ref.path}/{tail}"

    async def _send(
        self, ref: Reference, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response:
        try:
            return await self._http.send(request, auth=self.auth(ref.domain), stream=stream)
        except httpx.TransportError as exc:
            raise RegistryError(
                f"cannot reach the registry {ref.domain} ({request.method} {request.url}): "
                f"{exc or type(exc).__name__}"
            ) from exc

    async def _check(self, ref: Reference, response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        await response.aread()
        message = _registry_message(response)
        if response.status_code == 404:
            raise ImageNotFound(f"{what}: not found in {ref.name} ({message})")
        if response.status_code in (401, 403):
            raise AuthError(f"{what}: access to {ref.name} denied ({message})")
        raise RegistryError(
            f"{what}: the registry {ref.domain} answered {response.status_code}: {message}"
        )

    async def get_manifest(self, ref: Reference, obj: str | None = None) -> tuple[bytes, str, str]:
        """Fetch a manifest or index; return (bytes, media type, digest). Digest-verified."""
        obj = obj or ref.object
        request = self._http.build_request(
            "GET", self._url(ref, f"manifests/{obj}"), headers={"Accept": mf.ACCEPT}
        )
        response = await self._send(ref, request, stream=True)
        try:
            await self._check(
                ref,
                response,
                f"manifest {ref.name}:{obj}"
                if not obj.startswith("sha256:")
                else f"manifest {ref.name}@{obj}",
            )
            declared = int(response.headers.get("content-length") or 0)
            if declared > mf.MAX_MANIFEST_SIZE:
                raise InvalidImage(f"manifest of {ref} is too large ({declared} bytes)")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > mf.MAX_MANIFEST_SIZE:
                    raise InvalidImage(f"manifest of {ref} is too large")
        finally:
            await response.aclose()
        digest = sha256_digest(bytes(data))
        if obj.startswith("sha256:") and digest != obj:
            raise DigestMismatch(
                f"manifest {ref.name}@{obj}: the registry sent content with digest {digest}"
            )
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        return bytes(data), media_type, digest

    async def fetch_blob(
        self,
        ref: Reference,
        descriptor: mf.Descriptor,
        ingest: Ingest,
        on_bytes: BytesCallback | None = None,
    ) -> None:
        """Stream the blob into ``ingest`` (never whole in memory); stop past its size.

        The caller commits the ingest (which verifies digest and size).
        """
        request = self._http.build_request("GET", self._url(ref, f"blobs/{descriptor.digest}"))
        response = await self._send(ref, request, stream=True)
        try:
            await self._check(ref, response, f"blob {descriptor.digest}")
            # aiter_raw re-chunks to DOWNLOAD_CHUNK: one thread hop (hash + write) per MB
            async for chunk in response.aiter_raw(DOWNLOAD_CHUNK):
                if ingest.size + len(chunk) > descriptor.size:
                    raise DigestMismatch(
                        f"blob {descriptor.digest}: the registry sent more than the "
                        f"{descriptor.size} bytes the manifest announces"
                    )
                await anyio.to_thread.run_sync(ingest.write, chunk)
                if on_bytes:
                    on_bytes(ingest.size)
        except httpx.TransportError as exc:
            raise RegistryError(
                f"blob {descriptor.digest}: the download from {ref.domain} broke off after "
                f"{ingest.size} of {descriptor.size} bytes ({exc or type(exc).__name__})"
            ) from exc
        finally:
            await response.aclose()

    async def get_small_blob(self, ref: Reference, descriptor: mf.Descriptor) -> bytes:
        """A blob whose announced ``descriptor.size`` the caller has bounded, in memory;
        more bytes than announced, or other content, are refused."""
        request = self._http.build_request("GET", self._url(ref, f"blobs/{descriptor.digest}"))
        response = await self._send(ref, request, stream=True)
        data = bytearray()
        try:
            await self._check(ref, response, f"blob {descriptor.digest}")
            async for chunk in response.aiter_raw(DOWNLOAD_CHUNK):
                data += chunk
                if len(data) > descriptor.size:
                    raise DigestMismatch(
                        f"blob {descriptor.digest}: the registry sent more than the "
                        f"{descriptor.size} bytes the manifest announces"
                    )
        finally:
            await response.aclose()
        if sha256_digest(bytes(data)) != descriptor.digest:
            raise DigestMismatch(f"blob {descriptor.digest}: the registry sent other content")
        return bytes(data)

    async def blob_exists(self, ref: Reference, digest: str) -> bool:
        request = self._http.build_request("HEAD", self._url(ref, f"blobs/{digest}"))
        response = await self._send(ref, request)
        if response.status_code == 404:
            return False
        await self._check(ref, response, f"blob {digest}")
        return True

    async def mount_blob(self, ref: Reference, digest: str, from_repository: str) -> str | None:
        """Cross-repository mount; None when mounted, else the upload URL to use instead."""
        self.auth(ref.domain).add_scope(ref.path, f"repository:{from_repository}:pull")
        request = self._http.build_request(
            "POST",
            self._url(ref, "blobs/uploads/"),
            params={"mount": digest, "from": from_repository},
        )
        response = await self._send(ref, request)
        if response.status_code == 201:
            return None
        await self._check(ref, response, f"mount of blob {digest}")
        return self._location(response)

    async def start_upload(self, ref: Reference) -> str:
        request = self._http.build_request("POST", self._url(ref, "blobs/uploads/"))
        response = await self._send(ref, request)
        await self._check(ref, response, f"upload to {ref.name}")
        return self._location(response)

    @staticmethod
    def _location(response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"the registry answered {response.status_code} without a Location")
        return str(response.url.join(location))

    async def upload_blob(
        self,
        ref: Reference,
        digest: str,
        path: Path,
        *,
        location: str | None = None,
        chunk_size: int | None = None,
        on_bytes: BytesCallback | None = None,
    ) -> None:
        """Upload the blob at ``path``: one PUT, or PATCH chunks of ``chunk_size`` then PUT."""
        size = path.stat().st_size
        location = location or await self.start_upload(ref)
        if chunk_size is None or size <= chunk_size:
            url = httpx.URL(location).copy_merge_params({"digest": digest})
            request = self._http.build_request(
                "PUT",
                url,
                content=_file_chunks(path, 0, size, on_bytes),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
            response = await self._send(ref, request)
            await self._check(ref, response, f"upload of blob {digest}")
            return
        offset = 0
        async with await anyio.open_file(path, "rb") as source:
            while offset < size:
                chunk = await source.read(chunk_size)
                end = offset + len(chunk) - 1
                request = self._http.build_request(
                    "PATCH",
                    location,
                    content=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{end}",
                    },
                )
                response = await self._send(ref, request)
                await self._check(ref, response, f"upload of blob {digest} (chunk at {offset})")
                location = self._location(response)
                offset = end + 1
                if on_bytes:
                    on_bytes(offset)
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        response = await self._send(ref, self._http.build_request("PUT", url))
        await self._check(ref, response, f"upload of blob {digest}")

    async def put_manifest(self, ref: Reference, obj: str, data: bytes, media_type: str) -> str:
        request = self._http.build_request(
            "PUT",
            self._url(ref, f"manifests/{obj}"),
            content=data,
            headers={"Content-Type": media_type},
        )
        response = await self._send(ref, request)
        await self._check(ref, response, f"manifest {ref.name}:{obj}")
        return sha256_digest(data)


async def _file_chunks(
    path: Path, offset: int, size: int, on_bytes: BytesCallback | None
) -> AsyncIterator[bytes]:
    sent = 0
    async with await anyio.open_file(path, "rb") as source:
        await source.seek(offset)
        while sent < size:
            chunk = await source.read(min(DOWNLOAD_CHUNK, size - sent))
            if not chunk:
                break
            sent += len(chunk)
            if on_bytes:
                on_bytes(sent)
            yield chunk
