#!/usr/bin/env bash
# pycompose next to docker compose on dockerd, every row of the speed table in one run
# (tests/bench/bench_compare.py; medians, spread, ratios, the machine's load; JSON with --json).
#   scripts/bench.sh                       quick: 10/50 services, ps of 50, 5 repetitions
#   scripts/bench.sh --sizes 10,50,200 --ps 500 --scale 200,500,1000   the full table
#   scripts/bench.sh --no-docker           pycompose's figures alone
# The reference is the oracle dockerd of scripts/oracle-docker.sh (started here as "bench"
# unless PYCOMPOSE_TEST_DOCKER_HOST or --docker names one), with docker compose 2.40.3.
# Figures go to .bench/results.json unless --json names another file.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
started_oracle=""
if [[ " ${args[*]} " != *" --no-docker "* && " ${args[*]} " != *" --docker "* \
      && -z "${PYCOMPOSE_TEST_DOCKER_HOST:-}" ]]; then
  if scripts/oracle-docker.sh start bench >/dev/null 2>&1; then
    export PYCOMPOSE_TEST_DOCKER_HOST="unix://$(scripts/oracle-docker.sh socket bench)"
    started_oracle=yes
  else
    echo "bench: no Docker engine (scripts/oracle-docker.sh start failed): pycompose alone" >&2
    args+=(--no-docker)
  fi
fi
if [[ " ${args[*]} " != *" --json "* ]]; then mkdir -p .bench; args+=(--json .bench/results.json); fi
# the steady state of an installed CLI: byte code compiled once (PYTHONDONTWRITEBYTECODE
# would otherwise make every run compile what changed since the last compileall)
.venv/bin/python -m compileall -q compose engine >/dev/null || true
status=0
.venv/bin/python tests/bench/bench_compare.py "${args[@]}" || status=$?
if [ -n "$started_oracle" ] && [ -z "${BENCH_KEEP_ORACLE:-}" ]; then
  scripts/oracle-docker.sh stop bench >/dev/null 2>&1 || true
fi
exit $status
