// The fault matrix: both transports (Chromium's own EventSource with ?token=, and fetch with
// Authorization), in a real Chromium, against the reference server on 127.0.0.1. Node keeps the
// server half of every ledger (ids published), the page the client half (ids received); each row
// prints its figures and asserts 0 lost / 0 duplicated wherever that is the rule.
//
// Chromium's EventSource never shows an HTTP status (a 500, a 503 with Retry-After and a 204 all
// look like "the connection failed"); the eventsource transport learns it with one probe request
// (fetch, same URL) per failed attempt, so the status rows assert the same outcome for both
// transports. A probe is a second request to the server: each injected status fault is queued
// twice for the eventsource transport (`faultsPerAttempt`), once for its EventSource and once for
// its probe, and probes are counted apart (`probeRequests`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startReferenceServer, type ReferenceServer, type ReferenceServerOptions } from '../../reference-server/server'
import {
  bundleHarness,
  harnessOf,
  launchChromium,
  ledger,
  openHarness,
  serveHarness,
  sleep,
  startPublisher,
  until,
  type Ledger,
  type OpenConfig,
  type StaticSite,
  type StreamState,
} from './support'

type TransportName = 'fetch' | 'eventsource'
const TRANSPORTS: readonly TransportName[] = ['fetch', 'eventsource']
/** Requests one failed attempt makes to the stream URL: the eventsource transport adds its status probe. */
const faultsPerAttempt = (transport: TransportName) => (transport === 'eventsource' ? 2 : 1)

const serverOptions: ReferenceServerOptions = { host: '127.0.0.1', heartbeatMs: 300, retryAfter: 1 }
let server: ReferenceServer | undefined
const serverLog: string[] = []
let site: StaticSite
let browser: Browser
let main: { context: BrowserContext; page: Page; console: string[] }
/** Every page the matrix used, for the final console/token check. */
const pages: Array<{ page: Page; console: string[] }> = []
/** Every stream state read at the end of a row, for the final token check. */
const finalStates: StreamState[] = []
let rowSeq = 0

async function startServer(port = 0, state?: ReferenceServer['state']): Promise<ReferenceServer> {
  return startReferenceServer({ ...serverOptions, port, ...(state ? { state } : {}), log: (line) => serverLog.push(line) })
}

beforeAll(async () => {
  server = await startServer()
  const [script, launched] = await Promise.all([bundleHarness(), launchChromium()])
  browser = launched
  site = await serveHarness(script)
  main = await openHarness(browser, site)
  pages.push(main)
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  await server?.close()
})

const live = (): ReferenceServer => {
  if (!server) throw new Error('reference server is down')
  return server
}

interface RowOptions {
  /** Token lifetime in seconds. Default 30. */
  ttl?: number
  config?: Partial<OpenConfig>
  /** Publisher period (ms). Default 25. */
  interval?: number
  /** What happens to the connection while events are being published. */
  during(ctx: RowContext): Promise<void>
  /** Whether the row's rule is "every published event arrives once". Default true. */
  expectAll?: boolean
  page?: Page
}

interface RowContext {
  key: string
  channel: string
  transport: TransportName
  h: ReturnType<typeof harnessOf>
  read(): Promise<StreamState>
}

interface RowResult {
  transport: TransportName
  ledger: Ledger
  state: StreamState
  /** Stream connections the server accepted on this channel (current server instance). */
  serverConnections: ReturnType<ReferenceServer['counters']>['connections']
}

