"""``pycompose publish REPOSITORY[:TAG]``: the project's compose files pushed to a registry
as an OCI 1.1 artifact, in docker compose's shape (so ``docker compose -f oci://...`` reads
it): artifact type ``application/vnd.docker.compose.project``, the empty config, one
``application/vnd.docker.compose.file+yaml`` layer per file, verbatim.

The registry is spoken to directly (OCI distribution API: blob upload, manifest put),
anonymously; plain HTTP for loopback registries as the engine does, HTTPS otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from compose import labels
from compose.commands.session import Session
from compose.errors import PlanError
from compose.load import LoadResult

ARTIFACT_TYPE = "application/vnd.docker.compose.project"
FILE_MEDIA_TYPE = "application/vnd.docker.compose.file+yaml"
ENV_MEDIA_TYPE = "application/vnd.docker.compose.envfile"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
MAX_FILE = 16 << 20
_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
)


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    annotations: Mapping[str, str]

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
        }
        if self.annotations:
            described["annotations"] = dict(sorted(self.annotations.items()))
        return described


def split_reference(reference: str) -> tuple[str, str, str]:
    """``host[:port]/name[:tag]`` as (host, name, tag); a name without a registry host
    is Docker Hub's, as docker compose reads it."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "registry-1.docker.io", reference
        if "/" not in path:
            path = f"library/{path}"
    match = _REFERENCE.fullmatch(path)
    if match is None:
        raise PlanError(f"invalid reference {reference!r}", hint="use REGISTRY/REPOSITORY[:TAG]")
    return host, match["name"], match["tag"] or "latest"


def layers(
    files: Sequence[tuple[str, bytes]], env_files: Sequence[tuple[str, bytes]]
) -> list[Blob]:
    """One layer per compose file, then one per env file (``--with-env``)."""
    version = {"com.docker.compose.version": labels.COMPOSE_VERSION}
    found = [
        Blob(FILE_MEDIA_TYPE, data, {**version, "com.docker.compose.file": name})
        for name, data in files
    ]
    found += [
        Blob(ENV_MEDIA_TYPE, data, {**version, "com.docker.compose.envfile": name})
        for name, data in env_files
    ]
    return found


def manifest(parts: Sequence[Blob], created: datetime) -> bytes:
    """The OCI 1.1 image manifest of the artifact."""
    body = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": "sha256:" + hashlib.sha256(EMPTY).hexdigest(),
            "size": len(EMPTY),
            "data": "e30=",
        },
        "layers": [part.descriptor() for part in parts],
        "annotations": {"org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _loopback(host: str) -> bool:
    name = (
        host.rsplit(":", 1)[0].strip("[]")
        if not host.startswith("[")
        else host[1:].split("]", maxsplit=1)[0]
    )
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _Registry:
    def __init__(self, client: httpx.AsyncClient, host: str, name: str) -> None:
        scheme = "http" if _loopback(host) else "https"
        self.base = f"{scheme}://{host}/v2/{name}"
        self.client = client
        self.host = host

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise PlanError(
                f"registry {self.host} refused {what} ({response.status_code})",
                hint="publish pushes anonymously; use a registry that accepts it",
            )
        if response.status_code >= 400:
            raise PlanError(
                f"registry {self.host} failed {what}: {response.status_code} {response.text[:300]}"
            )

    async def push_blob(self, blob: Blob) -> None:
        head = await self.client.head(f"{self.base}/blobs/{blob.digest}")
        if head.status_code == 200:
            return
        started = await self.client.post(f"{self.base}/blobs/uploads/")
        self._check(started, "a blob upload")
        location = started.headers.get("Location")
        if not location:
            raise PlanError(f"registry {self.host} gave no upload location")
        url = httpx.URL(self.base).join(location)
        done = await self.client.put(
            url.copy_merge_params({"digest": blob.digest}),
            content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._check(done, f"the blob {blob.digest}")

    async def push_manifest(self, tag: str, body: bytes) -> None:
        response = await self.client.put(
            f"{self.base}/manifests/{tag}",
            content=body,
            headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        )
        self._check(response, "the manifest")


def _file(loaded: LoadResult, path: Path) -> bytes:
    """A stack file's bytes as published: from stdin (``-f -``) or from the disk."""
    text = loaded.file_text(path)
    return _read(path) if text is None else text.encode()


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE + 1)
    except OSError as error:
        raise PlanError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_FILE:
        raise PlanError(f"{path} is larger than {MAX_FILE >> 20} MiB")
    return data


def _env_files(tree: Mapping[str, Any], working_dir: Path) -> tuple[list[str], list[Path]]:
    """The services that declare environment values, and their env files."""
    services: list[str] = []
    paths: list[Path] = []
    for name, service in sorted((tree.get("services") or {}).items()):
        entries = service.get("env_file") or []
        if service.get("environment") or entries:
            services.append(name)
        for entry in entries:
            path = entry.get("path") if isinstance(entry, Mapping) else entry
            if path and (working_dir / str(path)).is_file():
                paths.append(working_dir / str(path))
    return services, paths


async def cmd_publish(session: Session, args: argparse.Namespace) -> int:
    loaded = session.loaded
    host, name, tag = split_reference(args.repository)
    with_environment, env_paths = _env_files(loaded.tree, loaded.working_dir)
    if with_environment and not args.with_env:
        raise PlanError(
            f"service {with_environment[0]!r} has environment variable(s) declared",
            hint="to avoid leaking sensitive data, allow publishing them with --with-env, "
            "or remove them from the compose file",
        )
    files = [(path.name, _file(loaded, path)) for path in loaded.files]
    envs = [(path.name, _read(path)) for path in env_paths] if args.with_env else []
    parts = layers(files, envs)
    body = manifest(parts, datetime.now(UTC))
    if args.dry_run:
        print(body.decode(), file=session.terminal.out)
        return 0
    async with httpx.AsyncClient(timeout=60, follow_redirects=True) as client:
        registry = _Registry(client, host, name)
        try:
            for blob in [Blob(EMPTY_MEDIA_TYPE, EMPTY, {}), *parts]:
                await registry.push_blob(blob)
            await registry.push_manifest(tag, body)
        except httpx.HTTPError as error:
            raise PlanError(f"cannot reach registry {host}: {error}") from None
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    print(f"Published {host}/{name}:{tag}@{digest}", file=session.terminal.err)
    return 0
