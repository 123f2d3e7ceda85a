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
  type StreamRequest,
  type StreamState,
  type WakeReport,
} from './support'
import { verifySseToken } from 'use-event-stream/server'

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
  /** Printed after the figures of a row whose rule is not "every event once". Default: the stream stops. */
  note?: string
  /** Whether the publisher's event `i` carries its id. Default: every event does. */
  sendId?: (i: number) => boolean | 'block'
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
  /** The row's channel, also its harness key. */
  channel: string
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
  const publisher = startPublisher(() => server, channel, options.interval ?? 25, {
    ledgerBy: options.config?.ledgerBy ?? 'id',
    ...(options.sendId ? { sendId: options.sendId } : {}),
  })
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
    channel,
    ledger: ledger(sent, state.ids),
    state,
    serverConnections: server ? server.counters().connections.filter((c) => c.channel === channel) : [],
  }
  const l = result.ledger
  console.log(
    `[matrix] ${row.padEnd(28)} ${transport.padEnd(11)} sent=${l.sent} received=${l.received} lost=${l.lost} duplicated=${l.duplicated}` +
      ` streamRequests=${state.streamRequests}${transport === 'eventsource' ? ` probes=${state.probeRequests}` : ''} tokenRequests=${state.tokenRequests} serverConnections=${result.serverConnections.length}` +
      ` status=${state.status} errors=${summarizeErrors(state)}` +
      ((options.expectAll ?? true) ? '' : ` (rule here: ${options.note ?? 'the stream stops; events after that are not expected'})`),
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

  it.each([
    ['visibilitychange', true],
    ['focus', false],
  ] as const)('laptop slept 1 h (wall clock +1 h, monotonic clock and timers stopped), woken by %s', async (via, hide) => {
    const page = main.page
    const h = harnessOf(page)
    // A 3 s token is refreshed 1 s before expiry and its exp is rounded up to the next second, so
    // any token held when the lid closes is expired at the server 4 s later: the 5 s of real sleep
    // make every connection end at the server (token-expired) and the held token one it rejects.
    const SLEEP_MS = 5000
    const WALL_JUMP_MS = 3_600_000
    let shared: Promise<{ reports: Record<string, WakeReport>; wokeAt: number; serverTokenDelay: number }> | undefined
    // Both transports share the page's clocks and timers: one lid, closed and opened once.
    const sleepAndWake = () =>
      (shared ??= (async () => {
        await until(() => h.settled(), 10_000, 'both streams open, no token request in flight')
        await h.suspend({ hide })
        await sleep(SLEEP_MS)
        const tokenRequestsBefore = live().counters().requests.token.total
        const wokeAt = Date.now()
        const reports = await h.wake({ wallJumpMs: WALL_JUMP_MS, via })
        await until(
          () => live().counters().requests.token.total >= tokenRequestsBefore + Object.keys(reports).length,
          5000,
          'one token request per stream at the server after the wake',
        )
        return { reports, wokeAt, serverTokenDelay: Date.now() - wokeAt }
      })())
    const woke = new Map<string, { report: WakeReport; wokeAt: number; serverTokenDelay: number; heldToken: string | undefined }>()
    const results = await both(`slept 1 h, ${via}`, () => ({
      ttl: 3,
      config: { virtual: true },
      async during({ key, read }) {
        // A rotation or two before the lid closes.
        await sleep(2500)
        const { reports, wokeAt, serverTokenDelay } = await sleepAndWake()
        const report = reports[key]!
        woke.set(key, { report, wokeAt, serverTokenDelay, heldToken: await h.tokenOf(key, report.version) })
        await until(async () => (await read()).status === 'open', 10_000, 'open after the wake')
        await sleep(800)
      },
    }))
    for (const r of results) {
      const { report, wokeAt, serverTokenDelay, heldToken } = woke.get(r.channel)!
      const requests = r.state.requests
      const afterWake = requests.filter((q) => q.at >= wokeAt)
      const heldExp = r.state.tokenExp[report.version - 1]!
      const unauthorizedAtServer = serverLog.filter((l) => l.includes(`channel=${r.channel} `) || l.includes(`channel=${r.channel}&`)).filter((l) => / 401 /.test(l))
      console.log(
        `[matrix]   slept 1 h ${r.transport.padEnd(11)} wake via ${via}: token requests at the wake event ${report.after - report.before} (${report.reasons.join(',')}),` +
          ` at the server ${serverTokenDelay} ms after; held token v${report.version} expired ${((wokeAt - heldExp * 1000) / 1000).toFixed(1)} s before the wake;` +
          ` while asleep: ${report.streamRequestsWhileSuspended} stream / ${report.tokenRequestsWhileSuspended} token requests, status ${report.status};` +
          ` after: ${describeRequests(afterWake)}; stream 401s at the server ${unauthorizedAtServer.length}; ended token-expired ${r.serverConnections.filter((c) => c.endReason === 'token-expired').length}`,
      )
      expectNoLossNoDup(r)
      // Nothing ran on a timer while the machine slept.
      expect(report.tokenRequestsWhileSuspended).toBe(0)
      expect(report.streamRequestsWhileSuspended).toBe(0)
      // The server ended the stream at the token's expiry meanwhile; the held token is expired there.
      expect(report.status).toBe('reconnecting')
      expect(r.serverConnections.some((c) => c.endReason === 'token-expired')).toBe(true)
      expect(heldExp * 1000).toBeLessThan(wokeAt)
      expect(await verifySseToken(heldToken, live().state.secret)).toEqual({ ok: false, reason: 'expired' })
      // The wake event itself started the refresh, before any resumed timer ran.
      expect(report.after - report.before).toBe(1)
      expect(report.reasons).toEqual(['scheduled'])
      expect(serverTokenDelay).toBeLessThan(2000)
      // Never a stream request with an expired token: every request carried one valid when made,
      // each after the wake a newer one than the token held while asleep, and the server refused none.
      for (const q of requests) expect(q.exp! * 1000, `request ${describeRequests([q])}`).toBeGreaterThan(q.at)
      expect(afterWake.length).toBeGreaterThanOrEqual(1)
      for (const q of afterWake) expect(q.tokenVersion).toBeGreaterThan(report.version)
      expect(unauthorizedAtServer).toEqual([])
      expect(r.state.errors.filter((e) => e.kind === 'unauthorized')).toEqual([])
      expect(r.state.status).toBe('open')
    }
  })

  it('ids on every 3rd event only, tokens rotating (overlap) at least 3 times', async () => {
    const results = await both('ids on every 3rd, rotating', () => ({
      // A 2 s token is refreshed after 1 s: a rotation about every second.
      ttl: 2,
      config: { ledgerBy: 'data' },
      sendId: (i) => i % 3 === 0,
      async during({ read }) {
        await until(async () => (await read()).tokenVersion >= 4, 15_000, 'three rotations')
        await sleep(500)
      },
    }))
    for (const r of results) {
      const resumed = r.serverConnections.filter((c) => c.lastEventId !== undefined)
      const replayed = resumed.reduce((n, c) => n + c.replayed, 0)
      console.log(
        `[matrix]   ids on every 3rd  ${r.transport.padEnd(11)} rotations=${r.state.tokenVersion - 1} resumed from ${resumed.map((c) => c.lastEventId).join(',')}` +
          ` replayed=${replayed} (repeats dropped by position)`,
      )
      expectNoLossNoDup(r)
      expect(r.state.tokenVersion).toBeGreaterThanOrEqual(4)
      expect(resumed.length).toBeGreaterThanOrEqual(3)
      // Only ids the server sent are resumed from (events 0, 3, 6… carry ids 1, 4, 7…), and the
      // new connections did repeat id-less events the old ones had delivered.
      for (const c of resumed) expect(Number(c.lastEventId) % 3).toBe(1)
      expect(replayed).toBeGreaterThan(0)
      expect(r.state.errors).toEqual([])
      expect(r.state.status).toBe('open')
    }
  })

  it('id-only blocks and ids on every 3rd event, tokens rotating (overlap) at least 3 times', async () => {
    const results = await both('id-only blocks, rotating', () => ({
      ttl: 2,
      config: { ledgerBy: 'data' },
      // Every 4th event is followed by its id in an id-only block; every 3rd carries its own.
      sendId: (i) => (i % 4 === 1 ? 'block' : i % 3 === 0),
      async during({ read }) {
        await until(async () => (await read()).tokenVersion >= 4, 15_000, 'three rotations')
        await sleep(500)
      },
    }))
    for (const r of results) {
      const resumed = r.serverConnections.filter((c) => c.lastEventId !== undefined)
      console.log(`[matrix]   id-only blocks    ${r.transport.padEnd(11)} rotations=${r.state.tokenVersion - 1} resumed from ${resumed.map((c) => c.lastEventId).join(',')}`)
      expectNoLossNoDup(r)
      expect(r.state.tokenVersion).toBeGreaterThanOrEqual(4)
      expect(resumed.length).toBeGreaterThanOrEqual(3)
      expect(r.state.errors).toEqual([])
      expect(r.state.status).toBe('open')
    }
  })

  it('ids on every 3rd event only, the connection dropped every 7 events: plain reconnects drop what the server replays', async () => {
    const results = await both('ids every 3rd, drops', () => ({
      config: { ledgerBy: 'data' },
      sendId: (i) => i % 3 === 0,
      interval: 20,
      async during({ channel, key, h }) {
        live().setFault({ route: 'stream', fault: 'drop-after:7', count: 12, channel })
        await h.reconnect(key)
        await sleep(2200)
      },
    }))
    for (const r of results) {
      const resumed = r.serverConnections.filter((c) => c.lastEventId !== undefined)
      const replayed = resumed.reduce((n, c) => n + c.replayed, 0)
      console.log(`[matrix]   ids every 3rd, drops ${r.transport.padEnd(11)} reconnects resumed=${resumed.length} replayed=${replayed} (repeats dropped by position)`)
      expectNoLossNoDup(r)
      expect(r.serverConnections.filter((c) => c.endReason === 'dropped').length).toBeGreaterThanOrEqual(5)
      // The server did repeat id-less events the stream had delivered: they were dropped.
      expect(replayed).toBeGreaterThan(0)
    }
  })

  it('no ids at all, tokens rotating: the connection is kept until the server ends it (nothing to resume from), nothing duplicated', async () => {
    const results = await both('no ids, rotating', () => ({
      ttl: 2,
      config: { ledgerBy: 'data' },
      sendId: () => false,
      expectAll: false,
      note: 'no ids: a new token keeps the connection; only the server ending it at the token expiry reconnects (what is published meanwhile is lost)',
      async during({ read }) {
        await until(async () => (await read()).tokenVersion >= 4, 15_000, 'three new tokens')
        await sleep(500)
      },
    }))
    for (const r of results) {
      expect(r.ledger.sent).toBeGreaterThan(10)
      expect(r.ledger.duplicated).toBe(0)
      expect(r.state.tokenVersion).toBeGreaterThanOrEqual(4)
      // No rotation opens a connection: each one after the first follows the server ending the
      // last at its token's expiry, and none resumes.
      const ended = r.serverConnections.filter((c) => c.endReason === 'token-expired').length
      expect(r.serverConnections.length).toBeLessThanOrEqual(ended + 1)
      expect(r.serverConnections.every((c) => c.lastEventId === undefined)).toBe(true)
      expect(r.state.status).toBe('open')
    }
  })

  it('stream 401 once, and the forced token refresh answers 503 once: recovers with a newer token', async () => {
    const token503s = new Map<string, number | undefined>()
    const results = await eachInTurn('401, then token 503', (transport) => ({
      async during({ channel, key, h, read }) {
        live().setFault({ route: 'stream', fault: 'status:401', count: faultsPerAttempt(transport), channel })
        live().setFault({ route: 'token', fault: 'status:503', count: 1 })
        await h.reconnect(key)
        await until(async () => {
          const s = await read()
          return s.tokenVersion >= 2 && s.status === 'open'
        }, 10_000, 'open with a newer token')
        await sleep(500)
        // Counters are reset before each transport's turn: read this turn's now.
        token503s.set(channel, live().counters().requests.token.byStatus['503'])
      },
    }))
    for (const r of results) {
      const { requests, tokenReasons } = r.state
      // The initial attempt, then the reconnect the server answered 401 (and its status probe).
      const rejectedAttempt = requests.slice(1, 1 + faultsPerAttempt(r.transport))
      const afterRejection = requests.slice(1 + faultsPerAttempt(r.transport))
      console.log(
        `[matrix]   401 + token 503   ${r.transport.padEnd(11)} token requests: ${tokenReasons.join(', ')}; stream requests: ${describeRequests(requests)}; statuses: ${r.state.statuses.join('→')}`,
      )
      expectNoLossNoDup(r)
      expect(r.state.status).toBe('open')
      expect(r.state.statuses).not.toContain('failed')
      expect(r.state.tokenVersion).toBe(2)
      expect(r.state.tokenRequests).toBeLessThanOrEqual(3)
      expect(tokenReasons).toEqual(['initial', 'unauthorized', 'retry'])
      expect(r.state.errors.filter((e) => e.kind === 'unauthorized').map((e) => e.status)).toEqual([401])
      expect(requests[0]!.tokenVersion).toBe(1)
      expect(rejectedAttempt.map((q) => q.tokenVersion)).toEqual(rejectedAttempt.map(() => 1))
      // The rejected token never went out again: every later request carried the new one.
      expect(afterRejection.length).toBeGreaterThanOrEqual(1)
      expect(afterRejection.map((q) => q.tokenVersion)).toEqual(afterRejection.map(() => 2))
      expect(token503s.get(r.channel)).toBe(1)
    }
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

/** `stream v1, stream v1, probe v1, stream v2`: each request with the version of the token it carried. */
function describeRequests(requests: readonly StreamRequest[]): string {
  return requests.map((q) => `${q.kind} v${q.tokenVersion}`).join(', ') || 'none'
}
