#!/usr/bin/env bash
# What the test suite needs on this machine: PostgreSQL running (tests create their own databases), the
# mosquitto and redis-server binaries (tests start their own instances on free ports), Node.js for the TimescaleDB
# (PGlite) server and the pinned browser libraries (axe-core for the accessibility checks), Chromium for the browser
# tests, pdftotext for the PDF check, curl, jq and mosquitto_pub for the integration guide's examples, libfaketime for
# a clock ahead, xmlsec1 to verify CAP signatures with an outside tool.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$ROOT/scripts/services.sh" --no-broker
need=()
have mosquitto || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
have mosquitto_pub || need+=(mosquitto-clients)
have redis-server || need+=(redis-server)
have node || need+=(nodejs)
have npm || need+=(npm)
have chromium || need+=(chromium)
have pdftotext || need+=(poppler-utils)
have faketime || need+=(faketime)  # a province's clock ahead in the federation deployment test
have jq || need+=(jq)
# a private PostgreSQL cluster and its streaming replica (tests/pipeline, tests/security, tests/replica): initdb,
# pg_ctl and pg_basebackup from Debian's server package, under /usr/lib/postgresql/<version>/bin
pg_server_bins() { ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1; }
pg_server_bins || need+=(postgresql)
have curl || need+=(curl)
have xmlsec1 || need+=(xmlsec1)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  say "installing test dependencies: ${need[*]}"
  apt_install "${need[@]}" || die "could not install: ${need[*]} (need root on Debian/Ubuntu)"
fi
pg_server_bins || die "initdb/pg_basebackup not found under /usr/lib/postgresql/*/bin (Debian package postgresql)"
"$ROOT/scripts/web-deps.sh" >/dev/null
