"""Dockerfile parsing: text -> stages of instructions. Pure: no I/O.

Phases (each a function):

1. ``_directives``: parser directives at the very top (``# escape=``, ``# syntax=``,
   ``# check=``); the first other line ends them.
2. ``_logical_lines``: comments dropped, line continuations joined (the escape character
   at the end of a line; comment and empty lines inside a continuation are skipped, as
   Docker does), heredocs (``<<EOF``, ``<<-EOF``, ``<<"EOF"``) of RUN/COPY/ADD read.
3. ``_instruction``: keyword, ``--flags`` (checked against each instruction's table),
   exec (JSON) or shell form, per-instruction argument checks.
4. ``parse``: ARGs before the first FROM are the global (meta) ARGs; each FROM opens a
   stage; ``Dockerfile.plan(target)`` (engine.build.stages) gives the stages a target
   needs, in order.

Variable substitution (``expand``, engine.build.dockerfile_words) follows Docker's shell
lexer. It happens at build time (values come from the base
image and earlier steps), for the instructions in ``EXPANDED``; RUN, CMD, ENTRYPOINT,
SHELL, HEALTHCHECK and ONBUILD are left to the shell, as Docker does.

Every error cites ``Dockerfile:LINE`` and says what to do.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Sequence

from engine.build.dockerfile_words import _NAME_CHARS, DockerfileError, expand, split_words
from engine.build.stages import Dockerfile, Heredoc, Instruction, Stage

INSTRUCTIONS = (
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
# the instructions whose arguments see ARG/ENV values (Docker's "environment replacement")
EXPANDED = frozenset(
    {
        "ADD",
        "COPY",
        "ENV",
        "EXPOSE",
        "FROM",
        "LABEL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
        "ARG",
    }
)
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
# flag name -> takes a value (False: a boolean flag, ``--link`` or ``--link=false``)
FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": True},
    "COPY": {"from": True, "chown": True, "chmod": True, "link": False},
    "ADD": {"chown": True, "chmod": True, "link": False, "checksum": True},
    "RUN": {"network": True, "mount": True, "security": True},
    "HEALTHCHECK": {
        "interval": True,
        "timeout": True,
        "start-period": True,
        "start-interval": True,
        "retries": True,
    },
}
KNOWN_DIRECTIVES = ("syntax", "escape", "check")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*\Z")
_DIRECTIVE = re.compile(r"^#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
_HEREDOC = re.compile(r"(?:^|(?<=\s))<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word.upper(), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None


def _directives(lines: list[str], file: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if not match:
            break
        key, value = match.group(1).lower(), match.group(2)
        if key not in KNOWN_DIRECTIVES:
            break  # a comment: it ends the directives (Docker's rule)
        if key in found:
            raise DockerfileError(
                f"only one {key} parser directive can be used", line=index + 1, file=file
            )
        found[key] = value
        index += 1
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(
            f"invalid escape token {escape!r} does not match ` or \\",
            line=1,
            file=file,
            hint="use # escape=\\ or # escape=`",
        )
    return found, index


@dataclasses.dataclass(slots=True)
class _Logical:
    text: str
    line: int
    end_line: int
    heredocs: list[Heredoc]


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.lstrip()
    return not stripped or stripped.startswith("#")


def _logical_lines(lines: list[str], start: int, escape: str, file: str) -> list[_Logical]:
    out: list[_Logical] = []
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    index = start
    while index < len(lines):
        if _is_comment_or_blank(lines[index]):
            index += 1
            continue
        first = index
        parts: list[str] = []
        while True:
            line = lines[index]
            index += 1
            match = continuation.search(line)
            if not match:
                parts.append(line)
                break
            parts.append(line[: match.start()])
            while index < len(lines) and _is_comment_or_blank(lines[index]):
                index += 1
            if index >= len(lines):
                break
        text = "".join(parts).strip()
        logical = _Logical(text, first + 1, index, [])
        keyword = text.split(None, 1)[0].upper()
        if keyword in HEREDOC_INSTRUCTIONS or (
            keyword == "ONBUILD"
            and len(text.split()) > 1
            and text.split()[1].upper() in HEREDOC_INSTRUCTIONS
        ):
            for match in _HEREDOC.finditer(text):
                chomp, quote, name = match.group(1) == "-", match.group(2), match.group(3)
                body: list[str] = []
                while True:
                    if index >= len(lines):
                        raise DockerfileError(
                            f"heredoc <<{name} is not terminated",
                            line=logical.line,
                            file=file,
                            hint=f"end it with a line holding only {name}",
                        )
                    line = lines[index]
                    index += 1
                    if chomp:
                        line = line.lstrip("\t")
                    if line == name:
                        break
                    body.append(line + "\n")
                logical.heredocs.append(Heredoc(name, "".join(body), expand=not quote, chomp=chomp))
            logical.end_line = index
        out.append(logical)
    return out


def _split_flags(keyword: str, rest: str, line: int, file: str) -> tuple[dict[str, str], str]:
    allowed = FLAGS.get(keyword, {})
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        token = rest.split(None, 1)[0]
        remainder = rest[len(token) :].lstrip()
        name, has_value, value = token[2:].partition("=")
        if name not in allowed:
            hint = None
            close = difflib.get_close_matches(name, list(allowed), n=1)
            if close:
                hint = f"did you mean --{close[0]}?"
            elif not allowed:
                hint = f"{keyword} takes no flags"
            else:
                hint = "its flags are " + ", ".join(f"--{f}" for f in allowed)
            raise DockerfileError(
                f"unknown flag: --{name} for {keyword}", line=line, file=file, hint=hint
            )
        if name in flags:
            raise DockerfileError(f"duplicate flag --{name}", line=line, file=file)
        if allowed[name]:
            if not has_value or not value:
                raise DockerfileError(
                    f"flag --{name} needs a value",
                    line=line,
                    file=file,
                    hint=f"write --{name}=VALUE",
                )
            flags[name] = value
        else:
            if has_value and value.lower() not in ("true", "false"):
                raise DockerfileError(
                    f"flag --{name} is a boolean: {value!r}",
                    line=line,
                    file=file,
                    hint="use true or false",
                )
            flags[name] = value.lower() if has_value else "true"
        rest = remainder
    return flags, rest


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _pairs(
    keyword: str, rest: str, escape: str, line: int, file: str
) -> tuple[tuple[str, str | None], ...]:
    words = split_words(rest, escape)
    if not words:
        raise DockerfileError(f"{keyword} requires at least one argument", line=line, file=file)
    if keyword == "ARG":
        pairs: list[tuple[str, str | None]] = []
        for word in words:
            name, has_value, value = word.partition("=")
            if not name or not set(name) <= _NAME_CHARS:
                raise DockerfileError(
                    f"ARG names can only contain letters, digits and _: {name!r}",
                    line=line,
                    file=file,
                )
            pairs.append((name, value if has_value else None))
        return tuple(pairs)
    if "=" not in words[0]:
        # legacy form: ENV key value (the value is the rest of the line)
        if keyword == "ENV" and len(words) >= 2:
            value = rest.strip()[len(words[0]) :].strip()
            return ((words[0], value),)
        raise DockerfileError(
            f"{keyword} names can not be blank and need a value: {words[0]!r}",
            line=line,
            file=file,
            hint=f"write {keyword} key=value",
        )
    out: list[tuple[str, str | None]] = []
    for word in words:
        name, has_value, value = word.partition("=")
        if not has_value:
            raise DockerfileError(
                f"{keyword} arguments must be key=value pairs: {word!r}",
                line=line,
                file=file,
                hint='quote values that hold spaces: key="a b"',
            )
        if not name:
            raise DockerfileError(f"{keyword} names can not be blank", line=line, file=file)
        out.append((name, value))
    return tuple(out)


def parse_duration(
    text: str, *, line: int | None = None, file: str = "Dockerfile", what: str = "duration"
) -> int:
    """Go's time.ParseDuration subset Docker accepts: ``1m30s``, ``500ms``, ``0`` -> nanoseconds."""
    units = {
        "ns": 1,
        "us": 1_000,
        "µs": 1_000,
        "ms": 1_000_000,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
    }
    if text == "0":
        return 0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DockerfileError(
            f"invalid {what} {text!r}", line=line, file=file, hint="write e.g. 30s, 1m30s, 500ms"
        )
    return int(sum(float(number) * units[unit] for number, unit in parts))


