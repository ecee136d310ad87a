"""Config instructions on an image config (pure): Docker's rules, one test each."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import DockerfileError, parse
from engine.build.instructions import Scope, set_env


def run(dockerfile: str, *, build_args=None, config=None):
    """Apply every instruction of the last stage to ``config``; (config, scope, history)."""
    parsed = parse(dockerfile)
    meta = {}
    for instruction in parsed.meta_args:
        for name, raw in instruction.pairs:
            meta[name] = (build_args or {}).get(name, raw or "")
    scope = Scope(build_args=build_args or {}, meta_env=meta, used_args=set())
    image = {"config": dict(config or {"Env": ["PATH=/bin"]})}
    history = [scope.apply(i, image) for i in parsed.stages[-1].instructions]
    return image["config"], scope, history


def test_env_expands_with_the_environment_before_the_instruction():
    config, _, history = run('FROM x\nENV A=1\nENV A=2 B=$A\nENV PATH=/opt:$PATH C="a b"\n')
    assert config["Env"] == ["PATH=/opt:/bin", "A=2", "B=1", "C=a b"]
    assert history[1] == "ENV A=2 B=1"


def test_arg_scopes_build_args_and_env_precedence():
    config, scope, _ = run(
        "ARG G=global\nFROM x\nARG G\nARG L=local\nARG B=default\nARG NOVALUE\nENV L=env\n"
        "LABEL g=$G l=$L b=$B n=${NOVALUE:-unset}\n",
        build_args={"B": "given"},
    )
    assert config["Labels"] == {"g": "global", "l": "env", "b": "given", "n": "unset"}
    assert scope.args == {"G": "global", "L": "local", "B": "given", "NOVALUE": None}
    assert scope.used_args == {"B"}


def test_undeclared_global_arg_is_not_seen_in_the_stage():
    config, _, _ = run("ARG G=global\nFROM x\nLABEL g=[$G]\n")
    assert config["Labels"] == {"g": "[]"}


@pytest.mark.parametrize(
    ("dockerfile", "cmd", "entrypoint"),
    [
        ('FROM x\nENTRYPOINT ["e"]\n', None, ["e"]),  # inherited CMD reset
        ('FROM x\nCMD ["c"]\nENTRYPOINT ["e"]\n', ["c"], ["e"]),  # CMD of this stage kept
        ("FROM x\nCMD c d\n", ["/bin/sh", "-c", "c d"], ["base-entry"]),
        ('FROM x\nSHELL ["/bin/ash", "-eo"]\nENTRYPOINT e f\n', None, ["/bin/ash", "-eo", "e f"]),
        ("FROM x\nENTRYPOINT []\n", None, None),
    ],
)
def test_cmd_and_entrypoint(dockerfile, cmd, entrypoint):
    base = {"Env": [], "Cmd": ["base-cmd"], "Entrypoint": ["base-entry"]}
    config, _, _ = run(dockerfile, config=base)
    assert (config.get("Cmd"), config.get("Entrypoint")) == (cmd, entrypoint)


def test_the_other_config_instructions():
    config, _, history = run(
        "FROM x\nENV D=/srv PORT=80\nWORKDIR $D\nWORKDIR app\nWORKDIR ../other\nUSER ${U:-app}:staff\n"
        'EXPOSE $PORT 53/udp 7000-7001\nVOLUME /a $D/b\nVOLUME ["/c"]\nSTOPSIGNAL SIGQUIT\n'
        'HEALTHCHECK --interval=1m --start-period=2s --retries=0 CMD ["true"]\n'
        "ONBUILD COPY . /app\nONBUILD RUN make\nMAINTAINER me\n"
    )
    assert config["WorkingDir"] == "/srv/other"
    assert config["User"] == "app:staff"
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "7000/tcp": {}, "7001/tcp": {}}
    assert config["Volumes"] == {"/a": {}, "/srv/b": {}, "/c": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert config["Healthcheck"] == {
        "Test": ["CMD", "true"],
        "Interval": 60_000_000_000,
        "StartPeriod": 2_000_000_000,
    }
    assert config["OnBuild"] == ["COPY . /app", "RUN make"]
    assert "WORKDIR /srv/app" in history
    config, _, _ = run("FROM x\nHEALTHCHECK CMD curl -f localhost\nHEALTHCHECK NONE\n")
    assert config["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM x\nSTOPSIGNAL SIGNOPE\n", "Dockerfile:2: invalid signal"),
        ("FROM x\nEXPOSE 80:80\n", "Dockerfile:2: EXPOSE 80:80: publishing a host port"),
        ("FROM x\nUSER $NOBODY\n", "Dockerfile:2: USER requires a user name"),
        ('FROM x\nVOLUME ""\n', "Dockerfile:2: VOLUME specified can not be an empty string"),
        ('FROM x\nENV A="${B:?B is required}"\n', "Dockerfile:2: B: B is required"),
    ],
)
def test_errors_cite_the_line(dockerfile, message):
    with pytest.raises(DockerfileError) as info:
        run(dockerfile)
    assert str(info.value).startswith(message)


def test_set_env_keeps_the_position_of_a_replaced_key():
    assert set_env(["A=1", "B=2"], "A", "3") == ["A=3", "B=2"]
    assert set_env(["A=1"], "C", "3") == ["A=1", "C=3"]
