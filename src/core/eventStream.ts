import { backoffDelay, MAX_WAIT } from './backoff'
import { EventStreamError } from './errors'
import { decideOnFailure } from './failurePolicy'
import { readGap, STREAM_GAP_EVENT } from './gap'
import { createHiddenPause } from './hiddenPause'
import { createIdleWatchdog } from './idleWatchdog'
import { parseEventData } from './parseEvent'
import { resolvePlatform } from './platform'
import { createStreamPosition, type ReplayFilter, type StreamPosition } from './position'
import { callSafely } from './reportError'
import { watchLifecycle } from './lifecycle'
import type { StreamConnection, StreamControl, TokenFollower, TokenRotation } from './streamTokens'
import { STREAM_DEFAULTS } from './streamOptions'
import { createListeners } from './subscribable'
import { startDeadline, type Deadline } from './timers'
import type {
  EventStreamSnapshot,
  EventStreamStatus,
  Platform,
  RawEvent,
  ReconnectOptions,
  RotationPolicy,
  StreamEvent,
  StreamGap,
  TokenManager,
  Transport,
  TransportName,
} from './types'

/** Options of `createEventStream`. Durations are in milliseconds. */
export interface EventStreamOptions<TData = string> {
  /** Stream endpoint. Relative URLs resolve against `platform.location.href` (the page's) where there is one. */
  url: string | URL
  /**
   * `'fetch'`: `fetch()` with `Authorization: Bearer <token>` (token never in the URL).
   * `'eventsource'`: the native `EventSource` with `?token=<token>`.
   * `'auto'` (default): `'fetch'` when a token manager is given and streaming `fetch` exists, so the
   * token stays out of URLs and logs; otherwise `'eventsource'`. A `Transport` object may be passed.
   */
  transport?: 'auto' | TransportName | Transport
  /** Token manager supplying a fresh token for every connection. Default: none (cookie or public stream). */
  tokens?: TokenManager
  /** eventsource transport: query parameter carrying the token. Default `'token'`. */
  tokenQueryParam?: string
  /** eventsource transport: query parameter carrying the last event id on reconnect. Default `'lastEventId'`. */
  lastEventIdQueryParam?: string
  /** Send cookies cross-origin. Default `false`. */
  withCredentials?: boolean
  /**
   * Extra request headers. Only the fetch transport can send them: with headers, `'auto'` picks
   * fetch, and `transport: 'eventsource'` throws an `EventStreamError` of kind `'invalid-request'`
   * at creation. Default none.
   */
  headers?: Record<string, string>
  /**
   * Request method, for APIs that subscribe with a body (`'POST'`). Like `body`, only the fetch
   * transport sends it: `'auto'` picks fetch for a method other than GET, and `transport:
   * 'eventsource'` throws (kind `'invalid-request'`) at creation. Default `'GET'`.
   */
  method?: string
  /**
   * Request body, sent again on every connection (reconnects and rotations, each with a fresh
   * token): a string, sent as is, or a value, sent as JSON with `Content-Type: application/json`
   * (a `Content-Type` in `headers` wins). A function is called for every connection with the
   * resume point (`lastEventId`, also sent as `Last-Event-ID`), so the body can say where the stream
   * was; a throw ends the stream `failed` with kind `'invalid-request'`. Fetch transport only, as
   * for `method`. Default none.
   *
   * @example
   * createEventStream({ url: '/api/subscribe', tokens, method: 'POST', body: ({ lastEventId }) => ({ topics: ['orders'], after: lastEventId }) })
   */
  body?: string | object | ((context: { lastEventId: string | undefined }) => string | object)
  /** Event types delivered. Default `['message']`. */
  events?: readonly string[]
  /** Turns the data string into `TData`. Default: the string unchanged. A throw gives a `'parse'` error and the stream goes on. */
  parse?: (data: string, event: { type: string; id: string | undefined }) => TData
  /** Called for every delivered event, in order, before subscribers are notified. */
  onEvent?: (event: StreamEvent<TData>) => void
  /** Called for every error (including ones the stream recovers from). */
  onError?: (error: EventStreamError) => void
  /**
   * Called when the server says it could not resume from the stream's last event id (its log was
   * trimmed): a `stream-gap` event, handled without listing it in `events`. Events were skipped,
   * so refetch what the stream keeps up to date, then go on streaming. Default: none (a dev-only
   * warning says a gap went unhandled).
   */
  onGap?: (gap: StreamGap) => void
  /** `false` disables reconnection; otherwise backoff settings (see `ReconnectOptions`). Default `{}`. */
  reconnect?: false | ReconnectOptions
  /** No bytes (fetch: heartbeats count) or events for this long → reconnect. `0` disables. Default `0`. */
  idleTimeout?: number
  /**
   * What to do when the token manager hands out a new token while a connection is open:
   * `'overlap'` (default): open a second connection with the new token, resuming from the stream's
   * position, switch when it opens, close the old one, and drop what the new one repeats (matched
   * by the last id and the position after it, so events without ids are matched too): no gap, no
   * duplicate, from a server that replays after `Last-Event-ID`. A new connection that has not
   * opened within 15 s is given up; the old one goes on. Before the stream has seen any id there
   * is nothing to resume from: the open connection is kept until it ends (as with `'none'`).
   * `'reconnect'`: close, then reopen (a short gap, filled by Last-Event-ID replay; repeats are
   * dropped); also kept without an id.
   * `'none'`: keep the connection; the new token is used on the next connect.
   *
   * `createEventStreamWith` takes the policy as the unit that implements it, so a stream without
   * tokens bundles none of it: with `tokens`, pass `overlapRotation`, `reconnectRotation` or
   * `noRotation` (a name throws an `EventStreamError` of kind `'invalid-request'` at creation).
   * `createEventStream` and the hooks take either.
   */
  rotation?: RotationPolicy | TokenRotation
  /** Pause (disconnect) after the document has been hidden this long; reconnect when shown. Default: never pause. */
  pauseWhenHidden?: number
  /** Longest line accepted by the fetch transport, in bytes. Default `1048576` (1 MiB). */
  maxLineLength?: number
  /**
   * Largest event accepted by the fetch transport, in bytes: its `data` lines added up, so endless
   * short lines without a blank line cannot grow memory without bound. Fails like an over-long
   * line (`kind: 'line-too-long'`, not retried). Default `4194304` (4 MiB).
   */
  maxEventSize?: number
  /** Last event id to resume from on the first connection. Default none. */
  lastEventId?: string
  /**
   * Where the stream starts and what it keeps up to date (see `createStreamPosition`): its first
   * connection resumes from it and drops what the server repeats of the events it counts. For a
   * stream that continues another's delivery, such as the new leader of a cross-tab group.
   * Default: a new position at `lastEventId`.
   */
  position?: StreamPosition
  /** Host facilities (clocks, timers, fetch, EventSource, window/document). Default: the host's. */
  platform?: Partial<Platform>
  /**
   * Share one connection among the same-origin tabs (and streams) that want the same stream: the
   * same `scope`, url (token query parameter removed), event types and `transport` option. One tab,
   * the leader (elected with a Web Lock), connects and asks its token manager for tokens; the others
   * receive every event, in order, and the connection status over a `BroadcastChannel`; when the
   * leader goes, another takes over and resumes from the last event id the group saw. `scope` names
   * who may see the events (use the signed-in user's id): streams of different scopes never share.
   * Options outside the group key (headers, credentials, reconnect settings, the token manager) are
   * the leader's. Only with `createEventStream` (a name or `'auto'` as `transport`; a `Transport`
   * object never shares), and only where the platform has `locks` and `BroadcastChannel` (the host's `navigator.locks` and `BroadcastChannel` by default):
   * elsewhere the stream is on its own (`tab: 'solo'`). Default `false`.
   */
  crossTab?: { scope: string } | false
}

