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

for bin in node npm; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "pglite.sh: '$bin' not found on PATH; install Node.js 20+ with npm (e.g. apt-get install nodejs npm)" >&2
    exit 127
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "pglite.sh: Node.js 20+ required, found $(node --version)" >&2
  exit 127
fi

needs_install() {
  local marker="$tool/node_modules/.package-lock.json"
  [ -f "$tool/node_modules/@electric-sql/pglite/dist/timescaledb.tar.gz" ] || return 0
  [ -f "$tool/node_modules/@electric-sql/pglite-socket/package.json" ] || return 0
  [ -f "$marker" ] || return 0
  [ "$tool/package-lock.json" -nt "$marker" ] && return 0
  return 1
}

install() {
  echo "pglite.sh: installing tools/pglite dependencies (npm ci)" >&2
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error 1>&2)
}

if needs_install; then
  if command -v flock >/dev/null 2>&1; then
    # Several test processes may start at once: install only once.
    lock="${TMPDIR:-/tmp}/ops_center-pglite-install-$(printf '%s' "$tool" | cksum | cut -d' ' -f1).lock"
    exec 9>"$lock"
    flock 9
    if needs_install; then install; fi
    flock -u 9
    exec 9>&-
  else
    install
  fi
fi

args=()
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  args+=(--port "$1")
  shift
fi

exec node "$tool/server.mjs" "${args[@]}" "$@"
