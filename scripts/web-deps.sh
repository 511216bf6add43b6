#!/usr/bin/env bash
# The pinned browser libraries of tools/web (uPlot, axe-core) in tools/web/node_modules, installed with `npm ci`
# from the committed package-lock.json when missing or stale. The browser tests need axe-core from here; the screens
# themselves never do (uPlot is vendored into api/static/vendor, see scripts/web-vendor.sh and docs/charts.md).
# Prints the node_modules path on stdout; install chatter goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="$here/tools/web"

for bin in node npm; do
  command -v "$bin" >/dev/null 2>&1 || { echo "web-deps.sh: '$bin' not found; install Node.js 20+ with npm" >&2; exit 127; }
done

needs_install() {
  local marker="$tool/node_modules/.package-lock.json"
  [ -f "$tool/node_modules/axe-core/axe.min.js" ] || return 0
  [ -f "$tool/node_modules/uplot/dist/uPlot.iife.min.js" ] || return 0
  [ -f "$marker" ] || return 0
  [ "$tool/package-lock.json" -nt "$marker" ] && return 0
  return 1
}

install() {
  echo "web-deps.sh: installing tools/web dependencies (npm ci)" >&2
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error 1>&2)
}

if needs_install; then
  if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/ops_center-web-install-$(printf '%s' "$tool" | cksum | cut -d' ' -f1).lock"
    exec 9>"$lock"
    flock 9
    if needs_install; then install; fi
    flock -u 9
    exec 9>&-
  else
    install
  fi
fi
echo "$tool/node_modules"
