"""The image builder: a Dockerfile and a context -> an ordinary image in the image store.

Lifecycle of ``build(context, options, images)``:

1. parse the Dockerfile; resolve global ARGs; ``plan`` the stages the target needs;
2. per stage, in order: FROM (a local image, pulled when missing, an earlier stage, or
   ``scratch``; the base's ONBUILD triggers run first), then each instruction:
   - config instructions (ENV, ARG, LABEL, USER, CMD, ENTRYPOINT, EXPOSE, VOLUME,
     HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD, MAINTAINER; ``instructions.py``) change the
     image config and add an ``empty_layer`` history entry; WORKDIR also makes its
     directory, in a layer, when it is missing;
   - COPY/ADD (``copying.py``) and RUN (``run.py``: runc, in a container made by
     ``engine.runtime.build_spec``) mount the current layers under a fresh overlay upper
     dir, copy or run, unmount; the upper dir, as a tar with whiteouts
     (``files.write_layer``), becomes the step's layer, and is moved into the store as the
     layer's unpacked directory (no second extraction);
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
import dataclasses
import datetime
import hashlib
import json
import os
import posixpath
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from engine.api.errors import EngineError, InvalidParameter, Unsupported
from engine.build import copying, files, run
from engine.build import dockerfile as df
from engine.build.cache import BuildCache, CacheEntry, step_key
from engine.build.context import BuildContext
from engine.build.instructions import DEFAULT_SHELL, Scope
from engine.images import manifest as mf
from engine.images import overlay, unpack
from engine.images.errors import ImageNotFound
from engine.images.manager import ImageService
from engine.images.reference import parse_reference
from engine.images.store import ImageRecord, LayerRecord
from engine.runtime.runc import Runc
from engine.runtime.spec import DEFAULT_PATH

DEFAULT_BUILD_STATE_ROOT = "/run/pycompose/build-runc"
PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
_HISTORY_COMMENT = "buildkit.dockerfile.v0"


@dataclasses.dataclass(frozen=True, slots=True)
class BuildOptions:
    """What a build is asked for (``docker build`` flags; compose ``build:`` keys).

    ``network``: ``none`` (an empty network namespace), ``host``, or ``default`` (the
    namespace at ``netns_path`` when the caller gives one, else the host's).
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
    extra_hosts: Sequence[str] = ()  # "name:ip"
    shm_size: int = 0
    additional_contexts: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    platform: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BuildEvent:
    """One piece of build output, as ``docker build`` prints it (``stream``), or the final
    image ID (``aux_id``). ``to_message`` is the JSON line ``POST /build`` streams."""

    stream: str = ""
    aux_id: str | None = None

    def to_message(self) -> dict[str, object]:
        if self.aux_id is not None:
            return {"aux": {"ID": self.aux_id}}
        return {"stream": self.stream}


ProgressCallback = Callable[[BuildEvent], None]


class BuildStepFailed(InvalidParameter):
    """A RUN step exited non-zero; ``exit_code`` and ``output`` (its tail) are kept."""

    def __init__(self, message: str, *, exit_code: int, output: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
        self.output = output


def error_message(error: EngineError) -> dict[str, object]:
    """The JSON line ``POST /build`` streams when a build fails (Docker's shape)."""
    detail: dict[str, object] = {"message": error.message}
    if isinstance(error, BuildStepFailed):
        detail["code"] = error.exit_code
    return {"errorDetail": detail, "error": error.message}


def refuse_buildkit() -> Unsupported:
    """The answer to BuildKit's ``POST /session`` and ``POST /grpc``."""
    return Unsupported(
        "BuildKit is not supported by this engine: it builds with the classic builder API "
        "(POST /build)",
        hint="set DOCKER_BUILDKIT=0 for docker build / docker compose build",
    )


def _now() -> str:
    stamp = time.time_ns()
    seconds, nanos = divmod(stamp, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _config_bytes(config: Mapping[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


@dataclasses.dataclass(slots=True)
class _State:
    """Where a stage is: its image config, layers, cache key and declared ARGs."""

    config: dict[str, Any]
    layers: list[LayerRecord]
    key: str
    scope: Scope

    @property
    def run_config(self) -> dict[str, Any]:
        section: dict[str, Any] = self.config.setdefault("config", {})
        return section

    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(_config_bytes(self.config)).hexdigest()


@dataclasses.dataclass(slots=True)
class _Scratch:
    """A step's root: overlay of the current layers + a fresh upper dir."""

    container_id: str
    base: Path
    merged: Path
    upper: Path
    mounted: list[Path] = dataclasses.field(default_factory=list)

    async def unmount_all(self) -> None:
        with anyio.CancelScope(shield=True):
            while self.mounted:
                await overlay.umount(self.mounted.pop())


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
        self.states: dict[int, _State] = {}
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
                    env[name] = self._expand(raw, env, instruction.line)
        return env

    def _expand(self, word: str, env: Mapping[str, str], line: int) -> str:
        escape = self.dockerfile.escape if self.dockerfile else "\\"
        return df.expand(word, env, escape, line=line, file=self.file)

    def _stage_env(self, state: _State) -> dict[str, str]:
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

    async def _stage(self, parsed: df.Dockerfile, stage: df.Stage) -> _State:
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

    async def _from(self, parsed: df.Dockerfile, stage: df.Stage) -> _State:
        base = self._expand(stage.base, self.meta_env, stage.line)
        if stage.platform:
            wanted = mf.parse_platform(self._expand(stage.platform, self.meta_env, stage.line))
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
            return _State(
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
            return _State(config, [], "scratch", self._scope())
        record = await self._image(base, stage.line)
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
        return _State(config, list(record.layers), record.id, self._scope())

    async def _image(self, name: str, line: int) -> ImageRecord:
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
        self, parsed: df.Dockerfile, stage: df.Stage, instruction: df.Instruction, state: _State
    ) -> None:
        keyword = instruction.keyword
        if keyword in ("COPY", "ADD"):
            await self._copy(parsed, stage, instruction, state)
        elif keyword == "RUN":
            await self._run_step(instruction, state)
        elif keyword == "WORKDIR":
            created_by = state.scope.apply(instruction, state.config)
            await self._workdir_step(state, created_by)
        else:
            created_by = state.scope.apply(instruction, state.config)
            await self._config_step(state, created_by)

    async def _workdir_step(self, state: _State, created_by: str) -> None:
        """WORKDIR makes its directory (root-owned, 0755) when it is missing, in a layer of
        its own; when it exists, the step is config only."""
        working_dir = str(state.run_config.get("WorkingDir") or "/")

        async def work(scratch: _Scratch) -> None:
            def make() -> None:
                target = files.resolve_in_root(scratch.merged, working_dir)
                files.make_dirs(target, scratch.merged, None)

            await anyio.to_thread.run_sync(make)

        await self._layer_step(
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

    def _advance(self, state: _State, key: str, entry: CacheEntry) -> None:
        state.config.setdefault("history", []).append(entry.history)
        if entry.layer is not None:
            state.layers.append(entry.layer)
            rootfs = state.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), entry.layer.diff_id]
        state.config["created"] = entry.history["created"]
        state.key = key

    async def _config_step(self, state: _State, created_by: str) -> None:
        key = step_key(state.key, created_by)
        entry = self._cached(key)
        if entry is None:
            entry = CacheEntry(history=self._history(created_by, empty_layer=True))
            self.cache.put(key, entry)
        else:
            self.say(" ---> Using cache\n")
        self._advance(state, key, entry)
        self.say(f" ---> {_short(state.image_id())}\n")

    async def _layer_step(
        self,
        state: _State,
        key: str,
        created_by: str,
        work: Callable[[_Scratch], Any],
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
            async with self._scratch(state.layers) as scratch:
                await work(scratch)
                await scratch.unmount_all()
                layer: LayerRecord | None = None
                if not optional or any(scratch.upper.iterdir()):
                    layer = await self._commit_layer(scratch.upper, state.layers)
            history = self._history(created_by, empty_layer=layer is None)
            entry = CacheEntry(layer=layer, history=history)
            self.cache.put(key, entry)
        self._advance(state, key, entry)
        self.say(f" ---> {_short(state.image_id())}\n")

    # ---------------------------------------------------------------- scratch roots

    @contextlib.asynccontextmanager
    async def _scratch(self, layers: Sequence[LayerRecord]) -> AsyncIterator[_Scratch]:
        images_root = self.images.root
        container_id = "build-" + secrets.token_hex(8)
        base, upper, work = overlay.container_dirs(images_root, container_id)
        scratch = _Scratch(container_id, base, base / "merged", upper)
        try:
            upper.mkdir(parents=True)
            work.mkdir()
            chains = [layer.chain_id for layer in layers]
            if chains:
                lowers = overlay.lower_dirs(images_root, chains)
            else:
                (images_root / "empty").mkdir(exist_ok=True)
                lowers = ["empty"]
            mount = overlay.Mount(
                "overlay",
                "overlay",
                (
                    "lowerdir=" + ":".join(lowers),
                    f"upperdir={upper}",
                    f"workdir={work}",
                    "index=off",
                ),
                cwd=images_root,
            )
            await overlay.mount(mount, scratch.merged)
            scratch.mounted.append(scratch.merged)
            yield scratch
        finally:
            with anyio.CancelScope(shield=True):
                await scratch.unmount_all()
                await anyio.to_thread.run_sync(shutil.rmtree, base, True)

    async def _mount_source(self, scratch: _Scratch, layers: Sequence[LayerRecord]) -> Path:
        """A read-only view of ``layers`` (a COPY --from source) inside the scratch dir."""
        target = scratch.base / "source"
        if not layers:
            target.mkdir()
            return target
        mount = overlay.overlay_mount(self.images.root, [layer.chain_id for layer in layers])
        await overlay.mount(mount, target)
        scratch.mounted.append(target)
        return target

    async def _commit_layer(self, upper: Path, parents: Sequence[LayerRecord]) -> LayerRecord:
        images = self.images

        def work() -> LayerRecord:
            digest, diff_id, size = files.write_layer(upper, images.blobs)
            chain_id = (
                "sha256:" + hashlib.sha256(f"{parents[-1].chain_id} {diff_id}".encode()).hexdigest()
                if parents
                else diff_id
            )
            final = unpack.layer_dir(images.layers_root, chain_id)
            if not final.is_dir():
                tmp = Path(tempfile.mkdtemp(dir=images.layers_root, prefix=".unpack-build-"))
                try:
                    os.chmod(upper, 0o755)
                    os.rename(upper, tmp / "diff")
                    os.rename(tmp, final)
                except OSError:
                    if not final.is_dir():
                        raise
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            unpack.unpack_layer(
                images.blobs.path(digest), images.layers_root, images.links_root, chain_id, diff_id
            )
            return LayerRecord(
                digest=digest,
                media_type=mf.OCI_LAYER_GZIP,
                size=size,
                diff_id=diff_id,
                chain_id=chain_id,
            )

        return await anyio.to_thread.run_sync(work)

    # ---------------------------------------------------------------------- RUN

    async def _run_step(self, instruction: df.Instruction, state: _State) -> None:
        config = state.run_config
        shell = list(config.get("Shell") or DEFAULT_SHELL)
        scripts: dict[str, str] = {}  # heredoc scripts with a #! line, run as files
        if instruction.exec_form:
            argv = list(instruction.args)
        else:
            command = instruction.args[0] if instruction.args else ""
            if instruction.heredocs:
                first = instruction.heredocs[0]
                only = command.strip() in (
                    f"<<{first.name}",
                    f"<<-{first.name}",
                ) or command.strip() in (
                    f'<<"{first.name}"',
                    f"<<'{first.name}'",
                    f'<<-"{first.name}"',
                    f"<<-'{first.name}'",
                )
                if only and len(instruction.heredocs) == 1 and first.content.startswith("#!"):
                    scripts[first.name] = first.content
                    command = ""
                elif only and len(instruction.heredocs) == 1:
                    command = first.content
                else:
                    command += "\n" + "".join(
                        h.content + h.name + "\n" for h in instruction.heredocs
                    )
            argv = [f"{run.PIPES}/{name}" for name in scripts] or [*shell, command]
        env_list = list(config.get("Env") or [])
        env_keys = {item.partition("=")[0] for item in env_list}
        args_env = [
            (name, value)
            for name, value in state.scope.args.items()
            if value is not None and name not in env_keys
        ]
        # predefined proxy args reach RUN undeclared, but stay out of the history and
        # the cache key (Docker's rule: they are about the build host, not the image)
        proxies = [
            (name, self.options.build_args[name])
            for name in sorted(PROXY_ARGS & set(self.options.build_args))
            if name not in state.scope.args and name not in env_keys
        ]
        self.used_args.update(name for name, _ in proxies)
        env_list += [f"{name}={value}" for name, value in args_env + proxies]
        prefix = (
            f"|{len(args_env)} " + " ".join(f"{n}={v}" for n, v in args_env) + " "
            if args_env
            else ""
        )
        network = instruction.flag("network") or self.options.network
        created_by = f"RUN {prefix}{' '.join(argv)} # buildkit"
        inputs = f"network={network}\n" + json.dumps(scripts, sort_keys=True)
        key = step_key(state.key, created_by, inputs)

        async def work(scratch: _Scratch) -> None:
            await self._run_container(
                instruction, scratch, argv, env_list, config, network, scripts
            )

        await self._layer_step(state, key, created_by, work)

    async def _run_container(
        self,
        instruction: df.Instruction,
        scratch: _Scratch,
        argv: list[str],
        env: list[str],
        config: Mapping[str, Any],
        network: str,
        scripts: Mapping[str, str],
    ) -> None:
        request = run.RunRequest(
            container_id=scratch.container_id,
            root=scratch.merged,
            bundle=scratch.base / "bundle",
            argv=argv,
            env=env,
            user=config.get("User") or "",
            working_dir=config.get("WorkingDir") or "/",
            network=network,
            netns_path=self.options.netns_path,
            extra_hosts=self.options.extra_hosts,
            shm_size=self.options.shm_size,
            scripts=scripts,
        )
        self.say(f" ---> Running in {scratch.container_id[-12:]}\n")
        try:
            result = await run.run_step(self.runc(), request, self.say)
        except EngineError as exc:
            raise df.DockerfileError(
                f"RUN: {exc.message}", line=instruction.line, file=self.file, hint=exc.hint
            ) from exc
        self.say(f"Removing intermediate container {scratch.container_id[-12:]}\n")
        if result.exit_code != 0:
            shown = json.dumps(argv) if instruction.exec_form else " ".join(argv)
            output = "\n".join(result.tail)
            raise BuildStepFailed(
                f"{self.file}:{instruction.line}: {instruction.text.splitlines()[0]}: "
                f"the command '{shown}' returned a non-zero code: {result.exit_code}"
                + (f"\n{output}" if output else ""),
                exit_code=result.exit_code,
                output=output,
                hint="fix the command; its last output is shown above",
            )
        await scratch.unmount_all()
        await anyio.to_thread.run_sync(run.clean_placeholders, scratch.upper, result.existed)

    # --------------------------------------------------------------- COPY / ADD

    async def _copy(
        self, parsed: df.Dockerfile, stage: df.Stage, instruction: df.Instruction, state: _State
    ) -> None:
        keyword, line = instruction.keyword, instruction.line
        env = self._stage_env(state)
        heredocs = {h.name: h for h in instruction.heredocs}
        words: list[tuple[str, df.Heredoc | None]] = []
        for word in instruction.args:
            marker = word.lstrip("<").lstrip("-").strip("'\"") if word.startswith("<<") else None
            if marker is not None and marker in heredocs:
                words.append((marker, heredocs[marker]))
            else:
                words.append((self._expand(word, env, line), None))
        if len(words) < 2:
            raise df.DockerfileError(
                f"{keyword} requires at least two arguments", line=line, file=self.file
            )
        dest_raw, sources = words[-1][0], words[:-1]
        working_dir = state.run_config.get("WorkingDir") or "/"
        chown = instruction.flag("chown")
        chmod = instruction.flag("chmod")
        plan = copying.CopyPlan(
            keyword=keyword,
            dest=posixpath.join(working_dir, dest_raw),
            dest_is_dir=dest_raw.endswith("/") or len(sources) > 1,
            chown=self._expand(chown, env, line) if chown else None,
            mode=(
                files.parse_chmod(self._expand(chmod, env, line), line=line, file=self.file)
                if chmod
                else None
            ),
            line=line,
            file=self.file,
        )
        from_ref = instruction.flag("from")
        inputs = hashlib.sha256()
        source_layers: list[LayerRecord] | None = None
        tmpdir = Path(tempfile.mkdtemp(prefix="pycompose-build-"))
        try:
            if from_ref is not None:
                ref = self._expand(from_ref, self.meta_env | env, line)
                source_stage = parsed.source_stage(ref, stage, line)
                if source_stage is not None:
                    source = self.states[source_stage.index]
                    source_layers, source_key = list(source.layers), source.key
                elif ref in self.options.additional_contexts:
                    source_layers, source_key = None, ""
                else:
                    record = await self._image(ref, line)
                    source_layers, source_key = list(record.layers), record.id
                inputs.update(f"from={source_key}\n".encode())
            context = self._context_for(from_ref, env, line) if source_layers is None else None
            stage_words: list[str] = []
            for word, heredoc in sources:
                if heredoc is not None:
                    content = heredoc.content
                    if heredoc.expand:
                        content = self._expand_heredoc(content, env, line)
                    path = tmpdir / f"heredoc-{len(plan.items)}"
                    path.write_text(content)
                    path.chmod(0o644)
                    plan.items.append((path, word, "heredoc"))
                    inputs.update(f"heredoc={word}\n".encode() + content.encode())
                elif keyword == "ADD" and (
                    word.startswith("git@") or word.split("#", 1)[0].endswith(".git")
                ):
                    raise df.DockerfileError(
                        f"ADD {word}: adding a git repository is not supported",
                        line=line,
                        file=self.file,
                        hint="clone it into the build context and COPY it",
                    )
                elif keyword == "ADD" and word.startswith(("http://", "https://")):
                    path = await copying.download(
                        word, tmpdir, instruction.flag("checksum"), line=line, file=self.file
                    )
                    if plan.mode is None:
                        path.chmod(0o600)
                    name = posixpath.basename(word.split("?", 1)[0].rstrip("/")) or "index.html"
                    plan.items.append((path, name, "url"))
                    inputs.update(f"url={word}\n{copying.file_digest(path)}\n".encode())
                elif context is not None:
                    found = context.sources(word, line=line, file=self.file)
                    plan.items += [
                        (
                            context.root / context.follow(rel),
                            posixpath.basename(rel) or rel,
                            "context",
                        )
                        for rel in found
                    ]
                    plan.context = context
                    inputs.update(f"context={word}\n{context.files_digest(found)}\n".encode())
                else:
                    stage_words.append(word)
            shown = " ".join(
                [f"--{k}={v}" for k, v in instruction.flags.items()] + [w for w, _ in words]
            )
            created_by = f"{keyword} {shown} # buildkit"
            key = step_key(state.key, created_by, "sha256:" + inputs.hexdigest())

            async def work(scratch: _Scratch) -> None:
                if source_layers is not None:
                    source_root = await self._mount_source(scratch, source_layers)
                    for word in stage_words:
                        plan.items += [
                            (path, name, "stage")
                            for path, name in copying.stage_sources(
                                source_root, word, line, self.file, from_ref or ""
                            )
                        ]
                await anyio.to_thread.run_sync(plan.copy_into, scratch.merged)

            await self._layer_step(state, key, created_by, work)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _expand_heredoc(self, content: str, env: Mapping[str, str], line: int) -> str:
        # substitution only, quotes kept (a heredoc is not a shell word)
        escaped = content.replace("'", "\0q").replace('"', "\0d")
        expanded = self._expand(escaped, env, line)
        return expanded.replace("\0q", "'").replace("\0d", '"')

    def _context_for(self, from_ref: str | None, env: Mapping[str, str], line: int) -> BuildContext:
        if from_ref is None:
            return self.context
        name = self._expand(from_ref, self.meta_env | dict(env), line)
        path = self.options.additional_contexts.get(name)
        if path is None:
            raise df.DockerfileError(f"unknown build context {name}", line=line, file=self.file)
        return BuildContext(path)

    # ------------------------------------------------------------------ commit

    async def _commit_image(self, state: _State) -> ImageRecord:
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
        data = _config_bytes(state.config)
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


STALE_AFTER = 600.0  # seconds


def remove_stale_steps(images_root: Path, now: float | None = None) -> list[str]:
    """Remove the step directories a killed build left (``containers/build-*``): those
    not mounted and untouched for ``STALE_AFTER`` seconds. Blocking. Returns their names."""
    removed: list[str] = []
    base = images_root / "containers"
    if not base.is_dir():
        return removed
    moment = time.time() if now is None else now
    for entry in base.glob("build-*"):
        try:
            age = moment - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        mounted = any(overlay.is_mounted(entry / name) for name in ("merged", "source"))
        if age < STALE_AFTER or mounted:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


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
