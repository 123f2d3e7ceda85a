// Shared plumbing of the Chromium suites: the page bundle (esbuild, from src/), a static server for
// it on 127.0.0.1, Chromium through playwright-core, and the Node-side half of each ledger.
import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core'
import type { ReferenceServer } from '../../reference-server/server'
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs'
import type { OpenConfig, StreamRequest, StreamState, TransportRun, TransportRunConfig, WakeReport } from './page/harness'
import { sleep, until, within } from '../helpers/wait'

export type { OpenConfig, StreamRequest, StreamState, TransportRun, TransportRunConfig, WakeReport }

const srcPath = (p: string) => fileURLToPath(new URL(`../../src/${p}`, import.meta.url))

/** The page imports the library by its public names, resolved to the sources (like vitest's alias). */
const aliasPlugin: Plugin = {
  name: 'use-event-stream-alias',
  setup(b) {
    const map: Record<string, string> = {
      'use-event-stream/core': srcPath('entries/core.ts'),
      'use-event-stream/server': srcPath('server/index.ts'),
      'use-event-stream/testing': srcPath('testing/index.ts'),
      'use-event-stream': srcPath('index.ts'),
    }
    b.onResolve({ filter: /^use-event-stream(\/.*)?$/ }, (args) => ({ path: map[args.path]! }))
  },
}

