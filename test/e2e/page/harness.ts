// Runs inside Chromium (bundled by esbuild from src/ in test/e2e/support.ts). It drives the core
// (`createEventStream` + `createTokenManager`, which is what the hook runs) and keeps the client
// half of each ledger: ids received, statuses, errors, and the requests this client made.
import {
  createEventSourceTransport,
  createEventStream,
  createTokenManager,
  fetchTokenFrom,
  type EventStream,
  type RawEvent,
  type Platform,
  type PlatformEventTarget,
  type ReconnectOptions,
  type RotationPolicy,
  type TokenManager,
  type TransportName,
} from 'use-event-stream/core'
import { readJwtTimes } from '../../../src/core/jwt'
import { resolvePlatform } from '../../../src/core/platform'

export interface OpenConfig {
  /** Harness key of this stream. */
  key: string
  transport: TransportName
  /** Full stream URL (with `channel=`), no token. */
  streamUrl: string
  /** Full token endpoint URL (with `ttl=`). */
  tokenUrl: string
  apiKey: string
  /** Abort a token request after this many ms (the token manager itself has no timeout). */
  tokenTimeoutMs?: number
  tokenRetry?: { initialDelay?: number; maxDelay?: number }
  idleTimeout?: number
  rotation?: RotationPolicy
  reconnect?: ReconnectOptions
  pauseWhenHidden?: number
  /**
   * Use the harness's virtual document, clocks and timers instead of the real ones (see `jump`,
   * `suspend` and `wake`).
   */
  virtual?: boolean
  /**
   * What the ledger records per event: its `id` (default; every event of the row carries one), or
   * its `data` (the rows whose events carry no id or only some).
   */
  ledgerBy?: 'id' | 'data'
  /** Passed to `createEventStream` as `crossTab`. */
  crossTab?: { scope: string }
}

/** One request this client made to the stream URL, and the token it carried. */
export interface StreamRequest {
  /** `stream`: an EventSource created or a stream `fetch`; `probe`: the eventsource transport's status probe. */
  kind: 'stream' | 'probe'
  /** Which of this stream's tokens it carried (1 = the first received), `0` for none or an unknown one. */
  tokenVersion: number
  /** Real wall-clock time of the request (ms), comparable with the token's `exp`. */
  at: number
  /** `exp` of the token it carried (seconds, server clock), when it had one. */
  exp: number | undefined
}

export interface StreamState {
  status: string
  statuses: string[]
  ids: string[]
  /**
   * Every error the stream showed: through `onError` (`reported: true`) or only in its snapshot
   * (`reported: false`; the stream does not pass every error to `onError`, see docs/reliability.md).
   */
  errors: Array<{ kind: string; status: number | undefined; retryAfter: number | undefined; message: string; retryIn: number | undefined; reported: boolean }>
  /** Stream connection attempts: EventSource objects created, or stream `fetch` calls (fetch transport). */
  streamRequests: number
  /** Status probes of the eventsource transport (its only `fetch` calls): one per failed attempt it probed. */
  probeRequests: number
  /** Every stream request and probe, in order, with the token it carried (never the token itself). */
  requests: StreamRequest[]
  tokenRequests: number
  /** The `reason` of each token request, in order. */
  tokenReasons: string[]
  /** `exp` (seconds, server clock) of each token received, in order: `tokenExp[v - 1]` is version v's. */
  tokenExp: Array<number | undefined>
  tokenVersion: number
  tokenStatus: string
  openCount: number
  lastEventId: string | undefined
  /** Serialised snapshots (stream and token manager), for the security checks. */
  snapshotText: string
  /** The snapshot's `tab`. */
  tab: string
  /** Every change of `tab`, with the stream's `lastEventId` and the page's clock (`Date.now()`) at that moment. */
  tabs: Array<{ tab: string; lastEventId: string | undefined; at: number }>
  /** The snapshot's `eventCount`, and its `data` (the latest event's, as parsed). */
  eventCount: number
  data: string | undefined
}

