#!/usr/bin/env bash
# The test command: installs what is needed, then lint, type-check and the whole test suite.
#   scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
echo "== ruff"; .venv/bin/ruff check compose engine tests
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