/** Runs one row for one transport and prints its figures. */
async function runRow(row: string, transport: TransportName, options: RowOptions): Promise<RowResult> {
  const page = options.page ?? main.page
  const h = harnessOf(page)
  const channel = `seq-${row.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 30)}-${transport}-${++rowSeq}`
  const key = channel
  const read = () => h.read(key)
  await h.open({
    key,
    transport,
    streamUrl: `${live().url}/stream?channel=${channel}`,
    tokenUrl: `${live().url}/auth/sse-token?ttl=${options.ttl ?? 30}`,
    apiKey: live().apiKey,
    ...options.config,
  })
  await until(async () => (await read()).status === 'open', 10_000, `${row}/${transport}: first open`)
  const publisher = startPublisher(() => server, channel, options.interval ?? 25)
  let failure: unknown
  try {
    // A client that has not received one event has no id to resume from: a fault injected before
    // that would lose what was published meanwhile by the protocol's design, not the library's.
    await until(async () => (await read()).ids.length > 0, 10_000, `${row}/${transport}: first event`)
    await options.during({ key, channel, transport, h, read })
  } catch (error) {
    failure = error
  }
  const sent = await publisher.stop()
  if (failure) {
    await h.close(key)
    throw failure
  }
  if (options.expectAll ?? true) {
    const want = new Set(sent)
    await until(
      async () => {
        const got = new Set((await read()).ids)
        for (const id of want) if (!got.has(id)) return false
        return true
      },
      10_000,
      `${row}/${transport}: every published event`,
    ).catch(() => {
      // The ledger below reports exactly what is missing.
    })
  }
  // Late duplicates would arrive now.
  await sleep(150)
  const state = await read()
  await h.close(key)
  finalStates.push(state)
  const result: RowResult = {
    transport,
    ledger: ledger(sent, state.ids),
    state,
    serverConnections: server ? server.counters().connections.filter((c) => c.channel === channel) : [],
  }
  const l = result.ledger
  console.log(
    `[matrix] ${row.padEnd(28)} ${transport.padEnd(11)} sent=${l.sent} received=${l.received} lost=${l.lost} duplicated=${l.duplicated}` +
      ` streamRequests=${state.streamRequests}${transport === 'eventsource' ? ` probes=${state.probeRequests}` : ''} tokenRequests=${state.tokenRequests} serverConnections=${result.serverConnections.length}` +
      ` status=${state.status} errors=${summarizeErrors(state)}` +
      ((options.expectAll ?? true) ? '' : ' (rule here: the stream stops; events after that are not expected)'),
  )
  // Always explain a loss or a duplicate: which ids, which connections, which statuses.
  if (process.env.MATRIX_DEBUG || ((options.expectAll ?? true) && (l.lost > 0 || l.duplicated > 0))) {
    const got = new Set(state.ids)
    const missing = sent.filter((id) => !got.has(id))
    console.log(JSON.stringify({ missing, statuses: state.statuses, errors: state.errors, lastEventId: state.lastEventId, connections: result.serverConnections }))
  }
  return result
}

function summarizeErrors(state: StreamState): string {
  const counts = new Map<string, number>()
  for (const e of state.errors) {
    const label = e.status === undefined ? e.kind : `${e.kind}:${e.status}`
    counts.set(label, (counts.get(label) ?? 0) + 1)
  }
  const unreported = state.errors.filter((e) => !e.reported).length
  return (counts.size === 0 ? 'none' : Array.from(counts, ([k, n]) => `${k}×${n}`).join(',')) + (unreported ? ` (${unreported} not passed to onError)` : '')
}

function expectNoLossNoDup(result: RowResult): void {
  expect(result.ledger.sent).toBeGreaterThan(10)
  expect({ transport: result.transport, lost: result.ledger.lost, duplicated: result.ledger.duplicated }).toEqual({
    transport: result.transport,
    lost: 0,
    duplicated: 0,
  })
}

/** Runs the row for both transports at once (rows whose faults are scoped to a channel). */
const both = (row: string, options: (t: TransportName) => RowOptions) => Promise.all(TRANSPORTS.map((t) => runRow(row, t, options(t))))

/** One transport after the other (rows with faults on the shared token endpoint). */
async function eachInTurn(row: string, options: (t: TransportName) => RowOptions): Promise<RowResult[]> {
  const results: RowResult[] = []
  for (const t of TRANSPORTS) {
    live().resetCounters()
    results.push(await runRow(row, t, options(t)))
  }
  return results
}

