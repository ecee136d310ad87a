#!/usr/bin/env bash
# The test command: installs what is needed, then lint, type-check and the whole test suite.
#   scripts/test.sh [pytest args...]
# Differential tests run against a private Docker engine started here (scripts/oracle-docker.sh,
# on a socket named after this checkout, given to the tests in PYCOMPOSE_TEST_DOCKER_HOST) and
# stopped at the end. Without one they skip; in CI (CI=true) the oracle must answer, and every
# skip that tests/skip_allowlist.py does not list is a failure (tests/conftest.py).
# Ends with pytest's counts; exits non-zero when anything failed or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
in_ci=0
case "${CI:-}" in true | TRUE | True | 1 | yes) in_ci=1 ;; esac
scripts/install.sh
echo "== ruff"; .venv/bin/ruff check compose engine tests scripts
echo "== mypy"; .venv/bin/mypy

oracle=$(pwd -P | sha256sum | cut -c1-12)
oracle_socket=$(scripts/oracle-docker.sh socket "$oracle")
docker_answers() { curl -s -f -o /dev/null --max-time 3 --unix-socket "$oracle_socket" http://docker/_ping; }
started_oracle=0
if [ "${PYCOMPOSE_TEST_ORACLE:-1}" = 1 ]; then
  started_oracle=1
  if ! scripts/oracle-docker.sh start "$oracle"; then
    if [ "$in_ci" = 1 ]; then
      echo "== FAILED: the Docker oracle did not start (CI needs it for the differential tests)" >&2
      scripts/oracle-docker.sh stop "$oracle"
      exit 1
    fi
    echo "== warning: no Docker oracle; the differential tests will skip" >&2
  fi
  export PYCOMPOSE_TEST_DOCKER_HOST="unix://$oracle_socket"
fi
if [ "$in_ci" = 1 ] && ! docker_answers; then
  echo "== FAILED: no Docker engine answers on $oracle_socket (/_ping); CI needs the oracle" >&2
  if [ "$started_oracle" = 1 ]; then scripts/oracle-docker.sh stop "$oracle"; fi
  exit 1
fi

log=$(mktemp /tmp/pycompose-test.XXXXXX)
status=0
cleanup() {
  if [ "$started_oracle" = 1 ]; then scripts/oracle-docker.sh stop "$oracle"; fi
  .venv/bin/python -m compose.cli_server stop || true  # the warm CLI the tests' commands used
  counts=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)
  rm -f "$log"
  case "$status" in
    0) echo "== pytest: ${counts:-?}" ;;
    5) echo "== FAILED: pytest collected no tests (${counts:-no summary})"; status=1 ;;
    *) echo "== FAILED (pytest exit $status): ${counts:-no summary}" ;;
  esac
  exit "$status"
}
trap cleanup EXIT
echo "== pytest"
.venv/bin/python -m pytest "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
