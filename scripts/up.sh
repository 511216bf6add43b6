#!/usr/bin/env bash
# `make up`: services, venv and install, migrations, Cà Mau wards, broker accounts, then API + ingest + Celery
# worker and beat + the device simulator, in the background (logs in .run/logs). Safe to run again: what already
# runs is left running. `make down` stops what this started.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$ROOT/scripts/bootstrap.sh"
"$ROOT/scripts/services.sh" --no-broker
load_env
OPS="$VENV/bin/ops-center"
API_PORT="${OPS_API_PORT:-8000}"

dbname="${OPS_DATABASE_URL##*/}"
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
  say "creating database $dbname"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$dbname\" TEMPLATE template0 ENCODING 'UTF8'"
fi
say "migrating"
"$OPS" migrate

"$ROOT/scripts/services.sh"   # now our broker, with the accounts from the database

# the center's signing key for public warnings: a self-signed development pair under .run/keys (never committed)
if ! grep -q '^OPS_SIGNING_KEY_FILE=' "$ROOT/.env" 2>/dev/null; then
  printf 'OPS_SIGNING_KEY_FILE=%s\nOPS_SIGNING_CERT_FILE=%s\n' "$RUN/keys/signing-key.pem" \
    "$RUN/keys/signing-cert.pem" >> "$ROOT/.env"
  load_env
fi
"$OPS" keys ensure

has_cmd() { "$OPS" --help 2>/dev/null | grep -qE "[{,]$1[,}]"; }

if has_cmd wards; then
  say "loading Cà Mau boundary sets"
  "$OPS" wards ensure-demo || warn "boundary import failed (see above)"
fi

if has_cmd alerts; then
  say "loading the starting alert rules (upserted by name)"
  "$OPS" alerts load-rules "$ROOT/alerts/data/camau-demo-rules.yaml" || warn "alert rules not loaded (see above)"
fi

cred="$RUN/admin-credentials"
if [ ! -f "$cred" ]; then
  pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
  "$OPS" users create admin --role admin --password "$pw" --full-name "Quản trị viên" --update >/dev/null
  umask 077; printf 'username=admin\npassword=%s\n' "$pw" > "$cred"
fi

start() { # start NAME CMD...: run in the background unless already running
  local name=$1; shift
  local pidf="$RUN/pids/$name.pid"
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then say "$name already running (pid $(cat "$pidf"))"; return; fi
  nohup "$@" >>"$RUN/logs/$name.log" 2>&1 &
  echo $! > "$pidf"
  say "started $name (pid $!, log .run/logs/$name.log)"
}

start api "$OPS" api --host 127.0.0.1 --port "$API_PORT"
has_cmd ingest && start ingest "$OPS" ingest
start worker "$OPS" worker --concurrency 2 --hostname "worker@%h"
start beat "$OPS" beat --schedule "$RUN/celerybeat-schedule"
has_cmd simulate && start simulator "$OPS" simulate --device-history-hours 168 --onestop --api-url "http://127.0.0.1:$API_PORT"

say "waiting for /readyz"
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >"$RUN/readyz.json" 2>/dev/null; then break; fi
  sleep 0.3
done
curl -sS "http://127.0.0.1:$API_PORT/readyz" || true
echo
if ! grep -q '"ready"' "$RUN/readyz.json" 2>/dev/null; then die "not ready: see .run/logs/*.log"; fi
. "$cred"
cat <<MSG

  ops_center is up:   http://127.0.0.1:$API_PORT/      (API docs: http://127.0.0.1:$API_PORT/docs)
  first admin:        $username / $password      (stored in .run/admin-credentials)
  public warnings:    http://127.0.0.1:$API_PORT/cap/feed.atom  (CAP 1.2, signed; docs/cap.md)
  more users:         .venv/bin/ops-center users create NAME --role operator|leader|admin|integration
  stop everything:    make down

MSG
