"""`pycompose config` against docker compose's recorded output (shared/conformance).

The corpus lives beside the checkout (../shared/conformance, as on the developers'
machines and in CI). Every case must match: success cases print JSON equal to
docker compose's, error cases fail, and (beyond what the checker demands) every
error that concerns a stack file cites it as file:line:column.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "conformance"
PYCOMPOSE = Path(sys.executable).with_name("pycompose")

pytestmark = pytest.mark.skipif(
    not (CORPUS / "compare.py").exists(), reason="shared/conformance is not beside the checkout"
)

# Error cases whose problem is not in a stack file (a flag, a missing file): no position.
NOT_IN_A_FILE = {
    "bad-new-env-file-flag-missing",
    "bad-new-file-flag-missing",
    "bad-new-no-compose-file",
    "bad-new-project-name-invalid-env",
    "bad-new-project-name-invalid-flag",
}
LOCATION = re.compile(r"^[^\s:]+\.(ya?ml|yml|env):\d+:\d+: ", re.MULTILINE)


def test_every_conformance_case_matches_docker_compose():
    result = subprocess.run(
        [
            sys.executable,
            str(CORPUS / "compare.py"),
            "-j",
            str(os.cpu_count() or 2),
            "--no-error-messages",
            "--timeout",
            "180",
            str(CORPUS / "cases"),
            "--",
            str(PYCOMPOSE),
            "-p",
            "case",
            "{args}",
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert summary.startswith("conformance:"), summary


def _error_cases() -> list[str]:
    if not CORPUS.exists():
        return []
    return sorted(
        p.name for p in (CORPUS / "cases").iterdir() if (p / "expected-error.txt").exists()
    )


@pytest.mark.parametrize("case", _error_cases())
def test_bad_input_fails_with_file_line_column(case: str, tmp_path: Path):
    source = CORPUS / "cases" / case
    workdir = tmp_path / case
    shutil.copytree(source, workdir, symlinks=True)
    for meta in ("args", "environ", "expected-error.txt", "expected-stderr.txt"):
        (workdir / meta).unlink(missing_ok=True)
    args: list[str] = []
    if (source / "args").exists():
        text = "\n".join(
            line for line in (source / "args").read_text().splitlines() if not line.startswith("#")
        )
        args = shlex.split(text, comments=True)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if (source / "environ").exists():
        for line in (source / "environ").read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                environment[key] = value
    result = subprocess.run(
        [str(PYCOMPOSE), "-p", "case", *args, "config", "--format", "json"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if case not in NOT_IN_A_FILE:
        assert LOCATION.search(result.stderr), result.stderr
