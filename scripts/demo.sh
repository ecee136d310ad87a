#!/usr/bin/env bash
# The main job: installs what is needed, then runs pycompose on the example stack.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/pycompose --project-directory examples/webapp config "$@"