/** A document stand-in whose visibility the test controls (the real one cannot be hidden headless). */
class VirtualDocument implements PlatformEventTarget {
  visibilityState: 'visible' | 'hidden' = 'visible'
  private listeners = new Map<string, Set<() => void>>()
  addEventListener(type: string, listener: () => void): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set())
    this.listeners.get(type)!.add(listener)
  }
  removeEventListener(type: string, listener: () => void): void {
    this.listeners.get(type)?.delete(listener)
  }
  set(state: 'visible' | 'hidden'): void {
    this.visibilityState = state
    for (const listener of Array.from(this.listeners.get('visibilitychange') ?? [])) listener()
  }
  count(): number {
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }
}

const virtualDocument = new VirtualDocument()
/** Added to both clocks by `jump()`: time that "passed" while the tab slept. */
let clockOffset = 0
/** Added to the wall clock only by `wake()`: a machine's sleep, which the monotonic clock does not count. */
let wallOffset = 0
/** `performance.now()` when `suspend()` stopped the monotonic clock; `undefined` while running. */
let suspendedAt: number | undefined
/** Real time the monotonic clock did not count (past suspensions). */
let uncounted = 0

/**
 * Timers of the virtual platform: real timers while the machine runs; `suspend()` holds every one
 * (none fires, new ones wait) and `wake()` re-arms each with the time it had left, as a timer on
 * the monotonic clock continues after a sleep.
 */
interface VirtualTimer {
  fn: () => void
  /** Real `performance.now()` it is due at, while armed. */
  due: number
  /** Delay still to wait: the whole delay at creation, what was left when `suspend()` held it. */
  left: number
  handle: ReturnType<typeof setTimeout> | undefined
}
const virtualTimers = new Set<VirtualTimer>()
function armVirtual(timer: VirtualTimer): void {
  timer.due = performance.now() + timer.left
  timer.handle = setTimeout(() => {
    virtualTimers.delete(timer)
    timer.fn()
  }, timer.left)
}

const virtualClock: Partial<Platform> = {
  now: () => Date.now() + clockOffset + wallOffset,
  monotonic: () => (suspendedAt ?? performance.now()) - uncounted + clockOffset,
  setTimeout(fn, ms) {
    const timer: VirtualTimer = { fn, due: 0, left: Math.max(0, ms), handle: undefined }
    virtualTimers.add(timer)
    if (suspendedAt === undefined) armVirtual(timer)
    return timer
  },
  clearTimeout(handle) {
    const timer = handle as VirtualTimer
    if (timer?.handle !== undefined) clearTimeout(timer.handle)
    virtualTimers.delete(timer)
  },
  document: virtualDocument,
}

/** The machine goes to sleep: the monotonic clock stops and no virtual timer fires. Network I/O goes on. */
function suspend(): void {
  if (suspendedAt !== undefined) return
  suspendedAt = performance.now()
  for (const timer of virtualTimers) {
    if (timer.handle !== undefined) clearTimeout(timer.handle)
    timer.handle = undefined
    timer.left = Math.max(0, timer.due - suspendedAt)
  }
}

/** What one stream's token manager did on the wake event. */
export interface WakeReport {
  /** Token requests before the wake event, and synchronously after it. */
  before: number
  after: number
  /** Reasons of the requests the wake event started. */
  reasons: string[]
  /** The token version held when the machine woke. */
  version: number
  status: string
  /** Stream and token requests made while suspended. */
  streamRequestsWhileSuspended: number
  tokenRequestsWhileSuspended: number
}

/**
 * The machine wakes: the wall clock has moved `wallJumpMs` on (the monotonic clock has not), the
 * timers go on with the time they had left (none fires inside this call), and then the host
 * dispatches its wake event: `visibilitychange` to visible, or `focus` on the window. Returns, per
 * stream, what the wake event itself started.
 */
function wake(options: { wallJumpMs: number; via: 'visibilitychange' | 'focus' }): Record<string, WakeReport> {
  if (suspendedAt !== undefined) {
    uncounted += performance.now() - suspendedAt
    suspendedAt = undefined
  }
  wallOffset += options.wallJumpMs
  for (const timer of virtualTimers) if (timer.handle === undefined) armVirtual(timer)
  const before = new Map(Array.from(entries, ([key, e]) => [key, e.state.tokenRequests]))
  if (options.via === 'focus') window.dispatchEvent(new Event('focus'))
  else virtualDocument.set('visible')
  const reports: Record<string, WakeReport> = {}
  for (const [key, entry] of entries) {
    const b = before.get(key) ?? 0
    const mark = entry.suspendMark
    reports[key] = {
      before: b,
      after: entry.state.tokenRequests,
      reasons: entry.state.tokenReasons.slice(b),
      version: entry.tokens.version,
      status: entry.stream.getSnapshot().status,
      streamRequestsWhileSuspended: mark ? entry.state.requests.length - mark.requests : 0,
      tokenRequestsWhileSuspended: mark ? b - mark.tokenRequests : 0,
    }
    entry.suspendMark = undefined
  }
  return reports
}

