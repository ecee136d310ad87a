"""Image references, parsed and normalised exactly as Docker does.

    redis                       -> docker.io/library/redis:latest
    localhost:5000/a/b@sha256:… -> localhost:5000/a/b@sha256:…   (no tag added)
    quay.io/x/y:1.2             -> quay.io/x/y:1.2

Grammar (distribution/reference): a name is ``[domain/]path`` where the domain
is host[:port] and is recognised only if the first component contains a ``.``
or a ``:`` or is ``localhost`` (or has an upper-case letter, which then fails
as a path). Path components are ``[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*``;
a tag is ``[\\w][\\w.-]{0,127}``; a digest is ``algorithm:hex``. Pure module.
"""

from __future__ import annotations

import dataclasses
import re

from engine.images.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}\Z")
_TAG_RE = re.compile(rf"^{_TAG}\Z")
_DIGEST_RE = re.compile(rf"^{_DIGEST}\Z")
_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_ID_RE = re.compile(r"^[a-f0-9]{64}\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: ``domain/path[:tag][@digest]``; tag or digest (or both) set."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/redis``: the repository, fully qualified."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """``redis`` for ``docker.io/library/redis``, as ``docker images`` shows it."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
            return self.path[len(OFFICIAL_REPO_PREFIX) :]
        return self.path

    def __str__(self) -> str:
        return self.name + self._tag_and_digest()

    def familiar(self) -> str:
        return self.familiar_name + self._tag_and_digest()

    def _tag_and_digest(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        return tag + (f"@{self.digest}" if self.digest is not None else "")

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest if known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, digest=digest)

    def repository(self) -> Reference:
        """The bare repository (no tag, no digest); ``str()`` gives the name."""
        return Reference(self.domain, self.path)


def _split_domain(name: str) -> tuple[str, str]:
    """distribution's splitDockerDomain: the first component is a host only if it looks like one."""
    head, sep, rest = name.partition("/")
    if not sep or (
        "." not in head and ":" not in head and head != "localhost" and head.lower() == head
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = head, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; raise :class:`InvalidReference` with the reason.

    ``default_tag`` adds ``:latest`` when neither tag nor digest is given.
    """
    original = text
    if not text:
        raise InvalidReference("invalid reference format: the reference is empty")
    if _ID_RE.match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    name, at, digest = text.partition("@")
    if at and not _DIGEST_RE.match(digest):
        raise InvalidReference(f"invalid reference format: bad digest in {original!r}")
    if at and digest.startswith("sha256:") and not _SHA256_RE.match(digest):
        raise InvalidReference(
            f"invalid reference format: a sha256 digest has 64 lower-case hex digits ({original!r})"
        )
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag {tag!r} in {original!r}")
    domain, path = _split_domain(name)
    if not _DOMAIN_RE.match(domain):
        raise InvalidReference(
            f"invalid reference format: bad registry host {domain!r} in {original!r}"
        )
    if not _PATH_RE.match(path):
        if path.lower() != path and _PATH_RE.match(path.lower()):
            raise InvalidReference(
                f"invalid reference format: repository name ({path}) must be lowercase"
            )
        raise InvalidReference(
            f"invalid reference format: {original!r} (a repository name is lower-case letters, "
            "digits and separators '.', '_', '__', '-' between '/'-separated components)"
        )
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    if tag is None and not at and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag=tag, digest=digest if at else None)


def is_image_id(text: str) -> bool:
    """A full or ``sha256:``-prefixed image ID."""
    return bool(_ID_RE.match(text.removeprefix("sha256:")))
