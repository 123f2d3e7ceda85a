#!/usr/bin/env bash
# The browser suites (vitest's browser project, the fault matrix, the Storybook story tests, the
# Next.js example test, the benchmarks) launch the binary named by CHROMIUM_PATH, else
# /usr/bin/chromium (scripts/chromium.mjs). When either is there nothing is installed; otherwise
# Debian's chromium is installed with apt (as root), never a downloaded browser build.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] && exit 0
  echo "CHROMIUM_PATH is '$CHROMIUM_PATH', which is not an executable file." >&2
  exit 1
fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MESSAGE'
No browser for the Chromium tests: /usr/bin/chromium is missing and there is no apt-get to install
it. Install Chromium or Google Chrome and point CHROMIUM_PATH at its binary, e.g. on macOS:
  CHROMIUM_PATH="/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" npm test
MESSAGE
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing: run 'sudo apt-get install -y chromium', or set CHROMIUM_PATH to a Chromium or Chrome binary." >&2
  exit 1
fi
echo "Installing Debian chromium for the browser tests..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
