"""The public names of engine.api and engine.daemon exist and stay light to import."""

from __future__ import annotations

import subprocess
import sys

import engine.api
import engine.daemon


def test_all_names_resolve() -> None:
    for module in (engine.api, engine.daemon):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_the_cli_side_does_not_import_the_engine() -> None:
    code = (
        "import sys, compose.cli, compose.commands, engine.api; "
        "print(any(m.startswith(('engine.runtime', 'engine.images', 'engine.network')) "
        "for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
