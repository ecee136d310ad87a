"""``POST /commit``: a container's changes as a new image, as dockerd makes it.

The new image is the container's image layers plus one layer of the container's overlay
upper dir (the builder's ``commit_layer``: ``.wh.`` whiteouts for deletions, the upper dir
read beneath its root without following anything the container planted), and a config
that is the container's config (merged with its image's, as at create) with the
``changes`` (Dockerfile instructions) applied, plus a history entry with the comment.
What dockerd's diff does not hold is left out: the mount points runc made in the upper
dir (``/proc``, ``/etc/hosts``, volume and bind targets: whatever is beneath them is
hidden by the mount), ``/.dockerenv`` and ``/etc/mtab`` (Docker's init layer).
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.build import dockerfile as df
from engine.build.instructions import Scope
from engine.build.scratch import commit_layer, config_bytes
from engine.daemon.backend_api import CommitOptions
from engine.errors import InvalidParameter
from engine.images import ImageService, overlay
from engine.images import manifest as mf
from engine.images.reference import parse_reference
from engine.images.store import ImageRecord

# dockerd's validCommitCommands
CHANGE_INSTRUCTIONS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
MAX_CHANGES = 256
MAX_SPEC = 4 << 20  # the engine's own config.json; bounded all the same
# the digest of a tar holding nothing (two zero blocks): no change, no layer (as dockerd)
EMPTY_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def _now() -> str:
    stamp = time.time_ns()
    seconds, nanos = divmod(stamp, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def parse_changes(changes: Sequence[str]) -> list[df.Instruction]:
    """The ``changes`` as instructions; those a commit cannot apply refused by name."""
    if len(changes) > MAX_CHANGES:
        raise InvalidParameter(f"too many changes ({len(changes)}); at most {MAX_CHANGES}")
    out = []
    for number, text in enumerate(changes, 1):
        keyword = text.strip().split(None, 1)[0].upper() if text.strip() else ""
        if keyword not in CHANGE_INSTRUCTIONS:
            raise InvalidParameter(
                f"{(keyword or text).lower()} is not a valid change command",
                hint="a commit applies " + ", ".join(CHANGE_INSTRUCTIONS),
            )
        try:
            out.append(df.parse_instruction(text, line=number, file="changes"))
        except df.DockerfileError as exc:
            raise InvalidParameter(f"change {text!r}: {exc.message}", hint=exc.hint) from exc
    return out


def merged_config(container: Mapping[str, Any], image: Mapping[str, Any]) -> dict[str, Any]:
    """The container's config as dockerd keeps it: what create left empty from the image."""
    out: dict[str, Any] = {}
    env = list(container.get("Env") or [])
    names = {item.partition("=")[0] for item in env}
    env += [item for item in image.get("Env") or [] if item.partition("=")[0] not in names]
    if env:
        out["Env"] = env
    for key in ("User", "WorkingDir", "StopSignal", "Healthcheck", "OnBuild", "Shell"):
        value = container.get(key) or image.get(key)
        if value:
            out[key] = value
    for key in ("ExposedPorts", "Volumes", "Labels"):
        value = {**(image.get(key) or {}), **(container.get(key) or {})}
        if value:
            out[key] = value
    entrypoint = container.get("Entrypoint")
    cmd = container.get("Cmd")
    if not entrypoint:
        entrypoint = image.get("Entrypoint")
        if not cmd:
            cmd = image.get("Cmd")
    if entrypoint:
        out["Entrypoint"] = list(entrypoint)
    if cmd:
        out["Cmd"] = list(cmd)
    return out


def apply_changes(config: dict[str, Any], changes: Sequence[df.Instruction]) -> None:
    scope = Scope(build_args={}, meta_env={}, used_args=set(), file="changes")
    for instruction in changes:
        try:
            scope.apply(instruction, config)
        except df.DockerfileError as exc:
            raise InvalidParameter(
                f"change {instruction.text!r}: {exc.message}", hint=exc.hint
            ) from exc


def mount_points(container_dir: Path) -> frozenset[str]:
    """The mount destinations of the container's bundle, as names in the upper dir."""
    try:
        with open(container_dir / "config.json", "rb") as file:
            spec = json.loads(file.read(MAX_SPEC))
    except (OSError, ValueError):
        return frozenset()
    out = set()
    for mount in spec.get("mounts") or []:
        target = os.path.normpath("/" + str(mount.get("destination") or "")).lstrip("/")
        if target:
            out.add(target)
    return frozenset(out)


async def commit(
    images: ImageService,
    image: ImageRecord,
    container_config: Mapping[str, Any],
    container_id: str,
    container_dir: Path,
    options: CommitOptions,
) -> ImageRecord:
    """The new image (tagged ``repo:tag`` when ``repo``); the caller pauses the container."""
    changes = parse_changes(options.changes)
    target = None
    if options.repo:
        target = str(parse_reference(f"{options.repo}:{options.tag or 'latest'}"))
        if parse_reference(target).digest:
            raise InvalidParameter(f"refusing to create a tag with a digest reference: {target}")
    base = images.config(image)
    config: dict[str, Any] = {
        key: value
        for key, value in base.items()
        if key in ("architecture", "os", "variant", "os.version", "os.features")
    }
    config["config"] = merged_config(container_config, base.get("config") or {})
    apply_changes(config, changes)
    _, upper, _ = overlay.container_dirs(images.root, container_id)
    skipped = mount_points(container_dir)

    def skip(name: str, info: os.stat_result) -> bool:
        if name == ".dockerenv":  # as the runtime writes it (Docker's init layer)
            return stat.S_ISREG(info.st_mode) and info.st_size == 0
        if name == "etc/mtab":  # the runtime's link to /proc/mounts
            return stat.S_ISLNK(info.st_mode)
        return name in skipped

    with images.gc_paused():
        layer = await commit_layer(images, upper, image.layers, move=False, skip=skip)
        created = _now()
        layers = list(image.layers)
        history = list(base.get("history") or [])
        entry: dict[str, Any] = {"created": created}
        if options.author:
            entry["author"] = options.author
            config["author"] = options.author
        command = config["config"].get("Cmd") or []
        entry["created_by"] = " ".join(str(word) for word in command)
        if options.comment:
            entry["comment"] = options.comment
            config["comment"] = options.comment
        if layer.diff_id == EMPTY_DIFF_ID:
            entry["empty_layer"] = True
        else:
            layers.append(layer)
        history.append(entry)
        config["created"] = created
        config["history"] = history
        config["rootfs"] = {"type": "layers", "diff_ids": [item.diff_id for item in layers]}
        digest = images.blobs.write_bytes(config_bytes(config))
        host = mf.host()
        record = ImageRecord(
            id=digest,
            config_digest=digest,
            layers=tuple(layers),
            created=created,
            os=config.get("os", host.os),
            architecture=config.get("architecture", host.architecture),
            variant=config.get("variant"),
        )
        record = images.records.add(record)
        if target is not None:
            record = images.records.tag(record.id, target)
    return record
