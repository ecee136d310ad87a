"""Build requests -> :class:`BuildOptions` (what a build is asked for). Pure.

- ``options_from_compose``: a service's compose ``build:`` section (the model's plain
  data: ``Build.model_dump(exclude_none=True)``) and where the project lives -> the context
  directory and the options. Keys: context, dockerfile, dockerfile_inline, args, target,
  labels, tags, no_cache, pull, network, extra_hosts, shm_size, additional_contexts.
- ``options_from_query``: the query of the Engine API's ``POST /build`` (what ``docker
  build`` and ``docker compose build`` send with ``DOCKER_BUILDKIT=0``) -> options.
  ``version=2`` (BuildKit) is refused with :func:`refuse_buildkit`'s error.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.api.models import json_object
from engine.errors import InvalidParameter, Unsupported


@dataclasses.dataclass(frozen=True, slots=True)
class BuildOptions:
    """What a build is asked for (``docker build`` flags; compose ``build:`` keys).

    ``network``: ``none`` (an empty network namespace), ``host`` (the host's, as dockerd
    allows for classic builds), or ``default``: the namespace at ``netns_path``, which the
    engine makes on the default bridge (or on the user network ``network_name``) for the
    build, with ``resolv_conf`` as its ``/etc/resolv.conf``; without ``netns_path`` RUN
    steps get an empty namespace, never the host's.
    """

    dockerfile: str = "Dockerfile"  # relative to the context
    dockerfile_inline: str | None = None  # the Dockerfile text itself (wins over the file)
    build_args: Mapping[str, str] = dataclasses.field(default_factory=dict)
    target: str | None = None
    tags: Sequence[str] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    network: str = "default"
    network_name: str | None = None  # a user network (the caller resolves it to netns_path)
    netns_path: str | None = None
    resolv_conf: str | None = None  # /etc/resolv.conf of RUN steps in netns_path
    extra_hosts: Sequence[str] = ()  # "name:ip"
    shm_size: int = 0
    additional_contexts: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    platform: str | None = None


def refuse_buildkit() -> Unsupported:
    """The answer to BuildKit's ``POST /session`` and ``POST /grpc``."""
    return Unsupported(
        "BuildKit is not supported by this engine: it builds with the classic builder API "
        "(POST /build)",
        hint="set DOCKER_BUILDKIT=0 for docker build / docker compose build",
    )


# compose keys that need BuildKit (or a registry cache), refused with a clear message
_BUILDKIT_ONLY = ("ssh", "secrets", "cache_to", "entitlements", "platforms", "sbom", "provenance")


def _network(value: str | None) -> tuple[str, str | None]:
    """compose ``network`` / API ``networkmode`` -> (BuildOptions.network, network name)."""
    if value in (None, "", "default", "bridge"):
        return "default", None
    if value in ("none", "host"):
        return value, None
    if value.startswith("container:"):
        raise InvalidParameter(
            f"build network {value!r} is not supported",
            hint="use none, host, default or the name of a network",
        )
    return "default", value


def _extra_hosts(items: Sequence[str] | Mapping[str, Any]) -> tuple[str, ...]:
    """``host:ip``, ``host=ip`` (compose) or a mapping -> ``("host:ip", ...)``."""
    if isinstance(items, Mapping):
        pairs = [(str(name), str(address)) for name, address in items.items()]
    else:
        pairs = []
        for item in items:
            if "=" in item:
                name, _, address = item.partition("=")
            else:
                name, _, address = item.partition(":")
            if not name or not address:
                raise InvalidParameter(
                    f"invalid extra host {item!r}", hint="write HOST:IP or HOST=IP"
                )
            pairs.append((name, address.strip("[]")))
    return tuple(f"{name}:{address}" for name, address in pairs)


