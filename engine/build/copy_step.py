"""The COPY and ADD instructions: their sources (context, another stage or image, a named
context, heredocs, URLs for ADD), the digest of what the sources hold (the cache key's
input), then the copy into the step's root.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from engine.build import copying, files
from engine.build import dockerfile as df
from engine.build.cache import step_key
from engine.build.context import BuildContext
from engine.build.scratch import Scratch, StageState, mount_source
from engine.images.store import LayerRecord

if TYPE_CHECKING:
    from engine.build.builder import Builder


async def copy_instruction(
    builder: Builder,
    parsed: df.Dockerfile,
    stage: df.Stage,
    instruction: df.Instruction,
    state: StageState,
) -> None:
    """A COPY or ADD step: its sources, the digest of what they hold, then the copy."""
    keyword, line = instruction.keyword, instruction.line
    env = builder.stage_env(state)
    heredocs = {h.name: h for h in instruction.heredocs}
    words: list[tuple[str, df.Heredoc | None]] = []
    for word in instruction.args:
        marker = word.lstrip("<").lstrip("-").strip("'\"") if word.startswith("<<") else None
        if marker is not None and marker in heredocs:
            words.append((marker, heredocs[marker]))
        else:
            words.append((builder.expand(word, env, line), None))
    if len(words) < 2:
        raise df.DockerfileError(
            f"{keyword} requires at least two arguments", line=line, file=builder.file
        )
    dest_raw, sources = words[-1][0], words[:-1]
    working_dir = state.run_config.get("WorkingDir") or "/"
    chown = instruction.flag("chown")
    chmod = instruction.flag("chmod")
    plan = copying.CopyPlan(
        keyword=keyword,
        dest=posixpath.join(working_dir, dest_raw),
        dest_is_dir=dest_raw.endswith("/") or len(sources) > 1,
        chown=builder.expand(chown, env, line) if chown else None,
        mode=(
            files.parse_chmod(builder.expand(chmod, env, line), line=line, file=builder.file)
            if chmod
            else None
        ),
        line=line,
        file=builder.file,
    )
    from_ref = instruction.flag("from")
    inputs = hashlib.sha256()
    source_layers: list[LayerRecord] | None = None
    tmpdir = Path(tempfile.mkdtemp(prefix="pycompose-build-"))
    try:
        if from_ref is not None:
            ref = builder.expand(from_ref, builder.meta_env | env, line)
            source_stage = parsed.source_stage(ref, stage, line)
            if source_stage is not None:
                source = builder.states[source_stage.index]
                source_layers, source_key = list(source.layers), source.key
            elif ref in builder.options.additional_contexts:
                source_layers, source_key = None, ""
            else:
                record = await builder.image(ref, line)
                source_layers, source_key = list(record.layers), record.id
            inputs.update(f"from={source_key}\n".encode())
        context = _context_for(builder, from_ref, env, line) if source_layers is None else None
        stage_words: list[str] = []
        for word, heredoc in sources:
            if heredoc is not None:
                content = heredoc.content
                if heredoc.expand:
                    content = _expand_heredoc(builder, content, env, line)
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
                    file=builder.file,
                    hint="clone it into the build context and COPY it",
                )
            elif keyword == "ADD" and word.startswith(("http://", "https://")):
                path = await copying.download(
                    word, tmpdir, instruction.flag("checksum"), line=line, file=builder.file
                )
                if plan.mode is None:
                    path.chmod(0o600)
                name = posixpath.basename(word.split("?", 1)[0].rstrip("/")) or "index.html"
                plan.items.append((path, name, "url"))
                inputs.update(f"url={word}\n{copying.file_digest(path)}\n".encode())
            elif context is not None:
                found = context.sources(word, line=line, file=builder.file)
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

        async def work(scratch: Scratch) -> None:
            if source_layers is not None:
                source_root = await mount_source(builder.images.root, scratch, source_layers)
                for word in stage_words:
                    plan.items += [
                        (path, name, "stage")
                        for path, name in copying.stage_sources(
                            source_root, word, line, builder.file, from_ref or ""
                        )
                    ]
            await anyio.to_thread.run_sync(plan.copy_into, scratch.merged)

        await builder.layer_step(state, key, created_by, work)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _expand_heredoc(builder: Builder, content: str, env: Mapping[str, str], line: int) -> str:
    # substitution only, quotes kept (a heredoc is not a shell word)
    escaped = content.replace("'", "\0q").replace('"', "\0d")
    expanded = builder.expand(escaped, env, line)
    return expanded.replace("\0q", "'").replace("\0d", '"')


def _context_for(
    builder: Builder, from_ref: str | None, env: Mapping[str, str], line: int
) -> BuildContext:
    if from_ref is None:
        return builder.context
    name = builder.expand(from_ref, builder.meta_env | dict(env), line)
    path = builder.options.additional_contexts.get(name)
    if path is None:
        raise df.DockerfileError(f"unknown build context {name}", line=line, file=builder.file)
    return BuildContext(path)
