#!/usr/bin/env bash
# Refreshes the test data kept in the repository (tests/data/) from the shared corpus beside
# the checkout (../shared), so that the tests never read outside the repository:
#   tests/data/conformance/   cases/, compare.py, compose-spec.json, README.md  (`config` corpus)
#   tests/data/reference/     captures/*.jsonl and README.md  (recorded Engine API traffic)
#   scripts/sync-test-data.sh [SHARED_DIR]     default: ../shared from the repository
# Without a shared directory it changes nothing and says so. Review `git status tests/data`
# afterwards: a case that changed is a behaviour change to look at, not noise.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
if [ ! -d "$shared/conformance/cases" ] || [ ! -d "$shared/reference/captures" ]; then
  echo "sync-test-data: no corpus at $shared (conformance/cases, reference/captures); nothing changed"
  exit 0
fi

conformance=tests/data/conformance
reference=tests/data/reference
rm -rf "$conformance" "$reference"
mkdir -p "$conformance" "$reference/captures"
# --no-preserve=mode: the shared copy is read-only, the repository's must stay writable
cp -R --no-preserve=mode "$shared/conformance/cases" "$conformance/cases"
cp --no-preserve=mode "$shared/conformance/compare.py" "$shared/conformance/compose-spec.json" \
  "$shared/conformance/README.md" "$conformance/"
cp --no-preserve=mode "$shared/reference/captures/"*.jsonl "$shared/reference/captures/README.md" \
  "$reference/captures/"
echo "sync-test-data: $(find "$conformance/cases" -mindepth 1 -maxdepth 1 -type d | wc -l) conformance cases," \
  "$(find "$reference/captures" -name '*.jsonl' | wc -l) capture files from $shared"
