import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

// Tests import the library through its public entry names, resolved to the sources.
export const alias = [
  { find: /^use-event-stream\/core$/, replacement: src('core/index.ts') },
  { find: /^use-event-stream\/server$/, replacement: src('server/index.ts') },
  { find: /^use-event-stream\/testing$/, replacement: src('testing/index.ts') },
  { find: /^use-event-stream$/, replacement: src('index.ts') },
]

export default defineConfig({
  resolve: { alias },
  test: {
    globalSetup: ['./test/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', environment: 'node', include: ['test/node/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'jsdom', environment: 'jsdom', include: ['test/jsdom/**/*.test.{ts,tsx}'] },
      },
    ],
  },
})
