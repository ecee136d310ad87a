"""The Dockerfile parser and the substitution rules (pure; tables of cases)."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import (
    DockerfileError,
    expand,
    parse,
    parse_duration,
    parse_ports,
    split_words,
)

ENV = {"A": "1", "EMPTY": "", "SPACE": "a b"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}", "1"),
        ("x${A}y", "x1y"),
        ("$UNSET", ""),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${A:-d}", "1"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${A}}", "1"),
        ("'$A'", "$A"),
        ('"$A"', "1"),
        ('"a\\"b"', 'a"b'),
        ('"\\$A"', "$A"),
        ('"a\\nb"', "a\\nb"),
        ("\\$A", "$A"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("a$", "a$"),
        ("$-", "$-"),
        ("${SPACE}", "a b"),
        ("${A:?must}", "1"),
    ],
)
def test_expand(word, expected):
    assert expand(word, ENV) == expected


def test_expand_with_backtick_escape():
    assert expand("`$A", ENV, "`") == "$A"
    assert expand("C:\\dir\\$A", ENV, "`") == "C:\\dir\\1"


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${UNSET:?it is needed}", "UNSET: it is needed"),
        ("${UNSET?}", "UNSET: parameter not set"),
        ("${A", "missing '}'"),
        ("${}", "bad substitution"),
        ("${A#x}", "unsupported modifier (#)"),
        ("'abc", "matching '"),
        ('"abc', 'matching "'),
    ],
)
def test_expand_errors(word, message):
    with pytest.raises(DockerfileError, match="Dockerfile:7:") as info:
        expand(word, ENV, line=7)
    assert message in str(info.value)


def test_split_words_keeps_quotes():
    assert split_words("A=\"x y\" B='z w' C=a\\ b") == ['A="x y"', "B='z w'", "C=a\\ b"]


FULL = """\
# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=busybox
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
ENV A=1 B="two words"
ENV LEGACY value with spaces
ARG X Y=2
LABEL a=b "c d"=e
WORKDIR /app
USER app:app
RUN echo one && \\
    # a comment inside the continuation

    echo two