def _check(keyword: str, instruction: Instruction, rest: str, file: str) -> None:
    line = instruction.line

    def fail(message: str, hint: str | None = None) -> DockerfileError:
        return DockerfileError(message, line=line, file=file, hint=hint)

    args = instruction.args
    if keyword == "FROM":
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise fail("FROM requires either one or three arguments", "write FROM IMAGE [AS NAME]")
        if len(args) == 3 and not STAGE_NAME.match(args[2].lower()):
            raise fail(
                f"invalid name for build stage: {args[2]!r}",
                "names start with a letter: [a-z][a-z0-9-_.]*",
            )
    elif keyword in ("COPY", "ADD"):
        if len(args) < 2:  # a heredoc source is a word too: COPY <<EOF /dest
            raise fail(
                f"{keyword} requires at least two arguments", f"write {keyword} SOURCE... DEST"
            )
        if keyword == "ADD" and "from" in instruction.flags:
            raise fail("ADD has no --from flag", "use COPY --from=STAGE")
    elif keyword in ("RUN", "CMD", "ENTRYPOINT"):
        if keyword == "RUN" and not args and not instruction.heredocs:
            raise fail("RUN requires at least one argument", "write RUN COMMAND")
        if "mount" in instruction.flags or "security" in instruction.flags:
            raise fail(
                "RUN --mount and --security need BuildKit",
                "remove the flag; this builder runs steps as the classic builder does",
            )
        network = instruction.flags.get("network")
        if network is not None and network not in ("default", "none", "host"):
            raise fail(f"invalid RUN --network={network}", "use default, none or host")
    elif keyword == "SHELL":
        if not instruction.exec_form or not args:
            raise fail(
                "SHELL requires the arguments to be in JSON form", 'write SHELL ["/bin/sh", "-c"]'
            )
    elif keyword in ("STOPSIGNAL", "USER", "WORKDIR", "MAINTAINER"):
        if not rest:
            raise fail(f"{keyword} requires exactly one argument")
        if keyword in ("STOPSIGNAL", "USER") and len(args) != 1:
            raise fail(f"{keyword} requires exactly one argument")
    elif keyword in ("EXPOSE", "VOLUME"):
        if not args:
            raise fail(f"{keyword} requires at least one argument")
    elif keyword == "HEALTHCHECK":
        if not args:
            raise fail(
                "HEALTHCHECK requires an argument",
                "write HEALTHCHECK NONE or HEALTHCHECK [OPTIONS] CMD command",
            )
        for name in ("interval", "timeout", "start-period", "start-interval"):
            value = instruction.flags.get(name)
            if value is not None:
                nanos = parse_duration(value, line=line, file=file, what=f"--{name}")
                if 0 < nanos < 10**6:
                    raise fail(f"--{name} cannot be less than 1ms")
        retries = instruction.flags.get("retries")
        if retries is not None and (not retries.isdigit()):
            raise fail(f"--retries must be a number, not {retries!r}")


