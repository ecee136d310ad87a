#!/usr/bin/env bash
# The main job: the example stack (examples/webapp: web, api and db with a named volume and
# health-gated start) brought up by `pycompose up` on pycompose's own engine.
#   scripts/demo.sh          install what is needed, start the engine, bring the stack up
#   scripts/demo.sh down     take the stack down (volumes too), stop the engine and the warm CLI
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
unset DOCKER_HOST  # the demo is about pycompose's own engine
stack=examples/webapp
socket=${PYCOMPOSE_HOST:-/run/pycompose/engine.sock}
socket=${socket#unix://}

if [ "${1:-}" = down ]; then
  pycompose --project-directory "$stack" down -v
  pycompose engine stop
  .venv/bin/python -m compose.cli_server stop
  exit 0
fi

pycompose engine start
# the stack's image, made from Debian's busybox-static (no registry needed), loaded over the API
archive=$(mktemp --suffix=.tar)
trap 'rm -f "$archive"' EXIT
.venv/bin/python scripts/make_example_image.py "$archive"
curl -s -f -S --unix-socket "$socket" -X POST -H 'Content-Type: application/x-tar' \
  --data-binary "@$archive" 'http://engine/images/load?quiet=1' >/dev/null

pycompose --project-directory "$stack" up -d --wait
pycompose --project-directory "$stack" ps
port=$(pycompose --project-directory "$stack" port web 8080)
echo
echo "web answers on http://$port/ :"
curl -s "http://$port/"
echo
echo "Try: pycompose --project-directory $stack logs -f    |  take it down: scripts/demo.sh down"