describe('fault matrix in Chromium (both transports, reference server)', () => {
  it('server killed and restarted on the same port mid-stream', async () => {
    const results = await both('server restart', () => ({
      async during() {
        await sleep(400)
        // Called once for both transports: the second caller waits for the first restart.
        await restartOnce()
        await sleep(1200)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.state.errors.some((e) => e.kind === 'network')).toBe(true)
      expect(r.state.openCount).toBeGreaterThanOrEqual(2)
      expect(r.state.streamRequests).toBeLessThanOrEqual(15)
      // Resumed on the new instance with the id it had: the replay filled the gap.
      expect(r.serverConnections[0]?.lastEventId).toBeDefined()
    }
  })

  it('connection dropped every 7 events', async () => {
    const results = await both('drop every 7', () => ({
      async during({ channel, key, h }) {
        live().setFault({ route: 'stream', fault: 'drop-after:7', count: 12, channel })
        await h.reconnect(key)
        await sleep(2200)
      },
      interval: 20,
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.serverConnections.filter((c) => c.endReason === 'dropped').length).toBeGreaterThanOrEqual(5)
      expect(r.state.streamRequests).toBeLessThanOrEqual(40)
    }
  })

  it('a burst of 500s', async () => {
    const results = await both('burst of 500', (transport) => ({
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:500', count: 3 * faultsPerAttempt(transport), channel })
        await h.reconnect(key)
        await until(async () => (await read()).errors.length >= 3 && (await read()).status === 'open', 10_000, 'recovery after 500s')
        await sleep(300)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      // 1 initial + 1 reconnect + 2 retries after the first two 500s + nothing else.
      expect(r.state.streamRequests).toBeLessThanOrEqual(6)
      // Both transports see the status (eventsource: through its probe).
      expect(r.state.errors.filter((e) => e.kind === 'http' && e.status === 500)).toHaveLength(3)
      expect(r.state.errors.filter((e) => e.kind === 'network')).toHaveLength(0)
    }
    // One probe per failed attempt, none for the attempts that opened.
    expect(results[1]!.state.probeRequests).toBe(3)
  })

  it('503 with Retry-After', async () => {
    const results = await both('503 + Retry-After', (transport) => ({
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:503', count: 2 * faultsPerAttempt(transport), channel })
        await h.reconnect(key)
        await until(async () => (await read()).errors.length >= 2 && (await read()).status === 'open', 10_000, 'recovery after 503s')
        await sleep(300)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.state.streamRequests).toBeLessThanOrEqual(5)
      const e503 = r.state.errors.filter((e) => e.status === 503)
      expect(e503).toHaveLength(2)
      for (const e of e503) {
        expect(e.retryAfter).toBe(1000)
        // The server's Retry-After is a floor under the jittered backoff.
        expect(e.retryIn).toBeGreaterThanOrEqual(990)
      }
    }
    expect(results[1]!.state.probeRequests).toBe(2)
  })

  it('a stall longer than the idle timeout', async () => {
    const results = await both('stall > idleTimeout', () => ({
      config: { idleTimeout: 1000 },
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'stall', count: 1, channel })
        await h.reconnect(key)
        await until(async () => (await read()).errors.some((e) => e.kind === 'idle-timeout'), 5000, 'idle timeout')
        await until(async () => (await read()).status === 'open', 5000, 'reopen')
        await sleep(300)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.state.errors.filter((e) => e.kind === 'idle-timeout').length).toBeGreaterThanOrEqual(1)
      expect(r.state.streamRequests).toBeLessThanOrEqual(6)
    }
  })

  it('token expiring mid-stream (the server closes the stream at expiry)', async () => {
    const results = await both('token expiry closes stream', () => ({
      ttl: 2,
      // 'none': ride each token until the server ends the stream, so the expiry close is what happens.
      config: { rotation: 'none' },
      async during() {
        // A 2 s token's exp is rounded up to a whole second (2–3 s), and a reconnect may use a
        // token minted up to 1 s earlier: 7 s always holds two expiry closes.
        await sleep(7000)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.serverConnections.filter((c) => c.endReason === 'token-expired').length).toBeGreaterThanOrEqual(2)
      // About one token per second of a 2 s token; a loop would be far more.
      expect(r.state.tokenRequests).toBeLessThanOrEqual(10)
      expect(r.state.tokenVersion).toBeGreaterThanOrEqual(3)
    }
  })

  it('token endpoint: 500s, then a hanging request, then recovery', async () => {
    const results = await eachInTurn('token 500s, timeout, ok', () => ({
      ttl: 3,
      // The token manager has no timeout of its own: a hanging request would hold every caller.
      // The app's fetchToken bounds it with AbortSignal.timeout.
      config: { tokenTimeoutMs: 1000 },
      async during({ read }) {
        live().setFault({ route: 'token', fault: 'status:500', count: 3 })
        live().setFault({ route: 'token', fault: 'timeout', count: 1 })
        await until(async () => (await read()).tokenVersion >= 2, 15_000, 'a token after the failures')
        await until(async () => (await read()).status === 'open', 10_000, 'stream back')
        await sleep(500)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      // 1 good + 3 × 500 + 1 timed out + ≥ 1 good, and no storm.
      expect(r.state.tokenRequests).toBeGreaterThanOrEqual(6)
      expect(r.state.tokenRequests).toBeLessThanOrEqual(12)
      expect(r.state.status).toBe('open')
    }
  })

  it('token endpoint answers 401 → failed, the stream stops, no retry storm', async () => {
    for (const transport of TRANSPORTS) {
      live().resetCounters()
      let requestsAtFailure = { stream: 0, token: 0 }
      const r = await runRow('token 401 → failed', transport, {
        ttl: 2,
        expectAll: false,
        async during({ read }) {
          live().setFault({ route: 'token', fault: 'status:401', count: 100 })
          await until(async () => (await read()).status === 'failed', 5000, 'failed')
          const s = await read()
          requestsAtFailure = { stream: s.streamRequests, token: s.tokenRequests }
          // Anything that still retries would show within this window.
          await sleep(2000)
        },
      })
      expect(r.state.status).toBe('failed')
      expect(r.state.errors.at(-1)?.kind).toBe('unauthorized')
      expect(r.state.tokenStatus).toBe('unauthorized')
      expect({ stream: r.state.streamRequests, token: r.state.tokenRequests }).toEqual(requestsAtFailure)
      // The initial token, then exactly one refused refresh.
      expect(r.state.tokenRequests).toBe(2)
      expect(live().counters().requests.token.byStatus['401']).toBe(1)
      expect(live().counters().open.stream).toBe(0)
      expect(r.ledger.duplicated).toBe(0)
    }
    // The remaining queued 401s must not reach the next rows.
    live().resetCounters()
  })

  it.each([
    ['+10 min', 10 * 60_000],
    ['-10 min', -10 * 60_000],
  ])('client clock skewed by %s', async (label, skew) => {
    const skewed = await openHarness(browser, site, {
      initScript: `{ const realNow = Date.now; Date.now = () => realNow() + (${skew}); }`,
    })
    pages.push(skewed)
    try {
      const pageSkew = await skewed.page.evaluate(() => Date.now() - performance.timeOrigin - performance.now())
      expect(Math.abs(pageSkew - skew)).toBeLessThan(2000)
      const results = await both(`clock skew ${label}`, () => ({
        ttl: 2,
        page: skewed.page,
        async during() {
          await sleep(4200)
        },
      }))
      for (const r of results) {
        expectNoLossNoDup(r)
        // Lifetimes come from expiresIn on the monotonic clock: ~1 refresh per second, not a loop.
        expect(r.state.tokenVersion).toBeGreaterThanOrEqual(4)
        expect(r.state.tokenRequests).toBeLessThanOrEqual(r.state.tokenVersion + 1)
        expect(r.state.errors.filter((e) => e.kind === 'token')).toHaveLength(0)
      }
    } finally {
      await skewed.context.close()
    }
  })

  it('offline, then online', async () => {
    const results = await both('offline → online', () => ({
      async during({ read }) {
        await sleep(300)
        await goOffline()
        await until(async () => (await read()).status === 'paused', 5000, 'paused')
        await sleep(800)
        await goOnline()
        await until(async () => (await read()).status === 'open', 8000, 'open again')
        await sleep(400)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      const s = r.state.statuses
      expect(s.indexOf('paused')).toBeGreaterThan(-1)
      expect(s.lastIndexOf('open')).toBeGreaterThan(s.indexOf('paused'))
      expect(r.state.errors.some((e) => e.kind === 'offline')).toBe(true)
    }
  })

  it('tab hidden for 10 minutes (virtual clock and visibility)', async () => {
    const { page } = main
    const results = await both('hidden 10 min', () => ({
      ttl: 60,
      config: { virtual: true, pauseWhenHidden: 500 },
      async during({ read }) {
        await sleep(300)
        await hideOnce(page)
        await until(async () => (await read()).status === 'paused', 5000, 'paused while hidden')
        const before = await read()
        expect(before.tokenVersion).toBe(1)
        await sleep(600) // events keep coming at the server meanwhile
        await showOnce(page)
        await until(async () => (await read()).status === 'open', 8000, 'open after show')
        const after = await read()
        // 10 virtual minutes > the 60 s token: a fresh one before the stream came back.
        expect(after.tokenVersion).toBe(2)
        await sleep(300)
      },
    }))
    for (const r of results) {
      expectNoLossNoDup(r)
      expect(r.state.statuses).toContain('paused')
      expect(r.state.tokenRequests).toBe(2)
    }
  })

  it('204 → closed, no further requests', async () => {
    const results = await both('204 → closed', (transport) => ({
      expectAll: false,
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:204', count: 5 * faultsPerAttempt(transport), channel })
        await h.reconnect(key)
        await until(async () => (await read()).status === 'closed', 5000, 'closed')
        await sleep(2500)
      },
    }))
    for (const r of results) {
      expect(r.state.status).toBe('closed')
      // The initial connection, the one answered 204, and nothing after.
      expect(r.state.streamRequests).toBe(2)
      expect(r.ledger.duplicated).toBe(0)
    }
    expect(results[1]!.state.probeRequests).toBe(1)
  })

  it('stream answers 404 → failed, no further requests', async () => {
    const results = await both('stream 404 → failed', (transport) => ({
      expectAll: false,
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:404', count: 3 * faultsPerAttempt(transport), channel })
        await h.reconnect(key)
        await until(async () => (await read()).status === 'failed', 5000, 'failed')
        await sleep(1500)
      },
    }))
    for (const r of results) {
      expect(r.state.status).toBe('failed')
      expect(r.state.errors.at(-1)).toMatchObject({ kind: 'http', status: 404 })
      // The initial connection, the one answered 404, and nothing after.
      expect(r.state.streamRequests).toBe(2)
      expect(r.ledger.duplicated).toBe(0)
    }
    expect(results[1]!.state.probeRequests).toBe(1)
  })

  it('stream answers 401 twice → one forced token refresh, then failed', async () => {
    const results = await both('stream 401 twice → failed', (transport) => ({
      expectAll: false,
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:401', count: 2 * faultsPerAttempt(transport), channel })
        await h.reconnect(key)
        await until(async () => (await read()).status === 'failed', 5000, 'failed')
        await sleep(1500)
      },
    }))
    for (const r of results) {
      expect(r.state.status).toBe('failed')
      const auth = r.state.errors.filter((e) => e.kind === 'unauthorized')
      expect(auth.map((e) => e.status)).toEqual([401, 401])
      expect(r.state.errors.at(-1)).toMatchObject({ kind: 'unauthorized', status: 401 })
      // The initial token and one forced refresh after the first 401; none after failing.
      expect(r.state.tokenRequests).toBe(2)
      // Initial, the reconnect answered 401, the retry with the new token answered 401.
      expect(r.state.streamRequests).toBe(3)
      expect(r.ledger.duplicated).toBe(0)
    }
    expect(results[1]!.state.probeRequests).toBe(2)
  })

  it('no token in any console line, error message, snapshot or server log line of the whole run', async () => {
    const tokens = new Set<string>()
    for (const p of pages) {
      if (p.page.isClosed()) continue
      for (const t of await harnessOf(p.page).tokensSeen()) tokens.add(t)
    }
    expect(tokens.size).toBeGreaterThanOrEqual(10)
    const consoleText = pages.flatMap((p) => p.console).join('\n')
    const stateText = finalStates.map((s) => `${s.snapshotText}\n${s.errors.map((e) => e.message).join('\n')}`).join('\n')
    const logText = serverLog.join('\n')
    expect(finalStates.flatMap((s) => s.errors).length).toBeGreaterThan(20)
    expect(serverLog.some((l) => l.includes('token=[redacted]'))).toBe(true)
    for (const token of tokens) {
      expect(consoleText.includes(token)).toBe(false)
      expect(stateText.includes(token)).toBe(false)
      expect(logText.includes(token)).toBe(false)
      // Any part of the signature would do too.
      const signature = token.split('.')[2]!
      expect(consoleText.includes(signature) || stateText.includes(signature) || logText.includes(signature)).toBe(false)
    }
    console.log(`[matrix] token check: ${tokens.size} tokens, ${consoleText.split('\n').length} console lines, ${serverLog.length} server log lines, none contains a token`)
  })
})

// ------------------------------------------------------------------------------------------------
// Shared actions for rows that run both transports at once: the first caller acts, the second
// waits for the same action, so "the server restarts" or "the device goes offline" happens once.

let restarting: Promise<void> | undefined
function restartOnce(): Promise<void> {
  restarting ??= (async () => {
    const old = live()
    await old.close()
    server = undefined
    await sleep(700)
    server = await startServer(old.port, old.state)
  })()
  return restarting.finally(() => {
    setTimeout(() => (restarting = undefined), 2000)
  })
}

let offline: Promise<void> | undefined
let online: Promise<void> | undefined
function goOffline(): Promise<void> {
  online = undefined
  return (offline ??= main.context.setOffline(true))
}
function goOnline(): Promise<void> {
  offline = undefined
  return (online ??= main.context.setOffline(false))
}

let hidden: Promise<void> | undefined
let shown: Promise<void> | undefined
function hideOnce(page: Page): Promise<void> {
  shown = undefined
  return (hidden ??= harnessOf(page).setHidden(true))
}
function showOnce(page: Page): Promise<void> {
  hidden = undefined
  // The tab "slept" 10 minutes: both clocks jump before it becomes visible again.
  return (shown ??= (async () => {
    await harnessOf(page).jump(10 * 60_000)
    await harnessOf(page).setHidden(false)
  })())
}