def _instruction(logical: _Logical, escape: str, file: str, *, nested: bool = False) -> Instruction:
    line = logical.line
    keyword_raw, _, rest = logical.text.partition(" ")
    if "\t" in keyword_raw:
        keyword_raw, _, more = keyword_raw.partition("\t")
        rest = more + " " + rest
    keyword = keyword_raw.upper()
    rest = rest.strip()
    if keyword not in INSTRUCTIONS:
        raise DockerfileError(
            f"unknown instruction: {keyword_raw}",
            line=line,
            file=file,
            hint=_did_you_mean(keyword_raw, INSTRUCTIONS)
            or "see the Dockerfile reference for the instructions",
        )
    if keyword == "ONBUILD":
        if not rest:
            raise DockerfileError("ONBUILD requires at least one argument", line=line, file=file)
        inner = _instruction(
            _Logical(rest, line, logical.end_line, logical.heredocs), escape, file, nested=True
        )
        if inner.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
            raise DockerfileError(
                f"{inner.keyword} isn't allowed as an ONBUILD trigger", line=line, file=file
            )
        return Instruction("ONBUILD", line, logical.end_line, logical.text, sub=inner)
    flags, rest = _split_flags(keyword, rest, line, file)
    if keyword == "HEALTHCHECK" and flags and rest.upper().startswith("NONE"):
        raise DockerfileError("HEALTHCHECK NONE takes no options", line=line, file=file)
    exec_form = False
    pairs: tuple[tuple[str, str | None], ...] = ()
    args: tuple[str, ...]
    if keyword in ("ENV", "LABEL", "ARG"):
        pairs = _pairs(keyword, rest, escape, line, file)
        args = ()
    elif keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"):
        as_json = _json_list(rest)
        if as_json is not None:
            exec_form, args = True, tuple(as_json)
        elif keyword in ("RUN", "CMD", "ENTRYPOINT"):
            args = (rest,) if rest else ()
        else:
            args = tuple(split_words(rest, escape))
    elif keyword == "HEALTHCHECK":
        kind, _, command = rest.partition(" ")
        kind = kind.upper()
        if kind == "NONE":
            if command.strip():
                raise DockerfileError("HEALTHCHECK NONE takes no arguments", line=line, file=file)
            args = ("NONE",)
        elif kind == "CMD":
            command = command.strip()
            as_json = _json_list(command)
            if as_json is not None:
                exec_form, args = True, ("CMD", *as_json)
            elif command:
                args = ("CMD", command)
            else:
                raise DockerfileError("HEALTHCHECK CMD requires a command", line=line, file=file)
        else:
            raise DockerfileError(
                f"unknown type for HEALTHCHECK: {kind or '(none)'}",
                line=line,
                file=file,
                hint="write HEALTHCHECK NONE or HEALTHCHECK [OPTIONS] CMD command",
            )
    elif keyword in ("WORKDIR", "MAINTAINER"):
        args = (rest,) if rest else ()
    else:
        args = tuple(split_words(rest, escape))
    instruction = Instruction(
        keyword,
        line,
        logical.end_line,
        logical.text,
        flags=flags,
        args=args,
        exec_form=exec_form,
        heredocs=tuple(logical.heredocs),
        pairs=pairs,
    )
    _check(keyword, instruction, rest, file)
    return instruction


