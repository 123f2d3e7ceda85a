// Runs inside Chromium (bundled by esbuild from src/ in test/e2e/support.ts). It drives the core
// (`createEventStream` + `createTokenManager`, which is what the hook runs) and keeps the client
// half of each ledger: ids received, statuses, errors, and the requests this client made.
import {
  createEventStream,
  createTokenManager,
  fetchTokenFrom,
  type EventStream,
  type Platform,
  type PlatformEventTarget,
  type ReconnectOptions,
  type RotationPolicy,
  type TokenManager,
  type TransportName,
} from 'use-event-stream/core'

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
  /** Use the harness's virtual document and jumpable clock instead of the real ones. */
  virtual?: boolean
}

export interface StreamState {
  status: string
  statuses: string[]
  ids: string[]
  /**
   * Every error the stream showed: through `onError` (`reported: true`) or only in its snapshot
   * (`reported: false`; the stream does not pass every error to `onError`, see the README, "Reliability").
   */
  errors: Array<{ kind: string; status: number | undefined; retryAfter: number | undefined; message: string; retryIn: number | undefined; reported: boolean }>
  streamRequests: number
  tokenRequests: number
  tokenVersion: number
  tokenStatus: string
  openCount: number
  lastEventId: string | undefined
  /** Serialised snapshots (stream and token manager), for the security checks. */
  snapshotText: string
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
const virtualClock: Partial<Platform> = {
  now: () => Date.now() + clockOffset,
  monotonic: () => performance.now() + clockOffset,
  document: virtualDocument,
}

interface Entry {
  stream: EventStream<string>
  tokens: TokenManager
  state: Omit<StreamState, 'status' | 'tokenVersion' | 'tokenStatus' | 'openCount' | 'lastEventId' | 'snapshotText'>
}
const entries = new Map<string, Entry>()
/** Every token this page received, so the test can look for it in the console and DOM. */
const tokensSeen: string[] = []

function open(config: OpenConfig): void {
  entries.get(config.key)?.stream.close()
  const recorded = new WeakSet<object>()
  const state: Entry['state'] = { statuses: [], ids: [], errors: [], streamRequests: 0, tokenRequests: 0 }
  const base = fetchTokenFrom(config.tokenUrl, { headers: { 'x-api-key': config.apiKey }, credentials: 'omit' })
  const tokens = createTokenManager({
    fetchToken: async ({ signal, reason }) => {
      state.tokenRequests++
      const limited = config.tokenTimeoutMs ? AbortSignal.any([signal, AbortSignal.timeout(config.tokenTimeoutMs)]) : signal
      const response = await base({ signal: limited, reason })
      const token = typeof response === 'string' ? response : response.token
      tokensSeen.push(token)
      return response
    },
    retry: { initialDelay: 200, maxDelay: 800, ...config.tokenRetry },
    platform: config.virtual ? virtualClock : {},
  })
  // Count the requests this client makes, whichever transport carries them.
  const countingFetch: typeof fetch = (input, init) => {
    state.streamRequests++
    return fetch(input, init)
  }
  const NativeEventSource = window.EventSource
  const CountingEventSource = function (url: string, init?: EventSourceInit) {
    state.streamRequests++
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
    platform: { ...(config.virtual ? virtualClock : {}), fetch: countingFetch, EventSource: CountingEventSource as never },
    onEvent: (event) => {
      state.ids.push(event.id ?? '?')
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
        if (last && next.status === 'reconnecting' && next.retryAt !== undefined) last.retryIn = next.retryAt - Date.now() - clockOffset
      })
    },
  })
  stream.subscribe(() => {
    const snap = stream.getSnapshot()
    if (state.statuses[state.statuses.length - 1] !== snap.status) state.statuses.push(snap.status)
    const error = snap.error
    if (error && !recorded.has(error)) {
      recorded.add(error)
      const retryIn = snap.status === 'reconnecting' && snap.retryAt !== undefined ? snap.retryAt - Date.now() - clockOffset : undefined
      state.errors.push({ reported: false, kind: error.kind, status: error.status, retryAfter: error.retryAfter, message: error.message, retryIn })
    }
  })
  entries.set(config.key, { stream, tokens, state })
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
    status: snap.status,
    tokenVersion: entry.tokens.version,
    tokenStatus: tokenSnap.status,
    openCount: snap.openCount,
    lastEventId: snap.lastEventId,
    snapshotText: JSON.stringify({ stream: snap, tokens: tokenSnap, error: snap.error && { message: snap.error.message, stack: snap.error.stack } }),
  }
}

const harness = {
  open,
  read,
  reconnect: (key: string) => entries.get(key)?.stream.reconnect(),
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
  virtualListeners: () => virtualDocument.count(),
  tokensSeen: () => tokensSeen.slice(),
}

declare global {
  interface Window {
    harness: typeof harness
  }
}
window.harness = harness
document.title = 'harness ready'