def options_from_compose(
    build: Mapping[str, Any],
    *,
    project_dir: Path,
    image: str | None,
    environment: Mapping[str, str] | None = None,
) -> tuple[Path, BuildOptions]:
    """(context directory, options) for a service's ``build:`` section.

    ``image``: the service's ``image`` (the tag the build gets), or the project's default
    name for it (``<project>-<service>``). Args without a value come from ``environment``
    and are dropped when it has none, as compose does.

    Example: ``options_from_compose({"context": "web", "args": {"A": "1"}},
    project_dir=Path("/p"), image="p-web")`` -> ``(Path("/p/web"), BuildOptions(...))``.
    """
    for key in _BUILDKIT_ONLY:
        if build.get(key):
            raise InvalidParameter(
                f"build.{key} needs BuildKit, which this engine does not run",
                hint=f"remove build.{key}",
            )
    context_text = str(build.get("context") or ".")
    if "://" in context_text or context_text.startswith("git@"):
        raise InvalidParameter(
            f"build.context {context_text!r}: remote contexts are not supported",
            hint="clone the repository and point build.context at the directory",
        )
    context = (project_dir / context_text).resolve()
    env = environment or {}
    args: dict[str, str] = {}
    for name, value in (build.get("args") or {}).items():
        if value is None:
            if name in env:
                args[name] = env[name]
        else:
            args[name] = str(value)
    tags = [image] if image else []
    tags += [tag for tag in build.get("tags") or [] if tag not in tags]
    network, network_name = _network(build.get("network"))
    additional: dict[str, Path] = {}
    for name, value in (build.get("additional_contexts") or {}).items():
        if "://" in value or value.startswith("docker-image:"):
            raise InvalidParameter(
                f"build.additional_contexts.{name}: only local directories are supported",
                hint="give a directory path",
            )
        additional[name] = (context / value).resolve()
    dockerfile = str(build.get("dockerfile") or "Dockerfile")
    if posixpath.isabs(dockerfile):
        try:
            dockerfile = str(Path(dockerfile).relative_to(context))
        except ValueError:
            raise InvalidParameter(
                f"build.dockerfile {dockerfile} is outside the build context {context}",
                hint="move the Dockerfile into the context or use dockerfile_inline",
            ) from None
    return context, BuildOptions(
        dockerfile=dockerfile,
        dockerfile_inline=build.get("dockerfile_inline"),
        build_args=args,
        target=build.get("target") or None,
        tags=tuple(tags),
        labels=dict(build.get("labels") or {}),
        no_cache=bool(build.get("no_cache")),
        pull=bool(build.get("pull")),
        network=network,
        network_name=network_name,
        extra_hosts=_extra_hosts(build.get("extra_hosts") or ()),
        shm_size=int(build.get("shm_size") or 0),
        additional_contexts=additional,
    )


def _one(query: Mapping[str, Sequence[str]], name: str, default: str = "") -> str:
    values = query.get(name) or ()
    return values[-1] if values else default


def _flag(query: Mapping[str, Sequence[str]], name: str) -> bool:
    return _one(query, name).lower() in ("1", "true", "yes")


def _json_map(query: Mapping[str, Sequence[str]], name: str) -> dict[str, str]:
    text = _one(query, name)
    if not text:
        return {}
    value = json_object(text, name)
    return {str(key): str(item) for key, item in value.items() if item is not None}


def options_from_query(query: Mapping[str, Sequence[str]]) -> BuildOptions:
    """``POST /build``'s query (each name -> its values, as ``urllib.parse.parse_qs``)."""
    if _one(query, "version", "1") == "2":
        raise refuse_buildkit()
    if _one(query, "remote"):
        raise InvalidParameter(
            "remote build contexts are not supported", hint="send the context as a tar"
        )
    network, network_name = _network(_one(query, "networkmode") or None)
    hosts = [item for value in query.get("extrahosts") or () for item in value.split(",") if item]
    shm = _one(query, "shmsize", "0")
    if not shm.isdigit():
        raise InvalidParameter(f"shmsize: {shm!r} is not a number of bytes")
    return BuildOptions(
        dockerfile=_one(query, "dockerfile", "Dockerfile"),
        build_args=_json_map(query, "buildargs"),
        target=_one(query, "target") or None,
        tags=tuple(query.get("t") or ()),
        labels=_json_map(query, "labels"),
        no_cache=_flag(query, "nocache"),
        pull=_flag(query, "pull"),
        network=network,
        network_name=network_name,
        extra_hosts=_extra_hosts(hosts),
        shm_size=int(shm),
        platform=_one(query, "platform") or None,
    )
