#!/usr/bin/env bash
# `make down`: stop what `make up` started (our processes and our Mosquitto). The machine's own PostgreSQL and
# Redis are left running.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
for pidf in "$RUN"/pids/*.pid "$RUN/mosquitto/mosquitto.pid"; do
  [ -f "$pidf" ] || continue
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    say "stopped $(basename "$pidf" .pid) ($pid)"
  fi
  rm -f "$pidf"
done
# the four-instance federation demo (make national-demo), if it runs
if [ -d "$RUN/national-demo" ] && [ -x "$VENV/bin/python" ]; then "$VENV/bin/python" "$ROOT/scripts/national_demo.py" down; fi
