#!/usr/bin/env bash
# Serve TimescaleDB (the PGlite WASM build) over the PostgreSQL wire protocol.
#
#   scripts/pglite.sh [PORT] [server options...]
#   scripts/pglite.sh --port 0 --exit-on-stdin-close
#
# Installs tools/pglite/node_modules from the committed package-lock.json
# (`npm ci`) when missing or stale, then execs tools/pglite/server.mjs.
# PORT (or --port N) defaults to 5432; 0 picks a free port, reported in the
# ready line on stdout:
#   PGLITE_READY host=127.0.0.1 port=N dsn=postgresql://postgres:postgres@127.0.0.1:N/postgres ...
# All install chatter goes to stderr, so stdout carries only the server's lines.
# See docs/timescale-pglite.md for what the build can and cannot do.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="$here/tools/pglite"

. "$here/scripts/npm-tool.sh"
npm_ci_when_stale pglite.sh "$tool" @electric-sql/pglite/dist/timescaledb.tar.gz @electric-sql/pglite-socket/package.json

args=()
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  args+=(--port "$1")
  shift
fi

exec node "$tool/server.mjs" "${args[@]}" "$@"
