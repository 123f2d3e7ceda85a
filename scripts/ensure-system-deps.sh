#!/usr/bin/env bash
# System packages the tests need, from Debian (never a downloaded build): chromium for the browser
# tests, redis-server for the Redis event log tests (each suite starts its own on a free port).
# Installs only what is missing; one apt-get update for both.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "Missing: ${missing[*]}. Run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}'." >&2
  exit 1
fi
echo "Installing Debian packages for the tests: ${missing[*]}..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
[ ! -x /usr/bin/chromium ] || /usr/bin/chromium --version
redis-server --version
