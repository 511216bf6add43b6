#!/usr/bin/env bash
# The whole suite against real services. Every service a test needs is installed or started here; under CI=true a
# missing one fails the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/test-deps.sh"
cd "$ROOT"
export OPS_ENV_FILE=/dev/null
# The import contracts (pyproject.toml [tool.importlinter]) first: a broken contract fails the run.
"$VENV/bin/lint-imports" --no-logo
exec "$VENV/bin/pytest" "$@"
