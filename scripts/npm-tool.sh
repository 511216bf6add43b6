# Sourced by the scripts that need a tool's pinned npm packages (scripts/pglite.sh, scripts/web-deps.sh):
#   npm_ci_when_stale NAME TOOL_DIR FILE...
# checks Node.js 20+ and npm, then runs `npm ci` in TOOL_DIR (from its committed package-lock.json) when one of the
# FILEs (relative to TOOL_DIR/node_modules) is missing or the lock file is newer than the last install — once at a
# time across processes (flock), as several test processes may start at once. Chatter goes to stderr.

_npm_stale() {
  local tool=$1 f
  shift
  for f in "$@"; do [ -f "$tool/node_modules/$f" ] || return 0; done
  [ -f "$tool/node_modules/.package-lock.json" ] || return 0
  [ "$tool/package-lock.json" -nt "$tool/node_modules/.package-lock.json" ] && return 0
  return 1
}

npm_ci_when_stale() {
  local name=$1 tool=$2 bin lock
  shift 2
  for bin in node npm; do
    if ! command -v "$bin" >/dev/null 2>&1; then
      echo "$name: '$bin' not found on PATH; install Node.js 20+ with npm (e.g. apt-get install nodejs npm)" >&2
      exit 127
    fi
  done
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "$name: Node.js 20+ required, found $(node --version)" >&2
    exit 127
  fi
  _npm_stale "$tool" "$@" || return 0
  if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/ops_center-npm-install-$(printf '%s' "$tool" | cksum | cut -d' ' -f1).lock"
    exec 9>"$lock"
    flock 9
  fi
  if _npm_stale "$tool" "$@"; then
    echo "$name: installing $(basename "$tool") dependencies (npm ci)" >&2
    (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error 1>&2)
  fi
  if command -v flock >/dev/null 2>&1; then
    flock -u 9
    exec 9>&-
  fi
}