RUN ["echo", "exec"]
CMD echo cmd
ENTRYPOINT ["/bin/sh", "-c"]
EXPOSE 80 53/udp
VOLUME ["/data", "/logs"]
VOLUME /other
HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD wget -q localhost || exit 1
SHELL ["/bin/bash", "-c"]
STOPSIGNAL SIGINT
ONBUILD RUN echo later
COPY --chown=1:2 --chmod=644 --link a b /dst/
ADD --chmod=600 http://127.0.0.1/x /y
COPY <<EOF /etc/note
hello $A
EOF
RUN <<-EOT
\techo heredoc
\tEOT
MAINTAINER someone
FROM build
COPY --from=build /app /app
HEALTHCHECK NONE
"""


def test_every_instruction_parses():
    dockerfile = parse(FULL)
    assert dockerfile.syntax == "docker/dockerfile:1"
    assert [arg.pairs for arg in dockerfile.meta_args] == [(("BASE", "busybox"),)]
    first, second = dockerfile.stages
    assert (first.name, first.base, first.platform, first.line) == (
        "build",
        "${BASE}",
        "$BUILDPLATFORM",
        4,
    )
    by_line = {instruction.line: instruction for instruction in first.instructions}
    assert by_line[5].pairs == (("A", "1"), ("B", '"two words"'))
    assert by_line[6].pairs == (("LEGACY", "value with spaces"),)
    assert by_line[7].pairs == (("X", None), ("Y", "2"))
    assert by_line[8].pairs == (("a", "b"), ('"c d"', "e"))
    run = by_line[11]
    assert (run.line, run.end_line, run.args) == (11, 14, ("echo one &&     echo two",))
    assert by_line[15].exec_form and by_line[15].args == ("echo", "exec")
    assert by_line[16].args == ("echo cmd",) and not by_line[16].exec_form
    assert by_line[18].args == ("80", "53/udp")
    assert by_line[19].args == ("/data", "/logs") and by_line[19].exec_form
    health = by_line[21]
    assert health.flags == {"interval": "5s", "timeout": "3s", "retries": "2"}
    assert health.args == ("CMD", "wget -q localhost || exit 1")
    assert by_line[24].sub is not None and by_line[24].sub.text == "RUN echo later"
    copy = by_line[25]
    assert copy.flags == {"chown": "1:2", "chmod": "644", "link": "true"}
    assert copy.args == ("a", "b", "/dst/")
    heredoc = by_line[27]
    assert heredoc.heredocs[0].content == "hello $A\n" and heredoc.heredocs[0].expand
    assert heredoc.end_line == 29
    script = by_line[30]
    assert script.heredocs[0].content == "echo heredoc\n" and script.heredocs[0].chomp
    assert by_line[33].args == ("someone",)
    assert second.base == "build"
    assert [i.keyword for i in second.instructions] == ["COPY", "HEALTHCHECK"]
    assert second.instructions[1].args == ("NONE",)


def test_plan_keeps_only_the_stages_a_target_needs():
    dockerfile = parse(
        "FROM busybox AS a\nFROM busybox AS b\nFROM a AS c\nCOPY --from=1 /x /x\n"
        "FROM busybox AS d\n"
    )
    assert [s.name for s in dockerfile.plan("c", {})] == ["a", "b", "c"]
    assert [s.name for s in dockerfile.plan(None, {})] == ["d"]
    assert [s.name for s in dockerfile.plan("b", {})] == ["b"]


def test_plan_follows_stage_names_given_by_global_args():
    dockerfile = parse("ARG FROM_STAGE=a\nFROM busybox AS a\nFROM ${FROM_STAGE} AS b\n")
    assert [s.name for s in dockerfile.plan(None, {"FROM_STAGE": "a"})] == ["a", "b"]


def test_quoted_heredoc_is_not_expanded_and_escape_directive_changes_continuations():
    dockerfile = parse("# escape=`\nFROM x\nRUN echo a `\n  b\nCOPY <<'EOF' /f\n$A\nEOF\n")
    run, copy = dockerfile.stages[0].instructions
    assert run.args == ("echo a   b",)
    assert not copy.heredocs[0].expand


def test_directives_stop_at_the_first_other_line():
    dockerfile = parse("# a comment\n# escape=`\nFROM x\nRUN a \\\nRUN b\n")
    assert dockerfile.escape == "\\"
    assert [i.text for i in dockerfile.stages[0].instructions] == ["RUN a RUN b"]


def test_an_unknown_directive_is_a_comment_that_ends_the_directives():
    dockerfile = parse("# unknown=value\n# escape=`\nFROM x\nRUN a \\\nRUN b\n")
    assert dockerfile.escape == "\\"
    assert parse("# ESCAPE = `\nFROM x\n").escape == "`"


def test_keywords_are_case_insensitive_and_crlf_is_accepted():
    dockerfile = parse("from x as Base\r\nrun echo hi\r\n")
    assert dockerfile.stages[0].name == "base"
    assert dockerfile.stages[0].instructions[0].keyword == "RUN"
    assert dockerfile.stages[0].instructions[0].args == ("echo hi",)


ERRORS = [
    ("FROM x\nRUN true\nRUNN echo\n", 3, "unknown instruction: RUNN", "did you mean RUN?"),
    (
        "FROM x\ncopy a b\nWORKDIRR /x\n",
        3,
        "unknown instruction: WORKDIRR",
        "did you mean WORKDIR?",
    ),
    ("RUN true\nFROM x\n", 1, "RUN before the first FROM", "only ARG may come before FROM"),
    ("FROM x\nCOPY --form=a b c\n", 2, "unknown flag: --form", "did you mean --from?"),
    ("FROM x\nCOPY --from a b\n", 2, "flag --from needs a value", "--from=VALUE"),
    ("FROM x\nRUN --mount=type=cache,target=/x true\n", 2, "need BuildKit", None),
    ("FROM x\nCOPY onlyone\n", 2, "COPY requires at least two arguments", None),
    ("FROM x y\n", 1, "FROM requires either one or three arguments", None),
    ("FROM x AS 1bad\n", 1, "invalid name for build stage", None),
    ("FROM x AS a\nFROM y AS a\n", 2, 'duplicate stage name "a"', None),
    ("FROM x\nENV\n", 2, "ENV requires at least one argument", None),
    ("FROM x\nLABEL novalue\n", 2, "LABEL names can not be blank and need a value", None),
    ("FROM x\nSHELL /bin/sh -c\n", 2, "SHELL requires the arguments to be in JSON form", None),
    ("FROM x\nHEALTHCHECK --interval=5 CMD true\n", 2, "invalid --interval '5'", None),
    ("FROM x\nHEALTHCHECK --retries=x CMD true\n", 2, "--retries must be a number", None),
    ("FROM x\nHEALTHCHECK TEST true\n", 2, "unknown type for HEALTHCHECK: TEST", None),
    ("FROM x\nHEALTHCHECK --interval=1s NONE\n", 2, "HEALTHCHECK NONE takes no options", None),
    ("FROM x\nONBUILD FROM y\n", 2, "FROM isn't allowed as an ONBUILD trigger", None),
    ("FROM x\nCOPY --link=maybe a b\n", 2, "flag --link is a boolean", None),
    ("FROM x\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument", None),
    ("FROM x\nRUN cat <<EOF\nnever ends\n", 2, "heredoc <<EOF is not terminated", None),
    ("FROM x\nENV A=1\nWORKDIR\n", 3, "WORKDIR requires exactly one argument", None),
    ("FROM x\nADD --from=a b c\n", 2, "unknown flag: --from for ADD", None),
    ("FROM x\nRUN --network=bridge true\n", 2, "invalid RUN --network=bridge", None),
    ("# escape=x\nFROM x\n", 1, "invalid escape token", None),
    ("# escape=\\\n# escape=`\nFROM x\n", 2, "only one escape parser directive", None),
    ("ARG A\n", None, "the Dockerfile has no FROM instruction", "FROM"),
]


@pytest.mark.parametrize(("text", "line", "message", "hint"), ERRORS)
def test_errors_cite_the_line_and_say_what_to_do(text, line, message, hint):
    with pytest.raises(DockerfileError) as info:
        parse(text)
    error = info.value
    prefix = f"Dockerfile:{line}: " if line else "Dockerfile: "
    assert str(error).startswith(prefix), str(error)
    assert message in str(error)
    assert error.line == line
    if hint:
        assert hint in (error.hint or "")


def test_missing_target_and_future_stage_references():
    dockerfile = parse("FROM x AS base\nFROM base AS final\nCOPY --from=2 /a /a\n")
    with pytest.raises(DockerfileError, match='target stage "finl" could not be found') as info:
        dockerfile.plan("finl", {})
    assert info.value.hint == 'did you mean "final"?'
    with pytest.raises(DockerfileError, match="Dockerfile:3: invalid from flag value 2"):
        dockerfile.plan("final", {})
    later = parse("FROM x AS one\nCOPY --from=two /a /a\nFROM x AS two\n")
    with pytest.raises(DockerfileError, match='Dockerfile:2: stage "two" is defined later'):
        later.plan("one", {})


def test_file_name_in_errors():
    with pytest.raises(DockerfileError, match=r"^web\.Dockerfile:2: unknown instruction"):
        parse("FROM x\nBOGUS\n", file="web.Dockerfile")


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("30s", 30 * 10**9),
        ("1m30s", 90 * 10**9),
        ("500ms", 5 * 10**8),
        ("0", 0),
        ("1.5s", 15 * 10**8),
    ],
)
def test_durations(text, nanos):
    assert parse_duration(text) == nanos


def test_ports():
    assert parse_ports(["80", "53/UDP", "8000-8002/tcp"]) == [
        "80/tcp",
        "53/udp",
        "8000/tcp",
        "8001/tcp",
        "8002/tcp",
    ]
    for bad in ("80/xyz", "8080:80", "abc", "70000"):
        with pytest.raises(DockerfileError, match="Dockerfile:4:"):
            parse_ports([bad], line=4)
