"""The engine's error tree: its own base, the status table, and how the CLI prints it."""

from __future__ import annotations

import argparse

import pytest

import compose.cli
from compose.errors import PycomposeError
from engine import errors as engine_errors
from engine.api import errors


def test_the_api_errors_are_the_engines_own() -> None:
    assert errors.EngineError is engine_errors.EngineError
    assert not issubclass(errors.EngineError, PycomposeError)
    for kind, status in errors.STATUS_BY_KIND.items():
        assert issubclass(kind, errors.EngineError)
        error = errors.error_for_status(status, "x")
        assert type(error) is kind and errors.status_for(error) == status
    assert type(errors.error_for_status(418, "teapot")) is errors.InvalidParameter
    assert type(errors.error_for_status(502, "gateway")) is errors.EngineInternal


def test_an_engine_error_renders_its_hint_for_people_only() -> None:
    error = errors.Conflict("name in use", hint="choose another name")
    assert str(error) == error.message == "name in use"
    assert error.render() == "name in use\n    hint: choose another name"
    assert errors.NotFound("gone").render() == "gone"


def test_the_cli_prints_an_engine_error_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise errors.NotFound("No such container: web", hint="is the stack up?")

    monkeypatch.setitem(compose.cli.COMMANDS, "version", failing)
    assert compose.cli.main(["version"]) == 1
    assert capsys.readouterr().err == "No such container: web\n    hint: is the stack up?\n"
