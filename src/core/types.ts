import type { EventStreamError, TokenError } from './errors'

/* ------------------------------------------------------------------------------------------------
 * Platform: everything the core needs from its host, injectable so the core runs (and is tested)
 * in browsers, Node, workers and under fake clocks without patching globals.
 * ----------------------------------------------------------------------------------------------*/

/** A minimal event target (window, document) the core listens on. */
export interface PlatformEventTarget {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

/** Host facilities used by the core. Every member has a browser/Node default (see `resolvePlatform`). */
export interface Platform {
  /**
   * Wall clock in ms: reported as `expiresAt`/`retryAt`, read against an explicit `expiresAt`, and
   * the second clock of every deadline (it keeps counting while a machine sleeps). Default `Date.now`.
   */
  now(): number
  /**
   * Monotonic clock in ms, the first clock of every deadline (immune to a wall clock set by hand).
   * Default `performance.now` (falls back to `Date.now`).
   */
  monotonic(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Random number in [0, 1) for backoff jitter. Default `Math.random`. */
  random(): number
  /** `fetch` used by the fetch transport and `fetchTokenFrom`. Default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** `EventSource` constructor used by the eventsource transport. Default `globalThis.EventSource`. */
  EventSource?: EventSourceConstructor
  /** Window-like target for `online`, `offline`, `focus`, `pageshow`. Default `globalThis.window` when present. */
  window?: PlatformEventTarget
  /** Document-like target for `visibilitychange`. Default `globalThis.document` when present. */
  document?: PlatformEventTarget & { visibilityState?: string }
  /** Whether the host is online. Default `navigator.onLine` (true where unknown). */
  isOnline(): boolean
  /** The page's address: relative stream URLs resolve against `location.href`. Default `globalThis.location`. */
  location?: { readonly href: string }
  /** Schedules a render-batch flush for the next frame (`batch: 'frame'`). Default `globalThis.requestAnimationFrame`; a 16 ms timer where there is none. */
  requestAnimationFrame?: (callback: () => void) => unknown
  cancelAnimationFrame?: (handle: any) => void
  /** `ReadableStream`, whose presence says `fetch` can stream a response (the `'auto'` rule). Default `globalThis.ReadableStream`. */
  ReadableStream?: unknown
  /**
   * Web Locks, which elect the tab that connects for a cross-tab group (`crossTab`). Default
   * `navigator.locks`; without it (or without `BroadcastChannel`) the stream is `tab: 'solo'`.
   */
  locks?: LockManager
  /** The channel a cross-tab group's tabs talk over (`crossTab`). Default `globalThis.BroadcastChannel`. */
  BroadcastChannel?: typeof BroadcastChannel
}

/** The shape of a WHATWG `EventSource` constructor (the browser's, or the `eventsource` npm package's). */
export interface EventSourceConstructor {
  new (url: string, init?: { withCredentials?: boolean }): EventSourceLike
}

/** The parts of a WHATWG `EventSource` instance the eventsource transport uses. */
export interface EventSourceLike {
  readonly readyState: number
  onopen: ((ev: any) => any) | null
  onerror: ((ev: any) => any) | null
  onmessage: ((ev: any) => any) | null
  addEventListener(type: string, listener: (ev: any) => void): void
  removeEventListener(type: string, listener: (ev: any) => void): void
  close(): void
}

/* ------------------------------------------------------------------------------------------------
 * Transports
 * ----------------------------------------------------------------------------------------------*/

/** Names of the built-in transports. */
export type TransportName = 'eventsource' | 'fetch'

/** One server-sent event as a transport dispatches it (before `parse`). */
export interface RawEvent {
  /** Event type: the `event:` field, `'message'` when absent. */
  type: string
  /** The joined `data:` lines. */
  data: string
  /**
   * The stream's last event id after this dispatch (the `id:` field of this block, or the
   * id carried over from earlier blocks), `undefined` when the server never sent one, `''` after
   * the server cleared it with an empty `id:` field.
   */
  lastEventId: string | undefined
  /**
   * True when this event's own block carried an `id:` field. Overlap rotation deduplicates by the
   * last own id and the position after it; a transport that cannot tell leaves it `undefined`.
   */
  hasOwnId?: boolean
}

/** What the event stream hands a transport for one connection attempt. */
export interface TransportConnectOptions {
  /** Target URL without any token. The transport adds the token its own way. */
  url: URL
  /** Current token, or `undefined` when no token manager is used. */
  token: string | undefined
  /** Last event id seen by the stream (sent as `Last-Event-ID`, or as a query parameter). */
  lastEventId: string | undefined
  /** eventsource transport: query parameter carrying the token. */
  tokenQueryParam: string
  /** eventsource transport: query parameter carrying the last event id. */
  lastEventIdQueryParam: string
  /** Send cookies cross-origin (`withCredentials` / `credentials: 'include'`). */
  withCredentials: boolean
  /** Extra request headers (fetch transport only). */
  headers: Record<string, string>
  /** Request method; `undefined` is GET. */
  method?: string
  /**
   * Request body for this connection, `body` of the stream already called with this connection's
   * resume point: `undefined` (none), a string (sent as is) or a value (sent as JSON).
   */
  body?: unknown
  /** Event types the consumer wants; the native EventSource needs one listener per type. */
  events: readonly string[]
  /** Longest accepted line in bytes (fetch transport); longer fails with `kind: 'line-too-long'`. */
  maxLineLength: number
  /**
   * Largest accepted event in bytes: the data lines of one block added up (fetch transport); a
   * block that grows past it fails with `kind: 'line-too-long'`.
   */
  maxEventSize: number
  platform: Platform
}

/** Callbacks from a transport to the event stream. After `onError`/`onClose` no callback fires again. */
export interface TransportHandlers {
  /** The response was accepted as an event stream. */
  onOpen(): void
  /** An event was dispatched. */
  onEvent(event: RawEvent): void
  /** An id-only block (no data) changed the last event id without dispatching an event. */
  onLastEventId(id: string): void
  /** The server sent a valid `retry:` field (ms). */
  onRetry(ms: number): void
  /** Bytes (including comments/heartbeats) arrived: feeds the idle watchdog. */
  onActivity(): void
  /** The connection failed or broke. `error.retryAfter` carries a server `Retry-After`. */
  onError(error: EventStreamError): void
  /** The server ended the stream cleanly (fetch), or answered 204 (`noContent: true`). */
  onClose(info: { noContent: boolean }): void
}

/** A transport opens one connection per `connect` call; the returned function aborts it. */
export interface Transport {
  /** Shown as the snapshot's `transport`; any name (the built-in ones are `'eventsource'` and `'fetch'`). */
  readonly name: string
  /** What the stream may rely on. Omitted: the transport sends headers and reports statuses. */
  readonly capabilities?: TransportCapabilities
  connect(options: TransportConnectOptions, handlers: TransportHandlers): () => void
}

/** What a transport can do, so the stream never has to know which transport it is. */
export interface TransportCapabilities {
  /**
   * Sends `headers` with the request. When `false`, a stream created with headers throws (kind
   * `'invalid-request'`) instead of silently dropping them. Default `true`.
   */
  headers?: boolean
  /**
   * Sends a request `body` and a `method` other than GET. When `false`, a stream created with
   * either throws (kind `'invalid-request'`). Default `true`.
   */
  requestBody?: boolean
  /**
   * Reports the HTTP status of a refused attempt. When `false`, a failure before `open` without a
   * `status` may have been a 401, so the stream's next attempt asks for a newer token (once per
   * run of failures). Default `true`.
   */
  statuses?: boolean
}

/* ------------------------------------------------------------------------------------------------
 * Token manager
 * ----------------------------------------------------------------------------------------------*/

/** Why the token manager asks for a token. */
export type TokenFetchReason = 'initial' | 'scheduled' | 'forced' | 'retry' | 'unauthorized'

/** What `fetchToken` may return. */
export type TokenResponse =
  | string
  | { token: string; expiresIn: number }
  | { token: string; expiresAt: number | Date }
  | { token: string }

export type FetchToken = (context: { signal: AbortSignal; reason: TokenFetchReason }) => Promise<TokenResponse>

export type TokenStatus = 'idle' | 'loading' | 'valid' | 'refreshing' | 'error' | 'unauthorized' | 'disposed'

/** Public state of a token manager. Never contains the token itself. */
export interface TokenSnapshot {
  status: TokenStatus
  /** When the current token expires, in the client's wall clock (ms since epoch), measured skew-free. */
  expiresAt: number | undefined
  /** Lifetime of the current token in ms, as measured when it arrived. */
  lifetime: number | undefined
  /** When the next scheduled refresh happens (wall clock ms). */
  refreshAt: number | undefined
  /** Last failure, kept while a still-valid token stays in use. */
  error: TokenError | undefined
  /** Number of tokens received so far. */
  fetchCount: number
}

export interface TokenManager {
  /**
   * Resolves with a valid token; concurrent calls share one request.
   * `newerThan`: the `version` of a token the stream server rejected (401/403). That token, and any
   * older one, is never handed out again (by any call); the call resolves only with a token of a
   * later version, starting one refresh for it if none is in flight, however many callers name the
   * same version. Rejects like any other call when that refresh fails.
   */
  getToken(options?: { forceRefresh?: boolean; reason?: TokenFetchReason; newerThan?: number }): Promise<string>
  /** Forces a new token now (shared with any request in flight); after `'unauthorized'`, tries once more. */
  refresh(): Promise<string>
  getSnapshot(): TokenSnapshot
  subscribe(listener: () => void): () => void
  /** Stops timers and listeners; pending `getToken` calls reject. */
  dispose(): void
  /** Incremented each time a new token arrives; streams compare it to detect rotation. */
  readonly version: number
}

/* ------------------------------------------------------------------------------------------------
 * Event stream
 * ----------------------------------------------------------------------------------------------*/

export type EventStreamStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed' | 'failed'

/**
 * The server could not resume from the stream's last event id (its log no longer holds it): the
 * events between `lastEventId` and `resumedAt` were skipped. The usual answer: refetch the state
 * the stream updates, then keep streaming.
 */
export interface StreamGap {
  /** The id the stream resumed from. */
  lastEventId: string | undefined
  /** The id of the first event the server sends after the gap (`undefined` when it did not say). */
  resumedAt: string | undefined
}

/** One event as delivered to consumers. */
export interface StreamEvent<TData = string> {
  type: string
  data: TData
  /** The raw `data` string before `parse`. */
  raw: string
  /** Last event id after this event (see `RawEvent.lastEventId`). */
  id: string | undefined
  /** Wall clock time of arrival, ms. */
  receivedAt: number
}

interface SnapshotBase<TData> {
  /** Latest parsed data. */
  data: TData | undefined
  /** Latest event. */
  lastEvent: StreamEvent<TData> | undefined
  lastEventId: string | undefined
  /** Consecutive failed attempts since the last stable open. */
  attempt: number
  /** Name of the transport in use (after `'auto'` is resolved). */
  transport: string
  /** Events delivered since creation. */
  eventCount: number
  /** Connections opened since creation. */
  openCount: number
  /**
   * This tab's part in sharing the stream across tabs (`crossTab`): `'leader'` holds the
   * connection, `'follower'` receives the leader's events, `'solo'` shares nothing.
   */
  tab: 'leader' | 'follower' | 'solo'
}

/**
 * Stream state, discriminated on `status`:
 * - `idle`: not started; `connecting`: first attempt in flight; `open`: receiving;
 * - `reconnecting`: lost or never reached the server, waiting until `retryAt` (wall clock ms) or
 *   already trying again (`retryAt` undefined);
 * - `paused`: offline, or hidden longer than `pauseWhenHidden`; resumes by itself;
 * - `closed`: by `close()` or a 204 from the server; `failed`: gave up, `error` says why.
 */
export type EventStreamSnapshot<TData = string> =
  | (SnapshotBase<TData> & { status: 'idle' | 'connecting' | 'open' | 'paused' | 'closed'; error: EventStreamError | undefined; retryAt: undefined })
  | (SnapshotBase<TData> & { status: 'reconnecting'; error: EventStreamError | undefined; retryAt: number | undefined })
  | (SnapshotBase<TData> & { status: 'failed'; error: EventStreamError; retryAt: undefined })

export type RotationPolicy = 'overlap' | 'reconnect' | 'none'

export interface ReconnectOptions {
  /** First retry delay cap in ms. Default `1000`. */
  initialDelay?: number
  /** Largest delay in ms. Default `30000`. */
  maxDelay?: number
  /** Growth factor per attempt. Default `2`. */
  factor?: number
  /** Give up (`failed`) after this many consecutive failed attempts. Default `Infinity`. */
  maxAttempts?: number
  /** An open connection that lasts this long resets the attempt counter. Default `5000`. */
  stableAfter?: number
}
