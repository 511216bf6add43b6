#!/usr/bin/env bash
# Copy the pinned uPlot build from tools/web/node_modules into api/static/vendor/uplot (committed), so the screens
# work from a clean clone, offline, without Node.js. Run after changing the version in tools/web/package.json
# (then `npm install --package-lock-only` there); tests/live/test_vendored.py checks the copy is byte-identical.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modules="$("$here/scripts/web-deps.sh")"
dest="$here/api/static/vendor/uplot"
mkdir -p "$dest"
cp "$modules/uplot/dist/uPlot.iife.min.js" "$modules/uplot/dist/uPlot.min.css" "$dest/"
cp "$modules/uplot/LICENSE" "$dest/LICENSE.txt"
node -p "require('$modules/uplot/package.json').version" > "$dest/VERSION.txt"
echo "vendored uPlot $(cat "$dest/VERSION.txt") into ${dest#$here/}"
