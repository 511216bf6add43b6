#!/usr/bin/env bash
# Make PostgreSQL, Redis and our Mosquitto reachable for the project.
#   - use them where they already run;
#   - where a binary is missing and we are root on Debian/Ubuntu, install it from the distribution and start it;
#   - else use `docker compose` where a Docker engine is up;
#   - else stop with a message that names what is missing.
# Mosquitto always runs with OUR config (MQTT v5, persistence, no anonymous access, the managed password file and the
# dynamic-security plugin for rights), as our own instance under .run/mosquitto on OPS_MQTT_PORT (default 18830),
# whatever else runs on 1883. A running instance whose config changed is restarted (a SIGHUP does not load plugins).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PG_PORT=5432
REDIS_PORT=6379
write_env() {
  [ -f "$ROOT/.env" ] && return 0
  say "writing .env (development settings, random secrets)"
  umask 077
  cat > "$ROOT/.env" <<ENV
# Written by scripts/services.sh for local development; not committed.
OPS_ENV=dev
OPS_DATABASE_URL=postgresql://postgres@127.0.0.1:${PG_PORT}/ops_center
OPS_REDIS_URL=redis://127.0.0.1:${REDIS_PORT}/5
OPS_MQTT_HOST=127.0.0.1
OPS_MQTT_PORT=18830
OPS_MQTT_USERNAME=ops-ingest
OPS_MQTT_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
OPS_JWT_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')
OPS_MQTT_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
OPS_MQTT_PASSWD_FILE=$RUN/mosquitto/passwd
OPS_MQTT_DYNSEC_FILE=$RUN/mosquitto/dynsec.json
OPS_MQTT_PID_FILE=$RUN/mosquitto/mosquitto.pid
OPS_SIGNING_KEY_FILE=$RUN/keys/signing-key.pem
OPS_SIGNING_CERT_FILE=$RUN/keys/signing-cert.pem
ENV
}

missing=()

ensure_postgres() {
  if port_open "$PG_PORT"; then return 0; fi
  if ! have pg_ctlcluster && ! have pg_ctl; then
    say "installing PostgreSQL from the distribution"
    apt_install postgresql postgresql-contrib || { missing+=("PostgreSQL"); return 0; }
  fi
  say "starting PostgreSQL"
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$ver" main >/dev/null
  fi
  # trust on loopback for local development, as the machine's own setup does
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  wait_port "$PG_PORT" 30 PostgreSQL
}

ensure_redis() {
  if port_open "$REDIS_PORT"; then return 0; fi
  if ! have redis-server; then
    say "installing Redis from the distribution"
    apt_install redis-server || { missing+=("Redis"); return 0; }
  fi
  say "starting Redis"
  mkdir -p "$RUN/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN/redis" --logfile "$RUN/logs/redis.log"
  wait_port "$REDIS_PORT" 15 Redis
}

ensure_mosquitto_binary() {
  if have mosquitto || [ -x /usr/sbin/mosquitto ]; then return 0; fi
  say "installing Mosquitto from the distribution"
  apt_install mosquitto mosquitto-clients || missing+=("Mosquitto")
}

broker_pid() { # the pid of our running Mosquitto, if any
  local pidf="$RUN/mosquitto/mosquitto.pid"
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && cat "$pidf"
}

start_our_broker() {
  load_env
  local port="${OPS_MQTT_PORT:-18830}" dir="$RUN/mosquitto" pid
  mkdir -p "$dir"
  "$VENV/bin/ops-center" broker config --port "$port" --run-dir "$dir" >/dev/null
  if pid=$(broker_pid) && ! cmp -s "$dir/mosquitto.conf" "$dir/mosquitto.conf.running"; then
    say "our Mosquitto's config changed: restarting it"
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # accounts: over $CONTROL and SIGHUP to a running broker, else the files it starts from
  "$VENV/bin/ops-center" broker sync >/dev/null
  if broker_pid >/dev/null; then return 0; fi
  port_open "$port" && die "port $port is taken by another program; set OPS_MQTT_PORT in .env"
  say "starting our Mosquitto on 127.0.0.1:$port"
  local bin; bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  "$bin" -d -c "$dir/mosquitto.conf"
  cp "$dir/mosquitto.conf" "$dir/mosquitto.conf.running"
  wait_port "$port" 15 Mosquitto
}

main() {
  write_env
  ensure_postgres
  ensure_redis
  ensure_mosquitto_binary
  if [ ${#missing[@]} -gt 0 ]; then
    if docker_up; then
      say "using docker compose for: ${missing[*]}"
      docker compose -f "$ROOT/docker-compose.yml" up -d db redis broker
      return 0
    fi
    die "missing and not installable here (need root on Debian/Ubuntu, or a running Docker engine): ${missing[*]}"
  fi
  if [ "${1:-}" != "--no-broker" ]; then start_our_broker; fi
}
main "$@"
