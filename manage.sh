#!/usr/bin/env bash
# Set up (own virtualenv in .venv) and run ctcensus: `./manage.sh demo`, `./manage.sh test [pytest args]`,
# `./manage.sh lint` (ruff and mypy as configured in setup.cfg).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${CTCENSUS_VENV:-.venv}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.ctcensus-installed"
  if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    touch "$stamp"
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    setup
    exec "$VENV/bin/ctcensus" demo "$@"
    ;;
  test)
    setup
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  lint)
    setup
    "$VENV/bin/ruff" check .
    "$VENV/bin/mypy"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: ./manage.sh demo [--port 5000] | test [pytest args] | lint | setup" >&2
    exit 2
    ;;
esac
