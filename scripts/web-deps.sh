#!/usr/bin/env bash
# The pinned browser libraries of tools/web (uPlot, axe-core) in tools/web/node_modules, installed with `npm ci`
# from the committed package-lock.json when missing or stale. The browser tests need axe-core from here; the screens
# themselves never do (uPlot is vendored into api/static/vendor, see scripts/web-vendor.sh and docs/charts.md).
# Prints the node_modules path on stdout; install chatter goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="$here/tools/web"

. "$here/scripts/npm-tool.sh"
npm_ci_when_stale web-deps.sh "$tool" axe-core/axe.min.js uplot/dist/uPlot.iife.min.js
echo "$tool/node_modules"
