// Debian's chromium, launched the one way that works on these machines (no downloaded browser;
// without the background-networking flags Chromium keeps dialling hosts this network refuses).
// Shared by every browser test, the benchmarks and the Storybook story tests.

/** Path of the browser binary. `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** Flags for a headless, quiet, sandbox-free (root) Chromium. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Launch options for playwright-core's `chromium.launch()` (and `@vitest/browser-playwright`). */
export function chromiumLaunchOptions(extraArgs = []) {
  return { executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_FLAGS, ...extraArgs] }
}
