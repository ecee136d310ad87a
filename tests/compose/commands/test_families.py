"""A command imports its own family of compose.commands, and not what it does not use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from compose.commands import _FAMILIES, FAMILY_OF, stack_command


def test_the_table_of_families_is_the_families_commands() -> None:
    found = {}
    for family in _FAMILIES:
        for name in importlib.import_module(f"compose.commands.{family}").COMMANDS:
            if name != "ls":  # run without a project (run_ls)
                found[name] = family
    assert found == FAMILY_OF


# what each command's module graph must not load: other families, rich (tty progress only),
# the watch loop, the attached `up`, the Go templates (--format '{{...}}' only)
NOT_FOR = {
    "ps": ("compose.commands.lifecycle", "compose.commands.oneoff", "compose.gotemplate", "rich"),
    "logs": ("compose.commands.listing", "compose.commands.lifecycle", "rich"),
    "down": (
        "compose.commands.oneoff",
        "compose.commands.attached",
        "compose.watch.loop",
        "compose.commands.watch",
        "rich",
    ),
    "exec": ("compose.commands.lifecycle", "compose.commands.listing", "rich"),
}


@pytest.mark.parametrize("name", sorted(NOT_FOR))
def test_a_command_loads_its_family_alone(name: str) -> None:
    probe = (
        "import sys\n"
        "from compose.commands import stack_command\n"
        f"command = stack_command({name!r})\n"
        "print(command.__module__)\n"
        "print(*sorted(sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    module, loaded = run.stdout.splitlines()
    assert module == f"compose.commands.{FAMILY_OF[name]}"
    modules = set(loaded.split())
    unwanted = NOT_FOR[name]
    assert sorted(m for m in modules if m.split(".")[0] in unwanted or m in unwanted) == []
    assert stack_command(name).__module__ == module
