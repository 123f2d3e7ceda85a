#!/usr/bin/env bash
# The README's test command (`npm test`): every check, in the order a failure is cheapest to find.
# Set-up it needs (Debian chromium and redis-server, the React 18 copy) is done here, so a fresh
# clone after `npm ci` needs nothing else on Debian. Elsewhere set CHROMIUM_PATH to a Chromium or
# Chrome binary and install redis-server yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

# No telemetry: the machines reach only package registries, and a test must not wait on the network.
export STORYBOOK_DISABLE_TELEMETRY=1 NEXT_TELEMETRY_DISABLED=1

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "set-up: Chromium (CHROMIUM_PATH or /usr/bin/chromium), redis-server and React 18"
bash scripts/ensure-system-deps.sh
[ -f test/react18/node_modules/react/package.json ] || npm ci --prefix test/react18 --no-audit --no-fund

step "type-check"
npx tsc -p tsconfig.json --noEmit
npx tsc -p .storybook/tsconfig.json --noEmit

step "build (tsup)"
npx tsup --silent
head -c 14 dist/index.js | grep -q '"use client"' || { echo 'dist/index.js lost "use client" on line 1'; exit 1; }
head -c 14 dist/index.cjs | grep -q '"use client"' || { echo 'dist/index.cjs lost "use client" on line 1'; exit 1; }

step "package checks: publint --strict, attw --pack"
npx publint --strict
npx attw --pack .

if [ -f scripts/size.mjs ]; then
  step "bundle budgets"
  node scripts/size.mjs
fi

if [ -f test/expo/export.test.mjs ]; then
  step "Expo example: Metro bundles examples/expo with the built library (expo export, Android)"
  [ -f examples/expo/node_modules/expo/package.json ] || npm ci --prefix examples/expo --no-audit --no-fund
  node test/expo/export.test.mjs
fi

# Two runs rather than one: the Chromium suites (hooks in the browser, the fault matrix) time real
# reconnects, and on a 2-core machine they should not compete with the Node and jsdom suites.
step "unit and integration tests (vitest: node, jsdom on React 19 and 18, type tests), with coverage of src/"
npx vitest run --project node --project jsdom --project jsdom-react18 --project types --coverage

step "browser tests and the fault matrix (vitest: Chromium)"
npx vitest run --project browser --project e2e

if [ -f vitest.storybook.config.ts ]; then
  step "Storybook: static build and story play tests in Chromium"
  npx storybook build -c .storybook -o storybook-static --quiet
  npx vitest run --config vitest.storybook.config.ts
fi

if [ -f test/nextjs/next.test.mjs ]; then
  step "Next.js example: next build, next start, Chromium"
  node test/nextjs/next.test.mjs
fi

step "all checks passed"
