"""The CLI makes only the parser of the command it runs (compose.arguments.lazy): its help,
parse results and errors must be those of the grammar made whole (build_parser())."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from compose.arguments import build_parser
from compose.arguments.lazy import CommandParsers
from compose.cli import main


def _commands(parser: argparse.ArgumentParser) -> CommandParsers:
    for action in parser._actions:
        if isinstance(action, CommandParsers):
            return action
    raise AssertionError("no subcommands")


def _nested(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


NAMES = list(_commands(build_parser()).choices)


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def test_the_lazy_parser_makes_no_command_until_one_is_named() -> None:
    commands = _commands(build_parser(lazy=True))
    assert list(commands.choices) == NAMES
    assert all(parser is None for parser in commands.choices.values())
    assert build_parser(lazy=True).format_help() == build_parser().format_help()


@pytest.mark.parametrize("name", NAMES)
def test_each_command_help_is_the_same_made_alone(name: str) -> None:
    whole = _commands(build_parser()).choices[name]
    alone = _commands(build_parser(lazy=True)).make(name)
    assert alone.format_help() == whole.format_help()
    whole_nested, alone_nested = _nested(whole), _nested(alone)
    assert list(alone_nested) == list(whole_nested)
    for sub, parser in whole_nested.items():
        assert alone_nested[sub].format_help() == parser.format_help(), sub


def _outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            args, extras = parser.parse_known_args(argv)
        except SystemExit as exit_:
            return ("exit", exit_.code), err.getvalue()
    return (sorted(vars(args).items()), extras), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["ps"],
        ["-p", "run", "-f", "up", "up", "-d", "--wait", "web"],
        ["up", "-p", "x", "--profile", "a", "web"],
        ["logs", "-f", "--tail", "3"],
        ["run", "--rm", "-e", "A=1", "web", "sh", "-c", "echo hi"],
        ["exec", "-T", "web", "ls", "-l"],
        ["image", "list", "--format", "json"],
        ["engine", "status", "--host", "unix:///x.sock"],
        ["kube", "generate", "-o", "-"],
        ["config", "--services", "--no-interpolate"],
        ["ps", "--orphans=false"],
        ["down", "--rmi", "sideways"],
        ["ps", "--bogus"],
        ["nosuchcommand"],
        ["image"],
        ["build", "--ssh", "default"],
        ["up", "--menu=maybe"],
        [],
    ],
)
def test_parse_results_and_errors_are_the_same(argv: list[str]) -> None:
    assert _outcome(build_parser(lazy=True), argv) == _outcome(build_parser(), argv)


def test_the_cli_reports_a_command_flag_error_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ps", "--no-such-flag"])
    lazy_error = capsys.readouterr().err
    parser = build_parser()
    with pytest.raises(SystemExit):
        _, extras = parser.parse_known_args(["ps", "--no-such-flag"])
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    assert exit_.value.code == 2
    assert lazy_error == capsys.readouterr().err
    assert "unrecognized arguments: --no-such-flag" in lazy_error