interface Entry {
  stream: EventStream<string>
  tokens: TokenManager
  state: Omit<StreamState, 'status' | 'tokenVersion' | 'tokenStatus' | 'openCount' | 'lastEventId' | 'snapshotText' | 'tab' | 'eventCount' | 'data'>
  /** Request counts when the machine was suspended. */
  suspendMark?: { requests: number; tokenRequests: number }
  /** This stream's tokens, numbered in order of arrival (the token manager's `version`). */
  versions: Map<string, number>
}
const entries = new Map<string, Entry>()
/** Every token this page received, so the test can look for it in the console and DOM. */
const tokensSeen: string[] = []

function open(config: OpenConfig): void {
  entries.get(config.key)?.stream.close()
  const recorded = new WeakSet<object>()
  const state: Entry['state'] = { statuses: [], ids: [], errors: [], streamRequests: 0, probeRequests: 0, requests: [], tokenRequests: 0, tokenReasons: [], tokenExp: [], tabs: [] }
  const wallNow = () => (config.virtual ? virtualClock.now!() : Date.now())
  const versions = new Map<string, number>()
  const record = (kind: StreamRequest['kind'], token: string | null) => {
    state.requests.push({ kind, tokenVersion: (token && versions.get(token)) || 0, at: Date.now(), exp: token ? readJwtTimes(token)?.exp : undefined })
  }
  const base = fetchTokenFrom(config.tokenUrl, { headers: { 'x-api-key': config.apiKey }, credentials: 'omit' })
  const tokens = createTokenManager({
    fetchToken: async ({ signal, reason }) => {
      state.tokenRequests++
      state.tokenReasons.push(reason)
      const limited = config.tokenTimeoutMs ? AbortSignal.any([signal, AbortSignal.timeout(config.tokenTimeoutMs)]) : signal
      const response = await base({ signal: limited, reason })
      const token = typeof response === 'string' ? response : response.token
      tokensSeen.push(token)
      if (!versions.has(token)) {
        versions.set(token, versions.size + 1)
        state.tokenExp.push(readJwtTimes(token)?.exp)
      }
      return response
    },
    retry: { initialDelay: 200, maxDelay: 800, ...config.tokenRetry },
    platform: config.virtual ? virtualClock : {},
  })
  // Count the requests this client makes, whichever transport carries them. The eventsource
  // transport fetches only to probe the status of a failed attempt: those are counted apart.
  const countingFetch: typeof fetch = (input, init) => {
    if (config.transport === 'eventsource') {
      state.probeRequests++
      record('probe', new URL(String(input)).searchParams.get('token'))
    } else {
      state.streamRequests++
      record('stream', new Headers(init?.headers).get('authorization')?.replace(/^Bearer /, '') ?? null)
    }
    return fetch(input, init)
  }
  const NativeEventSource = window.EventSource
  const CountingEventSource = function (url: string, init?: EventSourceInit) {
    state.streamRequests++
    record('stream', new URL(url).searchParams.get('token'))
    return new NativeEventSource(url, init)
  } as unknown as typeof EventSource
  const stream = createEventStream<string>({
    url: config.streamUrl,
    transport: config.transport,
    tokens,
    idleTimeout: config.idleTimeout ?? 0,
    rotation: config.rotation ?? 'overlap',
    reconnect: { initialDelay: 150, maxDelay: 600, ...config.reconnect },
    ...(config.pauseWhenHidden !== undefined ? { pauseWhenHidden: config.pauseWhenHidden } : {}),
    ...(config.crossTab ? { crossTab: config.crossTab } : {}),
    platform: { ...(config.virtual ? virtualClock : {}), fetch: countingFetch, EventSource: CountingEventSource as never },
    onEvent: (event) => {
      state.ids.push(config.ledgerBy === 'data' ? event.raw : (event.id ?? '?'))
    },
    onError: (error) => {
      recorded.add(error)
      state.errors.push({
        reported: true,
        kind: error.kind,
        status: error.status,
        retryAfter: error.retryAfter,
        message: error.message,
        retryIn: undefined,
      })
      // The retry time is set right after onError; read it on the next turn.
      queueMicrotask(() => {
        const next = stream.getSnapshot()
        const last = state.errors[state.errors.length - 1]
        if (last && next.status === 'reconnecting' && next.retryAt !== undefined) last.retryIn = next.retryAt - wallNow()
      })
    },
  })
  stream.subscribe(() => {
    const snap = stream.getSnapshot()
    if (state.statuses[state.statuses.length - 1] !== snap.status) state.statuses.push(snap.status)
    if (state.tabs[state.tabs.length - 1]?.tab !== snap.tab) state.tabs.push({ tab: snap.tab, lastEventId: snap.lastEventId, at: Date.now() })
    const error = snap.error
    if (error && !recorded.has(error)) {
      recorded.add(error)
      const retryIn = snap.status === 'reconnecting' && snap.retryAt !== undefined ? snap.retryAt - wallNow() : undefined
      state.errors.push({ reported: false, kind: error.kind, status: error.status, retryAfter: error.retryAfter, message: error.message, retryIn })
    }
  })
  entries.set(config.key, { stream, tokens, state, versions })
  stream.connect()
}

