#!/bin/sh
# Installs what bench/overhead.mjs needs besides fleetd: busybox (the child every supervisor
# runs: `busybox httpd` answering /healthz), and the two peers for side-by-side runs:
# supervisord 4.2.5 (Debian's `supervisor`) and PM2 7.0.4 (npm, into bench/.peers/, never a
# dependency of the project). Needs root for apt-get. Idempotent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v busybox >/dev/null 2>&1 || ! command -v supervisord >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox supervisor
fi
# Debian's package starts a system-wide supervisord where it can; the benchmark runs its own.
mkdir -p "$here/.peers"
if [ ! -x "$here/.peers/node_modules/.bin/pm2" ]; then
  (cd "$here/.peers" && npm install --no-save --no-audit --no-fund --prefix . pm2@7.0.4 >/dev/null)
fi
echo "busybox: $(command -v busybox); supervisord $(supervisord --version); pm2 $(node -p "require('$here/.peers/node_modules/pm2/package.json').version")"