/** A reconnecting Server-Sent Events stream. Framework-free; React binds to it with `useSyncExternalStore`. */
export interface EventStream<TData = string> {
  /** Starts the stream (no-op when already running). */
  connect(): void
  /** Stops the stream and releases everything (sockets, timers, listeners). `connect()` may start it again. */
  close(): void
  /** Drops the current connection and connects again now, with a fresh attempt counter. */
  reconnect(): void
  getSnapshot(): EventStreamSnapshot<TData>
  subscribe(listener: () => void): () => void
}

export { STREAM_DEFAULTS }

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  maxAttempts: Infinity,
  stableAfter: 5000,
}

/** `options` with each missing option that has a default (`STREAM_DEFAULTS`) set to it. */
function withDefaults<T>(options: EventStreamOptions<T>): EventStreamOptions<T> & { -readonly [K in keyof typeof STREAM_DEFAULTS]: NonNullable<EventStreamOptions<T>[K]> } {
  const settings: Record<string, unknown> = { ...options }
  for (const [name, value] of Object.entries(STREAM_DEFAULTS)) settings[name] ??= value
  return settings as unknown as ReturnType<typeof withDefaults<T>>
}

/**
 * The snapshot of a stream that has not started: also what a binding shows before it connects
 * and what servers render. Frozen: snapshots are replaced, never changed.
 */
