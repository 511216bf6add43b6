#!/usr/bin/env bash
# The whole suite against real services. Every service a test needs is installed or started here; under CI=true a
# missing one fails the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/test-deps.sh"
cd "$ROOT"
export OPS_ENV_FILE=/dev/null
exec "$VENV/bin/pytest" "$@"
