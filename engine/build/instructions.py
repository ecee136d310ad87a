"""Config instructions: how each changes the image config. Pure.

``Scope.apply(instruction, image_config)`` applies ENV, ARG, LABEL, WORKDIR, USER, CMD,
ENTRYPOINT, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD or MAINTAINER to an
image config (the OCI/Docker config JSON, changed in place) and returns the history entry's
``created_by``. Docker's rules, each where it is applied:

- one ENV instruction expands all its values with the environment before it;
- a stage sees an ARG only once it declares it (a global ARG's value is its default);
  ``--build-arg`` wins over a default; ENV wins over ARG of the same name;
- ENTRYPOINT resets a CMD inherited from the base image (not one set in this stage);
- shell forms of CMD/ENTRYPOINT use the current SHELL;
- WORKDIR is relative to the previous one.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from engine.build import dockerfile as df
from engine.errors import InvalidParameter
from engine.runtime.runc import signal_number

DEFAULT_SHELL = ["/bin/sh", "-c"]


def env_map(env: Sequence[str]) -> dict[str, str]:
    """``["A=1", "B=2"]`` -> ``{"A": "1", "B": "2"}``."""
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def set_env(env: list[str], key: str, value: str) -> list[str]:
    """``env`` with ``key`` set: in its place when present, else at the end (as Docker)."""
    for index, item in enumerate(env):
        if item.partition("=")[0] == key:
            return [*env[:index], f"{key}={value}", *env[index + 1 :]]
    return [*env, f"{key}={value}"]


@dataclasses.dataclass(slots=True)
class Scope:
    """A stage's variables: what config instructions read and change besides the config.

    ``build_args``, ``meta_env`` (the global ARGs' values) and ``used_args`` are the
    build's, shared by every stage; ``args`` (the ARGs this stage declared) and
    ``cmd_set`` are the stage's own.
    """

    build_args: Mapping[str, str]
    meta_env: Mapping[str, str]
    used_args: set[str]
    args: dict[str, str | None] = dataclasses.field(default_factory=dict)
    cmd_set: bool = False
    escape: str = "\\"
    file: str = "Dockerfile"

    def env(self, config: Mapping[str, Any]) -> dict[str, str]:
        """What ``$VAR`` sees: the declared ARGs, then the config's Env over them."""
        env = {name: value for name, value in self.args.items() if value is not None}
        env.update(env_map(config.get("Env") or []))
        return env

    def expand(self, word: str, env: Mapping[str, str], line: int) -> str:
        return df.expand(word, env, self.escape, line=line, file=self.file)

    def apply(self, instruction: df.Instruction, image_config: dict[str, Any]) -> str:
        """Apply a config instruction to ``image_config``; return its history ``created_by``."""
        keyword, line = instruction.keyword, instruction.line
        config: dict[str, Any] = image_config.setdefault("config", {})
        env = self.env(config)
        shell = list(config.get("Shell") or DEFAULT_SHELL)

        def fail(message: str, hint: str | None = None) -> df.DockerfileError:
            return df.DockerfileError(message, line=line, file=self.file, hint=hint)

        if keyword == "ENV":
            pairs = [(name, self.expand(raw or "", env, line)) for name, raw in instruction.pairs]
            current = list(config.get("Env") or [])
            for name, expanded in pairs:
                current = set_env(current, name, expanded)
            config["Env"] = current
            return "ENV " + " ".join(f"{name}={expanded}" for name, expanded in pairs)
        if keyword == "ARG":
            shown = []
            for name, raw in instruction.pairs:
                arg_value: str | None
                if name in self.build_args:
                    arg_value = self.build_args[name]
                    self.used_args.add(name)
                elif raw is not None:
                    arg_value = self.expand(raw, env, line)
                else:
                    arg_value = self.meta_env.get(name)
                self.args[name] = arg_value
                shown.append(name if raw is None else f"{name}={raw}")
            return "ARG " + " ".join(shown)
        if keyword == "LABEL":
            labels = dict(config.get("Labels") or {})
            pairs = [
                (self.expand(name, env, line), self.expand(raw or "", env, line))
                for name, raw in instruction.pairs
            ]
            labels.update(pairs)
            config["Labels"] = labels
            return "LABEL " + " ".join(f"{name}={value}" for name, value in pairs)
        if keyword == "WORKDIR":
            path = self.expand(instruction.args[0], env, line)
            previous = str(config.get("WorkingDir") or "/")
            config["WorkingDir"] = posixpath.normpath(posixpath.join(previous, path))
            return f"WORKDIR {config['WorkingDir']}"
        if keyword == "USER":
            user = self.expand(instruction.args[0], env, line)
            if not user:
                raise fail("USER requires a user name or ID", "write USER name[:group]")
            config["User"] = user
            return f"USER {user}"
        if keyword in ("CMD", "ENTRYPOINT"):
            if instruction.exec_form:
                command = list(instruction.args)
            else:
                command = [*shell, instruction.args[0]] if instruction.args else []
            if keyword == "CMD":
                config["Cmd"] = command
                self.cmd_set = True
            else:
                config["Entrypoint"] = command or None
                if not self.cmd_set:
                    config["Cmd"] = None
            return f"{keyword} {json.dumps(command)}"
        if keyword == "EXPOSE":
            words = [self.expand(word, env, line) for word in instruction.args]
            ports = df.parse_ports(words, line=line, file=self.file)
            exposed = dict(config.get("ExposedPorts") or {})
            exposed.update({port: {} for port in ports})
            config["ExposedPorts"] = exposed
            return "EXPOSE " + " ".join(ports)
        if keyword == "VOLUME":
            volumes = dict(config.get("Volumes") or {})
            added = [self.expand(word, env, line) for word in instruction.args]
            for path in added:
                if not path.strip():
                    raise fail("VOLUME specified can not be an empty string")
                volumes[path] = {}
            config["Volumes"] = volumes
            return f"VOLUME {json.dumps(added)}"
        if keyword == "STOPSIGNAL":
            value = self.expand(instruction.args[0], env, line)
            try:
                signal_number(value)
            except InvalidParameter as exc:
                raise fail(exc.message, exc.hint) from exc
            config["StopSignal"] = value
            return f"STOPSIGNAL {value}"
        if keyword == "HEALTHCHECK":
            return self.healthcheck(instruction, config)
        if keyword == "SHELL":
            config["Shell"] = list(instruction.args)
            return f"SHELL {json.dumps(list(instruction.args))}"
        if keyword == "ONBUILD":
            assert instruction.sub is not None
            triggers = list(config.get("OnBuild") or [])
            triggers.append(instruction.sub.text)
            config["OnBuild"] = triggers
            return f"ONBUILD {instruction.sub.text}"
        if keyword == "MAINTAINER":
            image_config["author"] = instruction.args[0]
            return f"MAINTAINER {instruction.args[0]}"
        raise fail(f"{keyword} is not supported here")  # pragma: no cover (parse refuses)

    def healthcheck(self, instruction: df.Instruction, config: dict[str, Any]) -> str:
        if instruction.args == ("NONE",):
            config["Healthcheck"] = {"Test": ["NONE"]}
            return "HEALTHCHECK NONE"
        if instruction.exec_form:
            test = ["CMD", *instruction.args[1:]]
        else:
            test = ["CMD-SHELL", instruction.args[1]]
        check: dict[str, Any] = {"Test": test}
        names = {
            "interval": "Interval",
            "timeout": "Timeout",
            "start-period": "StartPeriod",
            "start-interval": "StartInterval",
        }
        for flag, key in names.items():
            value = instruction.flag(flag)
            if value is not None:
                nanos = df.parse_duration(value, line=instruction.line, file=self.file)
                if nanos:
                    check[key] = nanos
        retries = instruction.flag("retries")
        if retries is not None and int(retries):
            check["Retries"] = int(retries)
        config["Healthcheck"] = check
        return f"HEALTHCHECK {json.dumps(check)}"
