#!/usr/bin/env bash
# The test command: installs what is needed, then lint, type-check and the whole test suite.
#   scripts/test.sh [pytest args...]
# Differential tests run against a private Docker engine started here (scripts/oracle-docker.sh)
# and stopped at the end; without one they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
echo "== ruff"; .venv/bin/ruff check compose engine tests scripts
echo "== mypy"; .venv/bin/mypy
started_oracle=0
if [ "${PYCOMPOSE_TEST_ORACLE:-1}" = 1 ] && ! curl -s -f -o /dev/null --max-time 3 --unix-socket /var/run/docker.sock http://docker/_ping; then
  scripts/oracle-docker.sh start && started_oracle=1
fi
cleanup() {
  status=$?
  if [ "$started_oracle" = 1 ]; then scripts/oracle-docker.sh stop; fi
  exit "$status"  # the tests' status, whatever the clean-up returns
}
trap cleanup EXIT
echo "== pytest"; .venv/bin/python -m pytest "$@"
