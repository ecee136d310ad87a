"""Suite-wide policy: in CI (``CI=true``) a skip is a failure unless it is allowed.

A test that skips because root, a tool, the Docker oracle or a registry is missing passes
silently on a broken machine; in CI that must fail. The reviewed exceptions are in
tests/skip_allowlist.py; the skips allowed in a run are listed at its end with their reasons,
and so are the skips that were turned into failures.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import pytest

from tests.skip_allowlist import ALLOWED_SKIPS

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
_allowed: list[tuple[str, str, str]] = []  # node id, reviewed reason, skip message
_refused: list[tuple[str, str]] = []  # node id, skip message


def allowed_reason(nodeid: str, message: str) -> str | None:
    """The allow-list's reason for skipping ``nodeid`` with ``message``, if it is listed."""
    for allowed in ALLOWED_SKIPS:
        pattern = re.escape(allowed.nodeid).replace(r"\*", ".*")
        if re.fullmatch(pattern, nodeid) and allowed.message in message:
            return allowed.reason
    return None


def _skip_message(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    message = _skip_message(report)
    reason = allowed_reason(report.nodeid, message)
    if reason is not None:
        _allowed.append((report.nodeid, reason, message))
        return
    if IN_CI:
        _refused.append((report.nodeid, message))
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI, and not on the allow-list (tests/skip_allowlist.py): {message}"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _allowed:
        terminalreporter.section("allowed skips (tests/skip_allowlist.py)")
        for nodeid, reason, message in _allowed:
            terminalreporter.write_line(f"{nodeid}\n    skipped: {message}\n    allowed: {reason}")
    if _refused:
        terminalreporter.section("skips refused in CI (now failures)", red=True)
        for nodeid, message in _refused:
            terminalreporter.write_line(f"{nodeid}: {message}")
        terminalreporter.write_line(f"{len(_refused)} skips turned into failures")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """The CLI server that the tests' `pycompose` commands started (compose.cli_server)
    leaves with the run, as every other process the tests start."""
    from compose.cli_server import server_socket, stop

    stop(server_socket())
