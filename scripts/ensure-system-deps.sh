#!/usr/bin/env bash
# System packages the tests need, from Debian (never a downloaded build): a Chromium for the browser
# suites (vitest's browser project, the fault matrix, the Storybook story tests, the Next.js example
# test, the benchmarks: they launch CHROMIUM_PATH, else /usr/bin/chromium, see scripts/chromium.mjs)
# and redis-server for the Redis event log tests (each suite starts its own on a free port).
# Installs only what is missing, with one apt-get update.
set -euo pipefail
missing=()
if [ -n "${CHROMIUM_PATH:-}" ]; then
  if [ ! -x "$CHROMIUM_PATH" ]; then
    echo "CHROMIUM_PATH is '$CHROMIUM_PATH', which is not an executable file." >&2
    exit 1
  fi
elif [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MESSAGE
Missing for the tests: ${missing[*]}, and there is no apt-get to install them.
Install Chromium or Google Chrome and point CHROMIUM_PATH at its binary, and install Redis, e.g. on macOS:
  brew install redis
  CHROMIUM_PATH="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" npm test
MESSAGE
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "Missing: ${missing[*]}. Run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}', or set CHROMIUM_PATH to a Chromium or Chrome binary." >&2
  exit 1
fi
echo "Installing Debian packages for the tests: ${missing[*]}..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
[ ! -x /usr/bin/chromium ] || /usr/bin/chromium --version
redis-server --version