def parse(text: str, *, file: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile; raise :class:`DockerfileError` at the first problem."""
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").split("\n")
    directives, start = _directives(lines, file)
    escape = directives.get("escape", "\\")
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None

    def close() -> None:
        if head is None:
            return
        name = head.args[2].lower() if len(head.args) == 3 else None
        if name is not None and any(stage.name == name for stage in stages):
            raise DockerfileError(
                f'duplicate stage name "{name}"',
                line=head.line,
                file=file,
                hint="give each stage its own AS name",
            )
        stages.append(
            Stage(
                len(stages),
                name,
                head.args[0],
                head.flags.get("platform"),
                head.line,
                tuple(current),
                head.text,
            )
        )

    for logical in _logical_lines(lines, start, escape, file):
        instruction = _instruction(logical, escape, file)
        if instruction.keyword == "FROM":
            close()
            head, current = instruction, []
        elif head is None:
            if instruction.keyword != "ARG":
                raise DockerfileError(
                    f"{instruction.keyword} before the first FROM",
                    line=instruction.line,
                    file=file,
                    hint="only ARG may come before FROM; start the Dockerfile with FROM IMAGE",
                )
            meta_args.append(instruction)
        else:
            current.append(instruction)
    close()
    if not stages:
        raise DockerfileError(
            "the Dockerfile has no FROM instruction",
            file=file,
            hint="start it with FROM IMAGE (or FROM scratch)",
        )
    return Dockerfile(tuple(stages), tuple(meta_args), escape, directives.get("syntax"), file)


def parse_ports(
    words: Sequence[str], *, line: int | None = None, file: str = "Dockerfile"
) -> list[str]:
    """EXPOSE words (already expanded) -> ``["80/tcp", ...]``; ranges are listed one by one."""
    out: list[str] = []
    for word in words:
        port, _, protocol = word.partition("/")
        protocol = (protocol or "tcp").lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise DockerfileError(
                f"invalid proto: {protocol}", line=line, file=file, hint="use tcp, udp or sctp"
            )
        if ":" in port:
            raise DockerfileError(
                f"EXPOSE {word}: publishing a host port is not allowed in a Dockerfile",
                line=line,
                file=file,
                hint="EXPOSE only the container port; publish it with ports: in compose",
            )
        low, dash, high = port.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise DockerfileError(f"invalid containerPort: {port}", line=line, file=file)
        first, last = int(low), int(high) if dash else int(low)
        if not 0 < first <= last <= 65535:
            raise DockerfileError(f"invalid port range: {port}", line=line, file=file)
        out += [f"{number}/{protocol}" for number in range(first, last + 1)]
    return out


def parse_instruction(
    text: str, *, line: int, escape: str = "\\", file: str = "Dockerfile"
) -> Instruction:
    """One instruction from its text (ONBUILD triggers of a base image)."""
    if not text.strip():
        raise DockerfileError("empty instruction", line=line, file=file)
    return _instruction(_Logical(text.strip(), line, line, []), escape, file)


# the parsed Dockerfile and its words are used through this module (``df.Stage``...)
__all__ = [
    "EXPANDED",
    "FLAGS",
    "HEREDOC_INSTRUCTIONS",
    "INSTRUCTIONS",
    "KNOWN_DIRECTIVES",
    "STAGE_NAME",
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "Stage",
    "expand",
    "parse",
    "parse_duration",
    "parse_instruction",
    "parse_ports",
    "split_words",
]