function read(key: string): StreamState {
  const entry = entries.get(key)
  if (!entry) throw new Error(`no stream ${key}`)
  const snap = entry.stream.getSnapshot()
  const tokenSnap = entry.tokens.getSnapshot()
  return {
    ...entry.state,
    ids: entry.state.ids.slice(),
    requests: entry.state.requests.slice(),
    tokenReasons: entry.state.tokenReasons.slice(),
    tokenExp: entry.state.tokenExp.slice(),
    tabs: entry.state.tabs.slice(),
    status: snap.status,
    tab: snap.tab,
    eventCount: snap.eventCount,
    data: snap.data,
    tokenVersion: entry.tokens.version,
    tokenStatus: tokenSnap.status,
    openCount: snap.openCount,
    lastEventId: snap.lastEventId,
    snapshotText: JSON.stringify({ stream: snap, tokens: tokenSnap, error: snap.error && { message: snap.error.message, stack: snap.error.stack } }),
  }
}

export interface TransportRunConfig {
  /** Stream URL, without token or last event id (the transport adds them). */
  url: string
  token?: string
  lastEventId?: string
  withCredentials?: boolean
  /** Stop (abort) once this many events arrived. Default: wait for the end. */
  events?: number
  /** Stop (abort) after this many ms. Default 5000. */
  timeoutMs?: number
}

export interface TransportRun {
  events: RawEvent[]
  /** How the connection ended; `undefined` when the run stopped it (events reached, or timeout). */
  ended: { error: { kind: string; status: number | undefined; retryAfter: number | undefined; message: string } } | { close: { noContent: boolean } } | undefined
  opened: boolean
  /** EventSource objects created / status probes made (the transport's `fetch` calls). */
  eventSources: number
  probes: number
  probeInits: Array<{ url: string; cache: string | undefined; credentials: string | undefined; accept: string | null }>
}

