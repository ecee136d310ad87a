"""``config --resolve-image-digests`` and ``--lock-image-digests``, the pure part: image
references in docker compose's normal form (compose-go's ``ParseDockerRef`` then
``String()``), pinned to a digest the registry gave.

A reference already holding a digest is kept by digest alone (its tag dropped, as docker
compose does); any other gets ``:latest`` when untagged and ``@<digest>`` appended.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from compose.errors import ComposeError, Issue

_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")


def normal_reference(image: str) -> tuple[str, str | None, str | None]:
    """``image`` as (full name, tag, digest): ``busybox`` is ``docker.io/library/busybox``."""
    name, at, digest = image.partition("@")
    if at and not _DIGEST.match(digest):
        raise ComposeError([Issue(f"invalid image reference {image!r}: bad digest")])
    tag: str | None = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise ComposeError([Issue(f"invalid image reference {image!r}: bad tag {tag!r}")])
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not _PATH.match(path):
        raise ComposeError(
            [Issue(f"invalid image reference {image!r}: bad repository name {path!r}")]
        )
    return f"{domain}/{path}", tag, digest if at else None


def to_resolve(image: str) -> str | None:
    """The reference whose digest the registry must give, or None when ``image`` has one."""
    name, tag, digest = normal_reference(image)
    return None if digest else f"{name}:{tag or 'latest'}"


def pinned(image: str, digest: str | None) -> str:
    """``image`` in docker compose's pinned form; ``digest`` is the registry's answer for
    :func:`to_resolve` (None when the image has its own)."""
    name, tag, own = normal_reference(image)
    if own:
        return f"{name}@{own}"
    if digest is None or not _DIGEST.match(digest):
        raise ComposeError([Issue(f"no valid digest for image {image!r}: {digest!r}")])
    return f"{name}:{tag or 'latest'}@{digest}"


def locked(services: Mapping[str, Any], images: Mapping[str, str]) -> dict[str, Any]:
    """``--lock-image-digests``: docker compose's override file, only each service's image
    (``{}`` for a service without one); ``images`` maps service name to pinned image."""
    return {
        "services": {
            name: ({"image": images[name]} if name in images else {}) for name in sorted(services)
        }
    }
