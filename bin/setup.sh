#!/usr/bin/env bash
# Create .venv with Python 3.12+ and the locked dependencies. Idempotent, non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local c
  for c in python3.13 python3.12 python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v "$c"; return 0; fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  PY=$(find_python) || {
    echo "Python 3.12+ not found; installing Debian's python3 packages" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >&2
    PY=$(find_python) || { echo "error: Django 6 needs Python 3.12 or newer" >&2; exit 1; }
  }
  echo "Creating .venv with $("$PY" --version)"
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
