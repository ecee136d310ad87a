"""A parsed Dockerfile: its stages of instructions, and the stages a target needs.

``Dockerfile.plan(target)`` gives the stages a build of ``target`` runs, in order: the
target and every stage it names in FROM or ``COPY --from``, after global ARG substitution.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

from engine.build.dockerfile_words import DockerfileError, expand


@dataclasses.dataclass(frozen=True, slots=True)
class Heredoc:
    """``<<NAME`` and the lines after the instruction, up to ``NAME``."""

    name: str
    content: str
    expand: bool  # False when the name was quoted (<<"EOF"): no substitution
    chomp: bool  # <<-: leading tabs were stripped


@dataclasses.dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction as written. ``args`` are raw words (not yet expanded).

    ``exec_form``: the arguments were a JSON array (then ``args`` are its strings);
    otherwise RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD keep their shell text as ``args[0]``.
    ``pairs``: ENV/LABEL/ARG ``key=value`` pairs (raw value; ARG without ``=`` has None).
    """

    keyword: str
    line: int
    end_line: int
    text: str  # the logical line (continuations joined), for progress and history
    flags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    args: tuple[str, ...] = ()
    exec_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    pairs: tuple[tuple[str, str | None], ...] = ()
    sub: Instruction | None = None  # ONBUILD's instruction

    def flag(self, name: str, default: str | None = None) -> str | None:
        return self.flags.get(name, default)

    def bool_flag(self, name: str) -> bool:
        return self.flags.get(name, "false") == "true"


@dataclasses.dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None
    base: str  # raw (may hold ${ARG}s of the global scope)
    platform: str | None
    line: int
    instructions: tuple[Instruction, ...]
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Dockerfile:
    stages: tuple[Stage, ...]
    meta_args: tuple[Instruction, ...]
    escape: str = "\\"
    syntax: str | None = None
    file: str = "Dockerfile"

    def error(
        self, message: str, line: int | None = None, hint: str | None = None
    ) -> DockerfileError:
        return DockerfileError(message, line=line, file=self.file, hint=hint)

    def stage_named(self, name: str) -> Stage | None:
        wanted = name.lower()
        for stage in self.stages:
            if stage.name == wanted:
                return stage
        return None

    def target_stage(self, target: str | None) -> Stage:
        if not target:
            return self.stages[-1]
        stage = self.stage_named(target)
        if stage is None:
            names = [s.name for s in self.stages if s.name]
            close = difflib.get_close_matches(target.lower(), names, n=1)
            hint = (
                f'did you mean "{close[0]}"?'
                if close
                else (
                    f"the stages are: {', '.join(names)}"
                    if names
                    else "name a stage with FROM ... AS NAME"
                )
            )
            raise self.error(f'target stage "{target}" could not be found', hint=hint)
        return stage

    def source_stage(self, ref: str, current: Stage, line: int) -> Stage | None:
        """The stage ``ref`` (a name or an index) names from ``current``, or None (an image)."""
        if ref.isdigit():
            index = int(ref)
            if index >= current.index:
                raise self.error(
                    f"invalid from flag value {ref}: refers to current or future build stage",
                    line,
                    hint="refer to an earlier stage, by its index or its AS name",
                )
            return self.stages[index]
        stage = self.stage_named(ref)
        if stage is not None and stage.index >= current.index:
            raise self.error(
                f'stage "{ref}" is defined later in the Dockerfile (or is the current stage)',
                line,
                hint="move the stage above the one that uses it",
            )
        return stage

    def plan(self, target: str | None, meta_env: Mapping[str, str]) -> list[Stage]:
        """The stages the target needs (itself included), in Dockerfile order."""
        final = self.target_stage(target)
        needed: set[int] = set()
        pending = [final]
        while pending:
            stage = pending.pop()
            if stage.index in needed:
                continue
            needed.add(stage.index)
            base = expand(stage.base, meta_env, self.escape, line=stage.line, file=self.file)
            parent = self.stage_named(base)
            if parent is not None and parent.index < stage.index:
                pending.append(parent)
            for instruction in stage.instructions:
                ref = instruction.flag("from") if instruction.keyword in ("COPY", "ADD") else None
                if ref is None:
                    continue
                ref = expand(ref, meta_env, self.escape, line=instruction.line, file=self.file)
                source = self.source_stage(ref, stage, instruction.line)
                if source is not None:
                    pending.append(source)
        return [stage for stage in self.stages if stage.index in needed]
