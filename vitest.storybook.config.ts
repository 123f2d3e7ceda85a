/**
 * Story tests: every story in storybook/ becomes a test (its `play` function, plus the preview's
 * guards) run in a real headless Chromium through vitest's browser mode.
 *
 *   npx vitest run --config vitest.storybook.config.ts
 *
 * Separate from vitest.config.ts: no reference server (the stories mock their backend in the
 * browser with Mock Service Worker), and a browser instead of node/jsdom.
 */
import { fileURLToPath } from 'node:url'
import { storybookTest } from '@storybook/addon-vitest/vitest-plugin'
import { playwright } from '@vitest/browser-playwright'
import { defineConfig } from 'vitest/config'
import { chromiumLaunchOptions } from './scripts/chromium.mjs'
import { alias } from './vitest.config.js'

export default defineConfig({
  resolve: { alias },
  plugins: [
    storybookTest({
      configDir: fileURLToPath(new URL('./.storybook', import.meta.url)),
      // Stories tagged `manual` (none today) are browsable but not part of the test run.
      tags: { exclude: ['manual'] },
    }),
  ],
  test: {
    name: 'storybook',
    // A play function waits for real timers (token refresh, reconnect delays): up to ~10 s.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: chromiumLaunchOptions(),
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
})
