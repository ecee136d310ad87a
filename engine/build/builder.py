"""The image builder: a Dockerfile and a context -> an ordinary image in the image store.

Lifecycle of ``build(context, options, images)``:

1. parse the Dockerfile; resolve global ARGs; ``plan`` the stages the target needs;
2. per stage, in order: FROM (a local image, pulled when missing, an earlier stage, or
   ``scratch``; the base's ONBUILD triggers run first), then each instruction:
   - config instructions (ENV, ARG, LABEL, USER, CMD, ENTRYPOINT, EXPOSE, VOLUME,
     HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD, MAINTAINER; ``instructions.py``) change the
     image config and add an ``empty_layer`` history entry; WORKDIR also makes its
     directory, in a layer, when it is missing;
   - COPY/ADD (``copy_step.py``, ``copying.py``) and RUN (``run_step.py``, ``run.py``:
     runc, in a container made by ``engine.runtime.build_spec``) mount the current layers
     under a fresh overlay upper dir (``scratch.py``), copy or run, unmount; the upper dir,
     as a tar with whiteouts (``files.write_layer``), becomes the step's layer, and is
     moved into the store as the layer's unpacked directory (no second extraction);
3. the target stage's config and layers are written as an image record (tags moved to it).

Every step first looks in the build cache (``cache.py``): key = (parent key, instruction
after substitution, digest of its inputs). A hit reuses the layer and history entry, so a
rebuild with nothing changed gives the same image ID.

Resource handling: each step's mount, runc container and directories are removed when the
step ends, failures and cancellation included (shielded); directories a killed process left
are removed by the next build (``remove_stale_steps``). Nothing is tagged or recorded
unless the whole build succeeds; layers of the steps that succeeded stay as cache (image
garbage collection waits while a build runs, and may remove them after).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import posixpath
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from engine.build import dockerfile as df
from engine.build import files
from engine.build.cache import BuildCache, CacheEntry, step_key
from engine.build.context import BuildContext
from engine.build.copy_step import copy_instruction
from engine.build.events import (
    BuildEvent,
    BuildStepFailed,
    ProgressCallback,
    error_message,
)
from engine.build.instructions import Scope
from engine.build.options import BuildOptions, refuse_buildkit
from engine.build.run_step import PROXY_ARGS, run_instruction
from engine.build.scratch import (
    STALE_AFTER,
    Scratch,
    StageState,
    commit_layer,
    config_bytes,
    remove_stale_steps,
    scratch_root,
)
from engine.errors import EngineError, InvalidParameter
from engine.images import manifest as mf
from engine.images import unpack
from engine.images.errors import ImageNotFound
from engine.images.manager import ImageService
from engine.images.reference import parse_reference
from engine.images.store import ImageRecord, LayerRecord
from engine.runtime.runc import Runc
from engine.runtime.spec import DEFAULT_PATH

DEFAULT_BUILD_STATE_ROOT = "/run/pycompose/build-runc"
_HISTORY_COMMENT = "buildkit.dockerfile.v0"


def _now() -> str:
    stamp = time.time_ns()
    seconds, nanos = divmod(stamp, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


class Builder:
    """One build. Use :func:`build`."""

    def __init__(
        self,
        context: BuildContext,
        options: BuildOptions,
        images: ImageService,
        runc: Runc | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.context = context
        self.options = options
        self.images = images
        self._runc = runc
        self.emit = on_progress or (lambda _event: None)
        self.cache = BuildCache(images.root / "build-cache.db")
        self.states: dict[int, StageState] = {}
        self.used_args: set[str] = set()
        self.step = 0
        self.total = 0
        self.dockerfile: df.Dockerfile | None = None
        self.meta_env: dict[str, str] = {}

    @property
    def file(self) -> str:
        return self.dockerfile.file if self.dockerfile else self.options.dockerfile

    def runc(self) -> Runc:
        if self._runc is None:
            self._runc = Runc(state_root=DEFAULT_BUILD_STATE_ROOT)
        return self._runc

    def say(self, text: str) -> None:
        self.emit(BuildEvent(stream=text))

    # ------------------------------------------------------------------ the build

    async def run(self) -> ImageRecord:
        options = self.options
        name = posixpath.basename(options.dockerfile) or "Dockerfile"
        if options.dockerfile_inline is not None:
            text = options.dockerfile_inline
        else:
            text = self.context.read_dockerfile(options.dockerfile)
        for tag in options.tags:  # a bad tag fails now, not after the whole build
            if parse_reference(tag).digest:
                raise InvalidParameter(
                    f"invalid tag {tag!r}: a tag cannot hold a digest", hint="give name[:tag]"
                )
        if options.platform:
            wanted, host = mf.parse_platform(options.platform), mf.host()
            if (wanted.os, wanted.architecture) != (host.os, host.architecture):
                raise InvalidParameter(
                    f"platform {wanted}: this engine builds only for {host} (no emulation)",
                    hint="leave out --platform, or build on a machine of that platform",
                )
        if options.network not in ("none", "host", "default"):
            raise InvalidParameter(
                f"build network {options.network!r} is not supported",
                hint="use none, host or default (a user network: default + netns_path)",
            )
        parsed = df.parse(text, file=name)
        self.dockerfile = parsed
        self.meta_env = self._meta_env(parsed)
        stages = parsed.plan(options.target, self.meta_env)
        self.total = sum(1 + len(stage.instructions) for stage in stages)
        # builds hold off garbage collection, as pulls do: their layers are not referenced
        # by any image record until the end
        self.images._active_pulls += 1
        try:
            await anyio.to_thread.run_sync(remove_stale_steps, self.images.root)
            for stage in stages:
                self.states[stage.index] = await self._stage(parsed, stage)
            final = self.states[stages[-1].index]
            return await self._commit_image(final)
        finally:
            self.images._active_pulls -= 1
            self.cache.close()

    def _meta_env(self, parsed: df.Dockerfile) -> dict[str, str]:
        host = mf.host()
        platform = (
            str(mf.parse_platform(self.options.platform)) if self.options.platform else str(host)
        )
        target = mf.parse_platform(platform)
        env: dict[str, str] = {
            "BUILDPLATFORM": str(host),
            "BUILDOS": host.os,
            "BUILDARCH": host.architecture,
            "BUILDVARIANT": host.variant or "",
            "TARGETPLATFORM": platform,
            "TARGETOS": target.os,
            "TARGETARCH": target.architecture,
            "TARGETVARIANT": target.variant or "",
        }
        for instruction in parsed.meta_args:
            for name, raw in instruction.pairs:
                if name in self.options.build_args:
                    env[name] = self.options.build_args[name]
                    self.used_args.add(name)
                elif raw is not None:
                    env[name] = self.expand(raw, env, instruction.line)
        return env

    def expand(self, word: str, env: Mapping[str, str], line: int) -> str:
        escape = self.dockerfile.escape if self.dockerfile else "\\"
        return df.expand(word, env, escape, line=line, file=self.file)

    def stage_env(self, state: StageState) -> dict[str, str]:
        return state.scope.env(state.run_config)

    def _scope(self) -> Scope:
        return Scope(
            build_args=self.options.build_args,
            meta_env=self.meta_env,
            used_args=self.used_args,
            escape=self.dockerfile.escape if self.dockerfile else "\\",
            file=self.file,
        )

    def _begin(self, text: str) -> None:
        self.step += 1
        self.say(f"Step {self.step}/{self.total} : {text}\n")

    async def _stage(self, parsed: df.Dockerfile, stage: df.Stage) -> StageState:
        self._begin(stage.text)
        state = await self._from(parsed, stage)
        self.say(f" ---> {_short(state.image_id())}\n")
        triggers = list(state.run_config.get("OnBuild") or [])
        if triggers:
            state.run_config["OnBuild"] = None
            self.say(
                f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n"
            )
            for trigger in triggers:
                instruction = df.parse_instruction(
                    trigger, line=stage.line, escape=parsed.escape, file=parsed.file
                )
                await self._instruction(parsed, stage, instruction, state)
        for instruction in stage.instructions:
            self._begin(instruction.text)
            await self._instruction(parsed, stage, instruction, state)
        return state

    async def _from(self, parsed: df.Dockerfile, stage: df.Stage) -> StageState:
        base = self.expand(stage.base, self.meta_env, stage.line)
        if stage.platform:
            wanted = mf.parse_platform(self.expand(stage.platform, self.meta_env, stage.line))
            host = mf.host()
            if (wanted.os, wanted.architecture) != (host.os, host.architecture):
                raise df.DockerfileError(
                    f"FROM --platform={wanted}: this engine builds only for {host} (no emulation)",
                    line=stage.line,
                    file=parsed.file,
                    hint="remove --platform or build on a machine of that platform",
                )
        if not base:
            raise df.DockerfileError(
                f"FROM {stage.base}: the base image name is empty after substitution",
                line=stage.line,
                file=parsed.file,
                hint="give the ARG a default or pass --build-arg",
            )
        previous = parsed.stage_named(base)
        if previous is not None and previous.index < stage.index:
            source = self.states[previous.index]
            return StageState(
                json.loads(json.dumps(source.config)),
                list(source.layers),
                source.key,
                self._scope(),
            )
        if base.lower() == "scratch":
            host = mf.host()
            config: dict[str, Any] = {
                "architecture": host.architecture,
                "os": host.os,
                "config": {"Env": [f"PATH={DEFAULT_PATH}"]},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }
            if host.variant:
                config["variant"] = host.variant
            return StageState(config, [], "scratch", self._scope())
        record = await self.image(base, stage.line)
        raw = self.images.config(record)
        config = {
            key: raw[key]
            for key in (
                "architecture",
                "os",
                "variant",
                "created",
                "config",
                "rootfs",
                "history",
                "author",
            )
            if key in raw
        }
        config.setdefault("config", {})
        env = config["config"].get("Env") or []
        if not any(item.startswith("PATH=") for item in env):
            config["config"]["Env"] = [f"PATH={DEFAULT_PATH}", *env]
        return StageState(config, list(record.layers), record.id, self._scope())

    async def image(self, name: str, line: int) -> ImageRecord:
        if not self.options.pull:
            with contextlib.suppress(ImageNotFound):
                return self.images.resolve(name)
        self.say(f"Pulling {name}\n")
        try:
            return await self.images.pull(name)
        except EngineError as exc:
            raise df.DockerfileError(
                f"{name}: {exc.message}", line=line, file=self.file, hint=exc.hint
            ) from exc

    # ----------------------------------------------------------- instructions

    async def _instruction(
        self, parsed: df.Dockerfile, stage: df.Stage, instruction: df.Instruction, state: StageState
    ) -> None:
        keyword = instruction.keyword
        if keyword in ("COPY", "ADD"):
            await copy_instruction(self, parsed, stage, instruction, state)
        elif keyword == "RUN":
            await run_instruction(self, instruction, state)
        elif keyword == "WORKDIR":
            created_by = state.scope.apply(instruction, state.config)
            await self._workdir_step(state, created_by)
        else:
            created_by = state.scope.apply(instruction, state.config)
            await self._config_step(state, created_by)

    async def _workdir_step(self, state: StageState, created_by: str) -> None:
        """WORKDIR makes its directory (root-owned, 0755) when it is missing, in a layer of
        its own; when it exists, the step is config only."""
        working_dir = str(state.run_config.get("WorkingDir") or "/")

        async def work(scratch: Scratch) -> None:
            def make() -> None:
                files.make_dirs(scratch.merged, working_dir, None)

            await anyio.to_thread.run_sync(make)

        await self.layer_step(
            state, step_key(state.key, created_by), created_by, work, optional=True
        )

    def _history(self, created_by: str, *, empty_layer: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "created": _now(),
            "created_by": created_by,
            "comment": _HISTORY_COMMENT,
        }
        if empty_layer:
            entry["empty_layer"] = True
        return entry

    def _cached(self, key: str) -> CacheEntry | None:
        if self.options.no_cache:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        layer = entry.layer
        if layer is not None and not (
            self.images.blobs.has(layer.digest)
            and unpack.short_link(self.images.links_root, layer.chain_id).is_symlink()
        ):
            return None
        return entry

    def _advance(self, state: StageState, key: str, entry: CacheEntry) -> None:
        state.config.setdefault("history", []).append(entry.history)
        if entry.layer is not None:
            state.layers.append(entry.layer)
            rootfs = state.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), entry.layer.diff_id]
        state.config["created"] = entry.history["created"]
        state.key = key

    async def _config_step(self, state: StageState, created_by: str) -> None:
        key = step_key(state.key, created_by)
        entry = self._cached(key)
        if entry is None:
            entry = CacheEntry(history=self._history(created_by, empty_layer=True))
            self.cache.put(key, entry)
        else:
            self.say(" ---> Using cache\n")
        self._advance(state, key, entry)
        self.say(f" ---> {_short(state.image_id())}\n")

    async def layer_step(
        self,
        state: StageState,
        key: str,
        created_by: str,
        work: Callable[[Scratch], Any],
        *,
        optional: bool = False,
    ) -> None:
        """Run ``work`` in a scratch root unless the cache has ``key``; record the layer.

        ``optional``: a step that changed nothing gets no layer (an ``empty_layer`` entry).
        """
        entry = self._cached(key)
        if entry is not None:
            self.say(" ---> Using cache\n")
        else:
            async with scratch_root(self.images.root, state.layers) as scratch:
                await work(scratch)
                await scratch.unmount_all()
                layer: LayerRecord | None = None
                if not optional or any(scratch.upper.iterdir()):
                    layer = await commit_layer(self.images, scratch.upper, state.layers)
            history = self._history(created_by, empty_layer=layer is None)
            entry = CacheEntry(layer=layer, history=history)
            self.cache.put(key, entry)
        self._advance(state, key, entry)
        self.say(f" ---> {_short(state.image_id())}\n")

    # ------------------------------------------------------------------ commit

    async def _commit_image(self, state: StageState) -> ImageRecord:
        if self.options.labels:
            labels = dict(state.run_config.get("Labels") or {})
            labels.update(self.options.labels)
            state.run_config["Labels"] = labels
        unused = sorted(set(self.options.build_args) - self.used_args - set(self.meta_env))
        if unused:
            names = " ".join(unused)
            self.say(f"[Warning] One or more build-args [{names}] were not consumed\n")
        state.config["rootfs"] = {
            "type": "layers",
            "diff_ids": [layer.diff_id for layer in state.layers],
        }
        state.config.setdefault("created", _now())
        data = config_bytes(state.config)
        digest = self.images.blobs.write_bytes(data)
        host = mf.host()
        record = ImageRecord(
            id=digest,
            config_digest=digest,
            layers=tuple(state.layers),
            created=state.config.get("created"),
            os=state.config.get("os", host.os),
            architecture=state.config.get("architecture", host.architecture),
            variant=state.config.get("variant"),
            repo_tags=tuple(str(parse_reference(tag)) for tag in self.options.tags),
        )
        record = self.images.records.add(record)
        self.say(f"Successfully built {_short(record.id)}\n")
        for tag in self.options.tags:
            self.say(f"Successfully tagged {parse_reference(tag).familiar()}\n")
        self.emit(BuildEvent(aux_id=record.id))
        return record


async def build(
    context: BuildContext,
    options: BuildOptions,
    images: ImageService,
    runc: Runc | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImageRecord:
    """Build ``options``'s Dockerfile in ``context``; return the image record (tagged).

    Args:
        context: the build context (:class:`BuildContext`: a directory, or a tar unpacked
            with ``extract_context_tar``).
        options: Dockerfile, build args, target, tags, labels, cache, network...
        images: the image store the result goes into (base images come from it, or are
            pulled).
        runc: the runc used for RUN steps (its own state root; default
            ``/run/pycompose/build-runc``).
        on_progress: called with each :class:`BuildEvent` (``Step 3/10 : RUN ...``, the
            step's output, `` ---> Using cache``, `` ---> <id>``).

    Error handling: :class:`DockerfileError` (cites ``Dockerfile:LINE``) for bad
    Dockerfiles, missing/excluded sources and missing stages; :class:`BuildStepFailed`
    for a RUN that exits non-zero. No image is recorded unless the build succeeds.
    """
    return await Builder(context, options, images, runc, on_progress).run()


# engine.build and engine.build.cli import these from here
__all__ = [
    "DEFAULT_BUILD_STATE_ROOT",
    "PROXY_ARGS",
    "STALE_AFTER",
    "BuildEvent",
    "BuildOptions",
    "BuildStepFailed",
    "Builder",
    "ProgressCallback",
    "build",
    "error_message",
    "refuse_buildkit",
    "remove_stale_steps",
]
