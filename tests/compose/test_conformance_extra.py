"""Conformance cases of our own (tests/data/conformance-extra), one or more per class that
the held-out corpus found pycompose getting wrong: exclusive fields of device requests,
environment keys with trailing spaces, external volumes with driver settings, invalid
service names, develop.watch attributes, device paths of bind-like local volumes, IPAM
aux_addresses, typed interpolation of integer fields.

Each case holds docker compose 2.40's recorded answer, checked the way the corpus is
(tests/compose/test_conformance.py). Where the docker compose binary is installed
(scripts/oracle-docker.sh), each case is also run under it, live, and must still give the
recorded answer: the records cannot drift from the oracle. ``python -m
tests.compose.test_conformance_extra`` records them again with that binary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compose.test_conformance import LOCATION, PYCOMPOSE, TEMPLATE, compare

EXTRA = Path(__file__).resolve().parents[1] / "data" / "conformance-extra" / "cases"
CASES = sorted(path.name for path in EXTRA.iterdir() if path.is_dir())
TIMEOUT = 120.0


def docker_compose() -> str | None:
    import glob

    found = sorted(glob.glob("/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose"))
    return found[0] if found else None


def _template(binary: str) -> list[str]:
    return [binary, *TEMPLATE[1:]]


def _answer(case: str, binary: str, run_root: Path) -> tuple[int, Any]:
    """(exit code, JSON printed | first line of the error with paths as ${CASE_DIR})."""
    result, variants = compare.run_case_command(EXTRA / case, _template(binary), TIMEOUT, run_root)
    assert result.returncode is not None, result.note
    if result.returncode == 0:
        return 0, compare.replace_paths_json(json.loads(result.stdout), variants)
    return result.returncode, result.stderr.strip()


def _recorded(case: str) -> tuple[int, Any]:
    directory = EXTRA / case
    if (directory / compare.EXPECTED_JSON).exists():
        return 0, json.loads((directory / compare.EXPECTED_JSON).read_text())
    code, message = compare.read_expected_error(directory)
    assert code is not None, f"{case}: no exit code in {compare.EXPECTED_ERROR}"
    return code, message.strip()


def test_every_class_has_cases() -> None:
    assert len(CASES) >= 8
    for word in (
        "device-ids",
        "trailing",
        "external-volume",
        "service-name",
        "develop-watch",
        "bind-device",
        "aux-addresses",
        "integer",
    ):
        assert any(word in case for case in CASES), word


@pytest.mark.parametrize("case", CASES)
def test_pycompose_answers_as_docker_compose_recorded(case: str, tmp_path: Path) -> None:
    code, expected = _recorded(case)
    got_code, got = _answer(case, str(PYCOMPOSE), tmp_path)
    if code == 0:
        assert got_code == 0, got
        differences = compare.json_diff(expected, got, limit=sys.maxsize)
        assert not differences, "\n".join(differences)
    else:
        assert got_code != 0, f"pycompose accepted it; docker compose said:\n{expected}"
        assert "Traceback" not in got, got
        assert LOCATION.search(got), f"no file:line:column in\n{got}"
    binary = docker_compose()
    if binary is not None:  # the record still is what the oracle says
        live_code, live = _answer(case, binary, tmp_path / "oracle")
        assert live_code == code
        if code == 0:
            assert not compare.json_diff(expected, live, limit=sys.maxsize)
        else:
            assert live == expected


def record(binary: str, run_root: Path) -> None:
    for case in CASES:
        directory = EXTRA / case
        for name in (compare.EXPECTED_JSON, compare.EXPECTED_ERROR):
            (directory / name).unlink(missing_ok=True)
        code, answer = _answer(case, binary, run_root)
        if code == 0:
            text = json.dumps(answer, indent=2) + "\n"
            (directory / compare.EXPECTED_JSON).write_text(text)
        else:
            (directory / compare.EXPECTED_ERROR).write_text(f"{code}\n{answer}\n")
        print(f"{case}: exit {code}")


if __name__ == "__main__":
    import tempfile

    found = docker_compose()
    if found is None:
        sys.exit("docker compose is not installed (scripts/oracle-docker.sh start installs it)")
    with tempfile.TemporaryDirectory() as root:
        record(found, Path(root))
