// The one launch configuration of Chromium, shared by every browser test (vitest's browser project,
// the fault matrix, the Storybook story tests, the Next.js example test) and the benchmarks: never a
// downloaded browser build, and the background-networking flags, without which Chromium keeps
// dialling hosts a closed network refuses. The binary is Debian's chromium unless CHROMIUM_PATH
// names another (a Chromium or Google Chrome binary, e.g. on macOS); scripts/ensure-system-deps.sh
// checks that it exists before `npm test` starts.

/** Path of the browser binary: `CHROMIUM_PATH` when set, else `/usr/bin/chromium`. */
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