/** Bundles test/e2e/page/harness.ts for the browser. */
export async function bundleHarness(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./page/harness.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // Development build: the library's dev warnings stay on, so the console checks see them.
    define: { 'process.env.NODE_ENV': '"development"' },
    plugins: [aliasPlugin],
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

export interface StaticSite {
  url: string
  close(): Promise<void>
}

/** Serves the harness page on its own 127.0.0.1 origin (cross-origin to the reference server, like a real app behind CORS). */
export async function serveHarness(script: string): Promise<StaticSite> {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>loading</title></head><body><div id="out"></div><script type="module" src="/harness.js"></script></body></html>'
  const server: Server = createServer((req, res) => {
    if (req.url === '/harness.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
      return void res.end(script)
    }
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      return void res.end(html)
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions())
}

/** A fresh context + page on the harness, with every console line collected. */
export async function openHarness(
  browser: Browser,
  site: StaticSite,
  options: { initScript?: string } = {},
): Promise<{ context: BrowserContext; page: Page; console: string[] }> {
  const context = await browser.newContext()
  if (options.initScript) await context.addInitScript(options.initScript)
  return { context, ...(await openHarnessPage(context, site)) }
}

/** Another page on the harness in `context` (pages of one context are tabs of one browser profile). */
export async function openHarnessPage(context: BrowserContext, site: StaticSite): Promise<{ page: Page; console: string[] }> {
  const page = await context.newPage()
  const lines: string[] = []
  page.on('console', (msg) => lines.push(`${msg.type()}: ${msg.text()}`))
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}\n${error.stack ?? ''}`))
  await page.goto(site.url)
  await page.waitForFunction(() => document.title === 'harness ready', undefined, { timeout: 10_000 })
  return { page, console: lines }
}

// The suites' one `sleep` and one polling loop, re-exported for the Chromium suites' imports.
export { sleep, until, within }

/**
 * Stops the page's JavaScript in the debugger (a stalled tab: its sockets stay open, its scripts do
 * not run) and resolves once it is paused. Chromium acknowledges a `Debugger.pause` now and then
 * without ever pausing (seen: a leader that went on delivering for 10 s), so the request is
 * repeated, once a second, until the page says it paused (at most 10 times). Resume with
 * `session.send('Debugger.resume')`.
 */
export async function pauseScript(session: CDPSession, label: string): Promise<void> {
  await within(session.send('Debugger.enable'), 10_000, `${label}: Debugger.enable`)
  let paused = false
  const pausedNow = new Promise<void>((resolve) => session.once('Debugger.paused', () => resolve()))
  void pausedNow.then(() => (paused = true))
  let requests = 0
  while (requests < 10 && !paused) {
    requests++
    await within(session.send('Debugger.pause'), 10_000, `${label}: Debugger.pause`)
    await Promise.race([pausedNow, sleep(1000)])
  }
  if (!paused) throw new Error(`${label}: Debugger.pause sent 10 times, the page never paused`)
  if (requests > 1) console.log(`[e2e] ${label} paused after ${requests} Debugger.pause requests`)
}

/**
 * Publishes `{"n":i}` on `channel` every `interval` ms until stopped; the ids (or, with
 * `ledgerBy: 'data'`, the data strings) are the server half of the ledger. `sendId(i)` says whether
 * event `i` goes out with its id (default: every one does).
 */
export function startPublisher(
  getServer: () => ReferenceServer | undefined,
  channel: string,
  interval: number,
  options: { sendId?: (i: number) => boolean | 'block'; ledgerBy?: 'id' | 'data' } = {},
) {
  const sent: string[] = []
  let stopped = false
  let skipped = 0
  const done = (async () => {
    for (let i = 0; i < 10_000 && !stopped; i++) {
      const server = getServer()
      const data = JSON.stringify({ n: i })
      // While the server is down there is nobody to publish: those events simply do not exist.
      if (server) {
        const id = server.publish(channel, { data, sendId: options.sendId?.(i) ?? true })
        sent.push(options.ledgerBy === 'data' ? data : id)
      } else skipped++
      await sleep(interval)
    }
  })()
  return {
    sent,
    get skipped() {
      return skipped
    },
    async stop() {
      stopped = true
      await done
      return sent
    },
  }
}

export interface Ledger {
  sent: number
  received: number
  lost: number
  duplicated: number
}

export function ledger(sent: readonly string[], received: readonly string[]): Ledger {
  const seen = new Set<string>()
  let duplicated = 0
  for (const id of received) {
    if (seen.has(id)) duplicated++
    seen.add(id)
  }
  return { sent: sent.length, received: received.length, lost: sent.filter((id) => !seen.has(id)).length, duplicated }
}

/** Client-side helpers over the page's `window.harness`. */
export function harnessOf(page: Page) {
  return {
    open: (config: OpenConfig) => page.evaluate((c) => window.harness.open(c), config),
    /** One connect of the eventsource transport on Chromium's EventSource (no stream, no retries). */
    runEventSourceTransport: (config: TransportRunConfig) => page.evaluate((c) => window.harness.runEventSourceTransport(c), config),
    read: (key: string) => page.evaluate((k) => window.harness.read(k), key),
    reconnect: (key: string) => page.evaluate((k) => window.harness.reconnect(k), key),
    stop: (key: string) => page.evaluate((k) => window.harness.stop(k), key),
    close: (key: string) => page.evaluate((k) => window.harness.close(k), key),
    closeAll: () => page.evaluate(() => window.harness.closeAll()),
    setHidden: (hidden: boolean) => page.evaluate((h) => window.harness.setHidden(h), hidden),
    jump: (ms: number) => page.evaluate((m) => window.harness.jump(m), ms),
    suspend: (options: { hide?: boolean } = {}) => page.evaluate((o) => window.harness.suspend(o), options),
    wake: (options: { wallJumpMs: number; via: 'visibilitychange' | 'focus' }) => page.evaluate((o) => window.harness.wake(o), options),
    settled: () => page.evaluate(() => window.harness.settled()),
    tokenOf: (key: string, version: number) => page.evaluate(([k, v]) => window.harness.tokenOf(k, v), [key, version] as const),
    tokensSeen: () => page.evaluate(() => window.harness.tokensSeen()),
    channels: () => page.evaluate(() => window.harness.channels()),
    eavesdrop: (name: string) => page.evaluate((n) => window.harness.eavesdrop(n), name),
    overheard: () => page.evaluate(() => window.harness.overheard()),
  }
}
