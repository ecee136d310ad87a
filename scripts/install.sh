#!/usr/bin/env bash
# Installs everything pycompose and its tests need on a fresh Debian machine, as root.
# Idempotent: a second run installs nothing new and takes a few seconds.
#   scripts/install.sh            system packages + .venv with pycompose (editable) and dev tools
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# the stamp changes with the dependencies and with how the project is installed (below)
stamp=.venv/.installed-$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  # Editable, as a plain path in a .pth file (setuptools' "compat" mode): code edits take
  # effect as with the default mode, whose import-hook finder costs every Python start
  # ~20 ms of CPU (it loads pathlib, importlib.util...). The repository's root is then on
  # sys.path, after site-packages. A setuptools without that mode gets the default one.
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' \
    --config-settings editable_mode=compat 2>&1 | grep -v -E '^(WARNING: Location|$)' || true
  # -I, from /: the packages must come from the install, not from the current directory
  root=$PWD
  importable() { (cd / && "$root/.venv/bin/python" -I -c 'import compose, engine'); }
  if ! importable 2>/dev/null; then
    .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
      | grep -v -E '^(WARNING: Location|$)' || true
  fi
  importable
  rm -f .venv/.installed-*; touch "$stamp"
fi
