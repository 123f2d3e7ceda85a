/**
 * Reconnect storm: 10k streams (the core's `createEventStreamWith`, fake platform with a virtual clock,
 * fake transport) are connected to one server; at t0 the server restarts. Every connection attempt
 * is counted per 100 ms bucket. The peer is a fixed-delay reconnect (1 s, the retry interval of
 * `@microsoft/fetch-event-source`; the browser's EventSource also waits a fixed time) run on the
 * same clock and the same fake server.
 */
import { createEventStreamWith, EventStreamError, type Platform, type Transport, type TransportHandlers } from 'use-event-stream/core'
// Deterministic PRNG so every run draws the same jitter (shared with the backoff tests).
import { mulberry32 } from '../../test/helpers/random'

const BUCKET = 100
/** Ours: `reconnect.initialDelay` (default 1000); peer: its fixed delay. The window both spread over. */
const WINDOW = 1000
const LATENCY = 5 // ms from connect to the server's answer

/** A virtual clock with a timer queue (binary heap on time, then insertion order). */
class Clock {
  now = 0
  private seq = 0
  private heap: Array<{ at: number; seq: number; fn: () => void; dead: boolean }> = []
  setTimeout = (fn: () => void, ms: number): unknown => {
    const t = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, dead: false }
    const h = this.heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.less(h[i]!, h[p]!)) {
        ;[h[i], h[p]] = [h[p]!, h[i]!]
        i = p
      } else break
    }
    return t
  }
  clearTimeout = (handle: unknown): void => {
    if (handle && typeof handle === 'object') (handle as { dead: boolean }).dead = true
  }
  private less(a: { at: number; seq: number }, b: { at: number; seq: number }) {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  private pop() {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
  /** Runs timers (and the microtasks they queue, via `flush`) up to `until`. Bounded by `maxSteps`. */
  async runUntil(until: number, maxSteps = 5_000_000) {
    let steps = 0
    while (this.heap.length > 0 && this.heap[0]!.at <= until && steps++ < maxSteps) {
      const t = this.pop()
      if (t.dead) continue
      this.now = t.at
      t.fn()
      if ((steps & 1023) === 0) await flush()
    }
    await flush()
    this.now = until
  }
}
const flush = () => new Promise<void>((r) => setImmediate(r))

interface Scenario {
  id: string
  label: string
  /** How the restart looks to an open connection. */
  loss: 'error' | 'clean-close'
  /** The server refuses connections for this long after t0. */
  downtime: number
  /** A `retry:` field (ms) the server sent on every connection before the restart. */
  serverRetry?: number
}

export const SCENARIOS: Scenario[] = [
  { id: 'crash', label: 'crash, back at once (connections reset)', loss: 'error', downtime: 0 },
  { id: 'crash-5s', label: 'crash, 5 s downtime', loss: 'error', downtime: 5000 },
  { id: 'graceful', label: 'graceful restart (responses ended cleanly), back at once', loss: 'clean-close', downtime: 0 },
  { id: 'crash-retry', label: 'crash, back at once; server had sent retry: 1000', loss: 'error', downtime: 0, serverRetry: 1000 },
]

/** A fake server shared by all clients: knows when it is up, holds the open connections. */
function fakeServer(clock: Clock, serverRetry: number | undefined) {
  let downFrom = Infinity
  let downUntil = -Infinity
  const open = new Set<TransportHandlers>()
  const attempts: number[] = []
  const connected = new Map<number, number>() // client → time of (re)connection after t0
  return {
    attempts,
    connected,
    open,
    restart(at: number, downtime: number, loss: Scenario['loss']) {
      downFrom = at
      downUntil = at + downtime
      const victims = [...open]
      open.clear()
      for (const h of victims) {
        if (loss === 'error') h.onError(new EventStreamError('network', 'connection reset'))
        else h.onClose({ noContent: false })
      }
    },
    /** One connection attempt by `client`. */
    connect(client: number, handlers: TransportHandlers): () => void {
      attempts.push(clock.now)
      let aborted = false
      clock.setTimeout(() => {
        if (aborted) return
        const up = clock.now < downFrom || clock.now >= downUntil
        if (up) {
          open.add(handlers)
          if (clock.now >= downFrom && !connected.has(client)) connected.set(client, clock.now)
          handlers.onOpen()
          if (serverRetry !== undefined) handlers.onRetry(serverRetry)
        } else handlers.onError(new EventStreamError('network', 'connection refused'))
      }, LATENCY)
      return () => {
        aborted = true
        open.delete(handlers)
      }
    },
  }
}

function histogram(attempts: number[], t0: number, span: number): number[] {
  const buckets = new Array(Math.ceil(span / BUCKET)).fill(0)
  for (const t of attempts) {
    const b = Math.floor((t - t0) / BUCKET)
    if (b >= 0 && b < buckets.length) buckets[b]++
  }
  return buckets
}

function summarize(clients: number, attempts: number[], connected: Map<number, number>, t0: number, span: number) {
  const buckets = histogram(attempts, t0, span)
  const peak = Math.max(...buckets)
  const meanOverWindow = clients / (WINDOW / BUCKET)
  const times = [...connected.values()].map((t) => t - t0).sort((a, b) => a - b)
  const q = (p: number) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))]! : NaN)
  return {
    attemptsAfterRestart: attempts.filter((t) => t >= t0).length,
    peakPer100ms: peak,
    meanPer100msOverWindow: meanOverWindow,
    peakToMean: peak / meanOverWindow,
    reconnected: times.length,
    reconnectMs: { p50: q(0.5), p99: q(0.99), max: times.at(-1) ?? NaN },
    buckets,
  }
}

