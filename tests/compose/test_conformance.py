"""`pycompose config` against docker compose's recorded output, one test per conformance case.

The corpus is kept in the repository (tests/data/conformance, refreshed from the shared
corpus by scripts/sync-test-data.sh) and run the way its own compare.py runs it: each case
in a fresh copy of its directory, with only PATH and the case's ``environ``. Success cases
must print JSON equal to docker compose's; error cases must fail, print nothing on stdout,
no traceback, and (beyond what compare.py demands) cite the stack file as file:line:column.

The cases are pycompose subprocesses, so they run two at a time (one per core) in a pool
that the first case's test fills with every selected case; each test waits for its own.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "conformance"
PYCOMPOSE = Path(sys.executable).with_name("pycompose")
TEMPLATE = [str(PYCOMPOSE), "-p", "case", "{args}", "config", "--format", "json"]
CASE_TIMEOUT = 180.0

# Error cases whose problem is not in a stack file (a flag, a missing file): no position.
NOT_IN_A_FILE = {
    "bad-new-env-file-flag-missing",
    "bad-new-file-flag-missing",
    "bad-new-no-compose-file",
    "bad-new-project-name-invalid-env",
    "bad-new-project-name-invalid-flag",
}
LOCATION = re.compile(r"^[^\s:]+\.(ya?ml|yml|env):\d+:\d+: ", re.MULTILINE)


def _load_compare() -> ModuleType:
    """The corpus's own runner and JSON comparison (compare.py, standard library only)."""
    spec = importlib.util.spec_from_file_location("conformance_compare", CORPUS / "compare.py")
    assert spec is not None and spec.loader is not None, CORPUS / "compare.py"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


compare = _load_compare()
CASES = [case.name for case in compare.list_cases(CORPUS / "cases")]


class CaseRunner:
    """Runs the selected cases in a pool, in the order the tests will ask for them."""

    def __init__(self, names: list[str], run_root: Path) -> None:
        self._names = names
        self._run_root = run_root
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
        self._runs: dict[str, concurrent.futures.Future[Any]] = {}

    def result(self, name: str) -> tuple[Any, list[str]]:
        """The case's (RunResult, path spellings), as compare.run_case_command returns them."""
        if not self._runs:
            for queued in [name, *(other for other in self._names if other != name)]:
                self._runs[queued] = self._pool.submit(
                    compare.run_case_command,
                    CORPUS / "cases" / queued,
                    TEMPLATE,
                    CASE_TIMEOUT,
                    self._run_root,
                )
        if name not in self._runs:  # not among the selected ones: run it now
            self._runs[name] = self._pool.submit(
                compare.run_case_command,
                CORPUS / "cases" / name,
                TEMPLATE,
                CASE_TIMEOUT,
                self._run_root,
            )
        return self._runs[name].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def case_runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CaseRunner]:
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if item.path == Path(__file__)
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    ]
    runner = CaseRunner(selected, tmp_path_factory.mktemp("conformance"))
    try:
        yield runner
    finally:
        runner.close()


def test_the_corpus_is_in_the_repository():
    assert (CORPUS / "compose-spec.json").is_file()
    assert len(CASES) >= 150, f"{len(CASES)} cases under {CORPUS} (scripts/sync-test-data.sh)"


@pytest.mark.parametrize("case", CASES)
def test_case_matches_docker_compose(case: str, case_runner: CaseRunner):
    case_dir = CORPUS / "cases" / case
    result, variants = case_runner.result(case)
    got = result.note or f"exit {result.returncode}"
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    if (case_dir / "expected.json").exists():
        assert result.returncode == 0, f"expected success, got {got}\n{output}"
        try:
            printed = json.loads(result.stdout)
        except json.JSONDecodeError as error:
            pytest.fail(f"stdout is not JSON ({error})\n{output}")
        expected = json.loads((case_dir / "expected.json").read_text())
        differences = compare.json_diff(
            expected, compare.replace_paths_json(printed, variants), limit=sys.maxsize
        )
        assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences)
        return
    code, message = compare.read_expected_error(case_dir)
    expected = f"docker compose (exit {code}):\n{message.strip()}"
    assert result.returncode not in (None, 0), f"expected failure, got {got}\n{expected}\n{output}"
    assert result.stdout == "", output
    assert "Traceback" not in result.stderr, result.stderr
    if case not in NOT_IN_A_FILE:
        assert LOCATION.search(result.stderr), (
            f"no file:line:column in the message\n{expected}\npycompose:\n{result.stderr}"
        )