/** One `connect` of the eventsource transport on Chromium's own EventSource, recorded. */
function runEventSourceTransport(config: TransportRunConfig): Promise<TransportRun> {
  const run: TransportRun = { events: [], ended: undefined, opened: false, eventSources: 0, probes: 0, probeInits: [] }
  const NativeEventSource = window.EventSource
  const platform = resolvePlatform({
    EventSource: function (url: string, init?: EventSourceInit) {
      run.eventSources++
      return new NativeEventSource(url, init)
    } as never,
    fetch: (input, init) => {
      run.probes++
      run.probeInits.push({ url: String(input), cache: init?.cache, credentials: init?.credentials, accept: new Headers(init?.headers).get('accept') })
      return fetch(input, init)
    },
  })
  return new Promise((resolve) => {
    let abort = () => {}
    const finish = () => {
      clearTimeout(timer)
      abort()
      resolve(run)
    }
    const timer = setTimeout(finish, config.timeoutMs ?? 5000)
    abort = createEventSourceTransport().connect(
      {
        url: new URL(config.url),
        token: config.token,
        lastEventId: config.lastEventId,
        tokenQueryParam: 'token',
        lastEventIdQueryParam: 'lastEventId',
        withCredentials: config.withCredentials ?? false,
        headers: {},
        events: ['message'],
        maxLineLength: 1_048_576,
        maxEventSize: 4_194_304,
        platform,
      },
      {
        onOpen: () => void (run.opened = true),
        onEvent: (event) => {
          run.events.push(event)
          if (config.events !== undefined && run.events.length >= config.events) queueMicrotask(finish)
        },
        onLastEventId: () => {},
        onRetry: () => {},
        onActivity: () => {},
        onError: (error) => {
          run.ended = { error: { kind: error.kind, status: error.status, retryAfter: error.retryAfter, message: error.message } }
          finish()
        },
        onClose: (info) => {
          run.ended = { close: info }
          finish()
        },
      },
    )
  })
}

const harness = {
  open,
  runEventSourceTransport,
  read,
  reconnect: (key: string) => entries.get(key)?.stream.reconnect(),
  /** `close()` on the stream only: the harness keeps it, so `read` shows its state after. */
  stop: (key: string) => entries.get(key)?.stream.close(),
  close(key: string) {
    const entry = entries.get(key)
    entry?.stream.close()
    entry?.tokens.dispose()
    entries.delete(key)
  },
  closeAll() {
    for (const key of Array.from(entries.keys())) harness.close(key)
  },
  /** Virtual visibility: fires `visibilitychange` on the virtual document. */
  setHidden: (hidden: boolean) => virtualDocument.set(hidden ? 'hidden' : 'visible'),
  /** Moves both virtual clocks forward, as if the tab had slept that long. */
  jump: (ms: number) => {
    clockOffset += ms
  },
  /** The lid closes: optionally the document goes hidden first, then the machine sleeps (see `suspend`). */
  suspend(options: { hide?: boolean } = {}) {
    for (const entry of entries.values()) entry.suspendMark = { requests: entry.state.requests.length, tokenRequests: entry.state.tokenRequests }
    if (options.hide) virtualDocument.set('hidden')
    suspend()
  },
  wake,
  /** True when every stream is open and no token request is in flight: a quiet moment to suspend in. */
  settled: () => Array.from(entries.values()).every((e) => e.stream.getSnapshot().status === 'open' && e.tokens.getSnapshot().status === 'valid'),
  virtualListeners: () => virtualDocument.count(),
  /** Version `version` of stream `key`'s tokens (for a check against the server's key, in Node). */
  tokenOf(key: string, version: number): string | undefined {
    const entry = entries.get(key)
    return entry ? Array.from(entry.versions).find(([, v]) => v === version)?.[0] : undefined
  },
  tokensSeen: () => tokensSeen.slice(),
  /** Names of the BroadcastChannels this page's library opened, and every message it posted on them. */
  channels: () => ({ names: Array.from(channelNames), posted: channelPosts.slice() }),
  /** Listens, as an outsider, on the channel `name`: every message is kept as JSON. */
  eavesdrop(name: string) {
    const listener = new NativeBroadcastChannel(name)
    listener.onmessage = (event) => overheard.push(JSON.stringify(event.data))
  },
  overheard: () => overheard.slice(),
}

// Every channel the library opens, and what it posts, is recorded (the page's own listeners are
// made from the native constructor, so they are not).
const NativeBroadcastChannel = window.BroadcastChannel
const channelNames = new Set<string>()
const channelPosts: string[] = []
const overheard: string[] = []
window.BroadcastChannel = class extends NativeBroadcastChannel {
  constructor(name: string) {
    super(name)
    channelNames.add(name)
  }
  override postMessage(message: unknown): void {
    channelPosts.push(JSON.stringify(message))
    super.postMessage(message)
  }
}

declare global {
  interface Window {
    harness: typeof harness
  }
}
window.harness = harness
document.title = 'harness ready'