export function idleSnapshot<TData = string>(transport: string, lastEventId?: string): EventStreamSnapshot<TData> {
  return Object.freeze({
    status: 'idle',
    data: undefined,
    lastEvent: undefined,
    lastEventId,
    error: undefined,
    attempt: 0,
    retryAt: undefined,
    transport,
    eventCount: 0,
    openCount: 0,
    tab: 'solo',
  })
}

/** One connection attempt. */
interface Connection extends StreamConnection {
  /** Aborts it; replaced by the transport's abort once `connect` returned. */
  abort: () => void
  opened: boolean
  openedAt: number
  /** `version` of the token it was opened with (`undefined` without a token manager). */
  tokenVersion: number | undefined
  /** Tells what this connection repeats of what the stream delivered before it. */
  filter: ReplayFilter
}

/**
 * Creates a reconnecting event stream over exactly `transport` (`options.transport` is ignored),
 * so only that transport is bundled. `createEventStream` resolves names and `'auto'` for you.
 *
 * @example
 * import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
 * const stream = createEventStreamWith(createEventSourceTransport(), { url: '/api/stream' })
 *
 * @example With a token manager: the rotation unit comes with it.
 * import { createEventStreamWith, createFetchTransport, overlapRotation } from 'use-event-stream/core'
 * const stream = createEventStreamWith(createFetchTransport(), { url: '/api/stream', tokens, rotation: overlapRotation })
 */
