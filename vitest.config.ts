import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { chromiumLaunchOptions } from './scripts/chromium.mjs'
import { playwright } from '@vitest/browser-playwright'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))
const react18 = fileURLToPath(new URL('./test/react18/node_modules/', import.meta.url))

// The React test suite a second time on React 18: react, react-dom and their subpaths (client,
// server, jsx runtimes, test-utils) resolve to test/react18/node_modules.
// Testing Library's `main` is CommonJS, whose `require('react')` no alias reaches: use its ESM
// build, inlined (see `server.deps.inline` below).
const react18Alias = [
  { find: /^(react|react-dom)(\/.*)?$/, replacement: `${react18}$1$2` },
  // React 18 has useSyncExternalStore: the shim's CommonJS `require('react')` (for swr) would
  // reach the root React 19 instead.
  { find: /^use-sync-external-store\/shim(\/index\.js)?$/, replacement: `${react18}react` },
  {
    find: /^@testing-library\/react$/,
    replacement: fileURLToPath(new URL('./node_modules/@testing-library/react/dist/@testing-library/react.esm.js', import.meta.url)),
  },
]

// Tests import the library through its public entry names, resolved to the sources.
export const alias = [
  { find: /^use-event-stream\/core$/, replacement: src('entries/core.ts') },
  { find: /^use-event-stream\/server$/, replacement: src('server/index.ts') },
  { find: /^use-event-stream\/server\/redis$/, replacement: src('server/redis.ts') },
  { find: /^use-event-stream\/testing$/, replacement: src('testing/index.ts') },
  { find: /^use-event-stream\/react-native$/, replacement: src('reactNative/index.ts') },
  { find: /^use-event-stream$/, replacement: src('index.ts') },
]

export default defineConfig({
  resolve: { alias },
  test: {
    globalSetup: ['./test/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Read with `--coverage`, as `npm test` runs the Node, jsdom and type projects: V8's own
    // counters over every file of src/ (untested files count as 0 %), a summary printed at the end
    // and a per-file HTML report in coverage/. No thresholds: timing-dependent branches (a reconnect
    // racing a close) make the figures move a little from run to run, and a build must not fail on
    // that.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.{ts,tsx}'],
      reporter: ['text-summary', 'html'],
      reportsDirectory: './coverage',
    },
    projects: [
      {
        extends: true,
        test: { name: 'node', environment: 'node', include: ['test/node/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'jsdom', environment: 'jsdom', include: ['test/jsdom/**/*.test.{ts,tsx}'] },
      },
      {
        extends: true,
        resolve: { alias: react18Alias },
        test: {
          name: 'jsdom-react18',
          environment: 'jsdom',
          include: ['test/jsdom/**/*.test.{ts,tsx}'],
          env: { EXPECTED_REACT_MAJOR: '18' },
          // Inlined so their own `import 'react'` goes through the alias above.
          server: { deps: { inline: ['@testing-library/react', '@tanstack/react-query', 'swr'] } },
        },
      },
      {
        extends: true,
        test: {
          name: 'types',
          include: [],
          typecheck: { enabled: true, only: true, include: ['test/types/**/*.test-d.ts'], tsconfig: './test/types/tsconfig.json' },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.{ts,tsx}'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: chromiumLaunchOptions() }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        // Fault matrix and security checks in a real Chromium driven by playwright-core from Node.
        test: { name: 'e2e', environment: 'node', include: ['test/e2e/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 },
      },
    ],
  },
})
