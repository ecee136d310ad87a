"""The ``image`` commands, run the way the main CLI runs them."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from engine.images import cli

from .conftest import needs_tools

pytestmark = [pytest.mark.anyio, pytest.mark.root, needs_tools]


def parse(*argv):
    parser = argparse.ArgumentParser(prog="pycompose")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["image", *argv])


async def test_commands(pushed, data_root, tmp_path, capsys):
    root = ["--data-root", str(data_root)]
    name = f"{pushed.host}/test/layered"
    assert await cli.run(parse(*root, "pull", name)) == 0
    assert await cli.run(parse(*root, "tag", name, "example.com/copy:1")) == 0
    capsys.readouterr()
    assert await cli.run(parse(*root, "ls", "--format", "json")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["Repository"], r["Tag"]) for r in rows} == {
        (f"{pushed.host}/test/layered", "latest"),
        ("example.com/copy", "1"),
    }
    assert await cli.run(parse("ls", *root)) == 0  # options after the subcommand too
    assert "REPOSITORY" in capsys.readouterr().out
    assert await cli.run(parse(*root, "inspect", "example.com/copy:1")) == 0
    [inspect] = json.loads(capsys.readouterr().out)
    assert inspect["RepoTags"] == [f"{pushed.host}/test/layered:latest", "example.com/copy:1"]
    assert await cli.run(parse(*root, "mount", name)) == 0
    path = capsys.readouterr().out.strip()
    try:
        assert os.path.isfile(os.path.join(path, "bin", "busybox"))
    finally:
        assert await cli.run(parse(*root, "umount", name)) == 0
    archive = tmp_path / "out.tar"
    assert await cli.run(parse(*root, "save", "example.com/copy:1", "-o", str(archive))) == 0
    assert await cli.run(parse(*root, "push", f"{pushed.host}/test/layered")) == 0
    assert await cli.run(parse(*root, "rm", "-f", name)) == 0
    assert await cli.run(parse(*root, "rm", "example.com/copy:1")) == 0
    assert "Deleted" in capsys.readouterr().out
    assert await cli.run(parse(*root, "import", str(archive))) == 0
    assert "Loaded image: example.com/copy:1" in capsys.readouterr().out
    assert await cli.run(parse(*root, "prune", "-a")) == 0
    assert await cli.run(parse(*root, "inspect", "nothing:here")) == 1
    assert "No such image: nothing:here" in capsys.readouterr().err
    assert await cli.run(parse(*root, "pull", "Bad//Name")) == 1
    assert "invalid reference format" in capsys.readouterr().err


def test_created_since():
    import datetime

    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert cli._since("2024-01-01T00:00:00Z", now) == "2 years ago"
    assert cli._since("2025-12-31T23:00:00Z", now) == "1 hour ago"
    assert cli._since("2025-12-31T23:59:30Z", now) == "Less than a minute ago"
    assert cli._since(None, now) == "N/A"