export function createEventStreamWith<TData = string>(transport: Transport, options: EventStreamOptions<TData>): EventStream<TData> {
  const capabilities = transport.capabilities ?? {}
  const unsendable = (what: string) => {
    throw new EventStreamError('invalid-request', `${what} cannot be sent by the ${transport.name} transport: use transport "fetch" (or "auto", which picks it when ${what} is given)`)
  }
  if (capabilities.headers === false && options.headers && Object.keys(options.headers).length > 0) unsendable('headers')
  const settings = withDefaults(options)
  if (capabilities.requestBody === false && (options.body !== undefined || settings.method.toUpperCase() !== 'GET')) unsendable('a body or method')
  const tokens = options.tokens
  const rotationUnit = options.rotation
  if (tokens && typeof rotationUnit !== 'function') {
    const hint = typeof process !== 'undefined' && process.env.NODE_ENV !== 'production' ? ': with tokens, createEventStreamWith takes overlapRotation, reconnectRotation or noRotation (createEventStream also takes their names)' : ''
    throw new EventStreamError('invalid-request', `rotation${hint}`)
  }
  const platform = resolvePlatform(options.platform)
  const reconnectOptions = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect }
  const backoff = reconnectOptions || DEFAULT_RECONNECT
  const stableAfter = backoff.stableAfter
  const events = settings.events
  const eventSet = new Set(events)
  const idleTimeout = settings.idleTimeout
  const { parse, onEvent: onEventCallback, onError: onErrorCallback, onGap } = options
  // The gap event is always listened for: a server that skipped events is never ignored in silence.
  const transportEvents = eventSet.has(STREAM_GAP_EVENT) ? events : [...events, STREAM_GAP_EVENT]

  /** Where the stream is: every new connection resumes from it and filters its replays by it. */
  const position = options.position ?? createStreamPosition(options.lastEventId)
  let snapshot: EventStreamSnapshot<TData> = idleSnapshot(transport.name, position.id)
  const listeners = createListeners()

  // Run state. `generation` changes whenever the stream moves on (a new attempt, a pause, a stop),
  // so the answer of an earlier token request is recognised as stale and dropped.
  let running = false
  let generation = 0
  let current: Connection | undefined
  let stableTimer: Deadline | undefined
  let retryTimer: Deadline | undefined
  let serverRetry: number | undefined

  // The units of the features an app may leave out, made only when the options ask for them (the
  // token unit comes with the `rotation` option; see `streamTokens.ts`).
  const idle = createIdleWatchdog(platform, idleTimeout, () => fail(reported(new EventStreamError('idle-timeout', `No data for ${idleTimeout} ms`))))
  const hiddenPause = options.pauseWhenHidden === undefined ? undefined : createHiddenPause(platform, options.pauseWhenHidden, { pause: () => pause(), resume: () => start() })
  const control: StreamControl<Connection> = {
    platform,
    backoff,
    position,
    generation: () => generation,
    running: () => running,
    snapshot: () => snapshot,
    current: () => current,
    open,
    connect,
    start,
    stop,
    schedule,
    dropConnections,
    reported,
  }
  /** Everything the stream does with its token manager (`streamTokens.ts`), through the `rotation` unit. */
  const follower: TokenFollower<Connection> | undefined = tokens && (rotationUnit as TokenRotation)(control, tokens)
  const rotation = follower?.rotation

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    for (const key in patch) {
      if (!Object.is((snapshot as any)[key], (patch as any)[key])) {
        snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
        return listeners.notify()
      }
    }
  }

  /**
   * Moves to `status`. `error` and `retryAt` belong to a status (the state table of
   * docs/states-and-errors.md): whatever `extra` does not set is cleared.
   */
  function setStatus(status: EventStreamStatus, extra?: Partial<EventStreamSnapshot<TData>>): void {
    set({ retryAt: undefined, error: undefined, ...extra, status } as Partial<EventStreamSnapshot<TData>>)
  }

  /** Reports an error to `onError` and returns it. */
  function reported(error: EventStreamError): EventStreamError {
    callSafely(onErrorCallback, error)
    return error
  }

  /** Aborts every connection and the timers that belong to one. */
  function dropConnections(): void {
    rotation?.abandon()
    current?.abort()
    current = undefined
    idle?.disarm()
    stableTimer?.cancel()
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts

  /** A new attempt; `error`: why the last one ended, shown while this one is being made. */
  function start(error?: EventStreamError): void {
    dropConnections()
    retryTimer?.cancel()
    const gen = ++generation
    const waiting = !!follower?.waiting
    setStatus(error || snapshot.openCount > 0 || snapshot.attempt > 0 || waiting ? 'reconnecting' : 'connecting', { error: error ?? (waiting ? snapshot.error : undefined) })
    if (follower) follower.attempt(gen)
    else open(undefined, undefined)
  }

  function open(token: string | undefined, tokenVersion: number | undefined, asCandidate = false): void {
    let url: URL
    try {
      url = new URL(options.url, platform.location?.href)
    } catch (cause) {
      return stop(reported(new EventStreamError('invalid-request', 'Invalid stream URL', { cause })))
    }
    const gen = generation
    const filter = position.resume()
    let body = options.body
    try {
      if (typeof body === 'function') body = body({ lastEventId: filter.lastEventId })
    } catch (cause) {
      filter.close()
      return stop(reported(new EventStreamError('invalid-request', 'body() threw', { cause })))
    }
    const connection: Connection = { abort: () => {}, opened: false, openedAt: 0, tokenVersion, filter }
    const live = () => gen === generation && (connection === current || connection === rotation?.candidate)
    if (asCandidate) {
      rotation!.begin(connection)
    } else {
      current = connection
      idle?.arm()
    }

    /** After an error or a close: true when only a rotation's new connection was lost (the current one goes on). */
    const lostCandidate = () => {
      if (!rotation || connection !== rotation.candidate) return false
      rotation.abandon()
      return true
    }

    /** A step of the stream, from whichever connection delivers: repeats are dropped. */
    const delivering = () => {
      if (connection !== current) return false
      idle?.arm()
      return true
    }

    const abort = transport.connect(
      {
        url,
        token,
        lastEventId: filter.lastEventId,
        tokenQueryParam: settings.tokenQueryParam,
        lastEventIdQueryParam: settings.lastEventIdQueryParam,
        withCredentials: settings.withCredentials,
        headers: settings.headers ?? {},
        method: settings.method,
        body,
        events: transportEvents,
        maxLineLength: settings.maxLineLength,
        maxEventSize: settings.maxEventSize,
        platform,
      },
      {
        onOpen() {
          if (!live()) return
          connection.opened = true
          connection.openedAt = platform.monotonic()
          follower?.opened()
          if (rotation && connection === rotation.candidate) {
            // The rotation's new connection is up: it replaces the old one.
            current?.abort()
            current = rotation.promote()
          }
          idle?.arm()
          stableTimer?.cancel()
          stableTimer = startDeadline(platform, stableAfter, () => snapshot.status === 'open' && set({ attempt: 0 }))
          setStatus('open', { openCount: snapshot.openCount + 1 })
        },
        onEvent(raw) {
          if (!live() || !delivering() || filter.isReplay(raw)) return
          position.event(raw)
          rotation?.delivered()
          deliver(raw)
        },
        onLastEventId(id) {
          if (!live() || !delivering() || filter.isReplayedId(id)) return
          position.idOnly(id)
          rotation?.delivered()
          set({ lastEventId: id })
        },
        onRetry(ms) {
          if (live()) serverRetry = Math.min(ms, MAX_WAIT)
        },
        onActivity() {
          if (live() && connection === current) idle?.arm()
        },
        onError(error) {
          if (!live()) return
          reported(error)
          // A failed rotation keeps the working connection; the next connect uses the new token.
          if (lostCandidate()) return
          const action = decideOnFailure(error, {
            tokens: !!follower,
            refreshed: !!follower?.refreshed,
            statusesHidden: capabilities.statuses === false,
            opened: connection.opened,
          })
          if (action === 'stop') return stop(error)
          if (action !== 'retry') {
            // The rejected token is never used again (by any stream of this manager).
            follower!.rejected(connection.tokenVersion)
            if (action === 'refresh') return start(error)
          }
          fail(error)
        },
        onClose({ noContent }) {
          if (!live() || lostCandidate()) return
          // 204: the server says "stop"; no further requests.
          if (noContent) return stop()
          if (!reconnectOptions) return stop()
          if (connection.opened && platform.monotonic() - connection.openedAt >= stableAfter) {
            // A server that closes every stream at once (restart, deploy) must not get every
            // client back at once: a first-attempt jitter spreads them over initialDelay.
            dropConnections()
            set({ attempt: 0 })
            schedule(backoffDelay(1, reconnectOptions, platform.random, serverRetry ?? 0))
          } else {
            fail(reported(new EventStreamError('network', 'The server closed the stream')))
          }
        },
      },
    )
    connection.abort = () => {
      filter.close()
      abort()
    }
    // The transport may have settled synchronously; an aborted attempt must not keep its socket.
    if (!live()) abort()
  }

  function deliver(raw: RawEvent): void {
    const { type, data: text } = raw
    const id = raw.lastEventId
    if (type === STREAM_GAP_EVENT) reportGap(text)
    if (!eventSet.has(type)) return set({ lastEventId: id })
    const parsed = parseEventData(parse, type, text, id)
    if (parsed.error) {
      // The stream goes on: the error goes to `onError`, and the snapshot moves past the event.
      set({ lastEventId: id })
      reported(parsed.error)
      return
    }
    const event: StreamEvent<TData> = { type, data: parsed.data, raw: text, id, receivedAt: platform.now() }
    callSafely(onEventCallback, event)
    // The per-event hot path. `eventCount` always changes, so `set()`'s diff would be wasted work,
    // and a spread with overrides (`{ ...snapshot, data }`) takes V8's slow generic path: a full
    // literal keeps one object shape and measured ~2× faster per event (bench/node/throughput.ts).
    // Typed as a full snapshot, so a field added to the type cannot be forgotten here.
    const s = snapshot
    const next: Record<keyof EventStreamSnapshot<TData>, unknown> = {
      status: s.status,
      data: parsed.data,
      lastEvent: event,
      lastEventId: id,
      error: s.error,
      attempt: s.attempt,
      retryAt: s.retryAt,
      transport: s.transport,
      eventCount: s.eventCount + 1,
      openCount: s.openCount,
      tab: s.tab,
    }
    snapshot = next as EventStreamSnapshot<TData>
    listeners.notify()
  }

  function reportGap(data: string): void {
    const gap = readGap(data)
    if (!gap) return
    if (onGap) return callSafely(onGap, gap)
    if (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production') {
      console.warn(
        `use-event-stream: the server could not resume from event id ${gap.lastEventId ?? '(none)'} and skipped to ${gap.resumedAt ?? 'its oldest event'}. Pass onGap to refetch what the stream keeps up to date.`,
      )
    }
  }

  function fail(error: EventStreamError): void {
    if (!running) return
    dropConnections()
    if (!reconnectOptions) return stop(error)
    const attempt = snapshot.attempt + 1
    if (attempt > reconnectOptions.maxAttempts) {
      return stop(reported(new EventStreamError('max-attempts', `Gave up after ${reconnectOptions.maxAttempts} attempts: ${error.message}`, { status: error.status, cause: error })))
    }
    set({ attempt })
    schedule(backoffDelay(attempt, reconnectOptions, platform.random, Math.max(serverRetry ?? 0, error.retryAfter ?? 0)), error)
  }

  function schedule(delay: number, error?: EventStreamError): void {
    retryTimer?.cancel()
    generation++
    setStatus('reconnecting', { retryAt: platform.now() + delay, error })
    retryTimer = startDeadline(platform, delay, () => start(snapshot.error))
  }

  /** Ends the run: `'failed'` with `error`, else `'closed'` (unless it never started). */
  function stop(error?: EventStreamError): void {
    running = false
    generation++
    dropConnections()
    retryTimer?.cancel()
    hiddenPause?.reset()
    follower?.settle(true)
    listenToHost(false)
    if (error) setStatus('failed', { error })
    else if (snapshot.status !== 'idle') setStatus('closed')
    follower?.watch()
  }

  /** Drops the connection and waits (offline, or hidden too long); holds no token subscription. */
  function pause(error?: EventStreamError): void {
    dropConnections()
    retryTimer?.cancel()
    generation++
    follower?.settle(false)
    setStatus('paused', { error })
    follower?.watch()
  }

  function offline(): void {
    pause(reported(new EventStreamError('offline', 'The device is offline')))
  }

  // ---------------------------------------------------------------------------------------------
  // Visibility and connectivity (token changes: `streamTokens.ts`)

  function onOffline(): void {
    if (running) offline()
  }

  function onOnline(): void {
    if (!running) return
    if (snapshot.status === 'paused' && !hiddenPause?.tooLong) start()
    else onWake()
  }

  /** The host may have slept or throttled timers: every deadline is re-read from the clocks. */
  function onWake(): void {
    for (const timer of [retryTimer, idle, stableTimer, hiddenPause, rotation]) timer?.check()
  }

  function onVisibility(hidden: boolean): void {
    if (running) hiddenPause?.visibility(hidden)
  }

  let stopWatching: (() => void) | undefined

  function listenToHost(on: boolean): void {
    stopWatching?.()
    stopWatching = on
      ? watchLifecycle(platform, { wake: onWake, online: onOnline, offline: onOffline, visibility: hiddenPause && onVisibility })
      : undefined
  }

  function connect(): void {
    if (running) return
    running = true
    follower?.connected()
    set({ attempt: 0, error: undefined })
    listenToHost(true)
    // A stream started in a hidden page counts its hidden time from now.
    if (platform.document?.visibilityState === 'hidden') onVisibility(true)
    if (platform.isOnline()) start()
    else offline()
  }

  return {
    connect,
    close: () => stop(),
    reconnect() {
      if (!running) return connect()
      follower?.opened()
      set({ attempt: 0 })
      start()
    },
    getSnapshot: () => snapshot,
    subscribe: listeners.subscribe,
  }
}