async function runOurs(clients: number, scenario: Scenario, seed: number, span: number) {
  const clock = new Clock()
  const server = fakeServer(clock, scenario.serverRetry)
  const random = mulberry32(seed)
  const platform: Partial<Platform> = {
    now: () => clock.now,
    monotonic: () => clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random,
    isOnline: () => true,
    window: undefined,
    document: undefined,
    fetch: undefined,
    EventSource: undefined,
  }
  const streams = []
  for (let i = 0; i < clients; i++) {
    const client = i
    const transport: Transport = { name: 'fetch', connect: (_o, handlers) => server.connect(client, handlers) }
    const stream = createEventStreamWith(transport, { url: 'http://127.0.0.1/stream', platform })
    streams.push(stream)
    stream.connect()
  }
  // Connected for a minute: long past `stableAfter`, so every stream starts from attempt 0.
  const t0 = 60_000
  await clock.runUntil(t0)
  const before = server.open.size
  server.restart(t0, scenario.downtime, scenario.loss)
  await clock.runUntil(t0 + span)
  for (const s of streams) s.close()
  return { openBefore: before, ...summarize(clients, server.attempts, server.connected, t0, span) }
}

/** The peer: every client retries exactly `delay` ms after each failure or loss. */
async function runFixed(clients: number, scenario: Scenario, delay: number, span: number) {
  const clock = new Clock()
  const server = fakeServer(clock, scenario.serverRetry)
  const connectClient = (client: number) => {
    const handlers: TransportHandlers = {
      onOpen() {},
      onEvent() {},
      onLastEventId() {},
      onRetry() {},
      onActivity() {},
      onError() {
        abort()
        clock.setTimeout(() => connectClient(client), delay)
      },
      onClose() {
        abort()
        clock.setTimeout(() => connectClient(client), delay)
      },
    }
    const abort = server.connect(client, handlers)
  }
  for (let i = 0; i < clients; i++) connectClient(i)
  const t0 = 60_000
  await clock.runUntil(t0)
  const before = server.open.size
  server.restart(t0, scenario.downtime, scenario.loss)
  await clock.runUntil(t0 + span)
  return { openBefore: before, ...summarize(clients, server.attempts, server.connected, t0, span) }
}

export async function runStorm({ clients = 10_000, span = 30_000, seed = 42 } = {}) {
  const out: Record<string, unknown> = { clients, bucketMs: BUCKET, windowMs: WINDOW, spanMs: span, seed, scenarios: {} }
  for (const scenario of SCENARIOS) {
    const ours = await runOurs(clients, scenario, seed, span)
    // The peer honours the server's retry: as its fixed delay, like EventSource does.
    const peer = await runFixed(clients, scenario, scenario.serverRetry ?? WINDOW, span)
    ;(out.scenarios as Record<string, unknown>)[scenario.id] = { label: scenario.label, ours, peer }
  }
  return out
}
