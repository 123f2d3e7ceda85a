import { backoffDelay } from './backoff'
import { EventStreamError, TokenError } from './errors'
import { MAX_TIMER_DELAY, resolvePlatform } from './platform'
import type {
  EventStreamSnapshot,
  EventStreamStatus,
  Platform,
  RawEvent,
  ReconnectOptions,
  RotationPolicy,
  StreamEvent,
  TokenManager,
  Transport,
  TransportName,
} from './types'

/** Options of `createEventStream`. Durations are in milliseconds. */
export interface EventStreamOptions<TData = string> {
  /** Stream endpoint. Relative URLs resolve against `location.href` where there is one. */
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
  /** Extra request headers (fetch transport only). Default none. */
  headers?: Record<string, string>
  /** Event types delivered. Default `['message']`. */
  events?: readonly string[]
  /** Turns the data string into `TData`. Default: the string unchanged. A throw gives a `'parse'` error and the stream goes on. */
  parse?: (data: string, event: { type: string; id: string | undefined }) => TData
  /** Called for every delivered event, in order, before subscribers are notified. */
  onEvent?: (event: StreamEvent<TData>) => void
  /** Called for every error (including ones the stream recovers from). */
  onError?: (error: EventStreamError) => void
  /** `false` disables reconnection; otherwise backoff settings (see `ReconnectOptions`). Default `{}`. */
  reconnect?: false | ReconnectOptions
  /** No bytes (fetch: heartbeats count) or events for this long → reconnect. `0` disables. Default `0`. */
  idleTimeout?: number
  /**
   * What to do when the token manager hands out a new token while a connection is open:
   * `'overlap'` (default): open a second connection with the new token and the last event id, switch
   * when it opens, close the old one, drop events already seen by id: no gap, no duplicate.
   * `'reconnect'`: close, then reopen (a short gap, filled by Last-Event-ID replay).
   * `'none'`: keep the connection; the new token is used on the next connect.
   */
  rotation?: RotationPolicy
  /** Pause (disconnect) after the document has been hidden this long; reconnect when shown. Default: never pause. */
  pauseWhenHidden?: number
  /** Longest line accepted by the fetch transport, in bytes. Default `1048576` (1 MiB). */
  maxLineLength?: number
  /** Last event id to resume from on the first connection. Default none. */
  lastEventId?: string
  /** Host facilities (clocks, timers, fetch, EventSource, window/document). Default: the host's. */
  platform?: Partial<Platform>
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
  /** Replaces callbacks (`parse`, `onEvent`, `onError`) without reconnecting. */
  setCallbacks(callbacks: Pick<EventStreamOptions<TData>, 'parse' | 'onEvent' | 'onError'>): void
}

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  maxAttempts: Infinity,
  stableAfter: 5000,
}

interface Connection {
  abort: () => void
  opened: boolean
  openedAt: number
  /** A rotation candidate, not yet the stream's connection. */
  candidate: boolean
}

/**
 * Creates a reconnecting event stream over exactly `transport` (`options.transport` is ignored),
 * so only that transport is bundled. `createEventStream` resolves names and `'auto'` for you.
 *
 * @example
 * import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
 * const stream = createEventStreamWith(createEventSourceTransport(), { url: '/api/stream', tokens })
 */
export function createEventStreamWith<TData = string>(transport: Transport, options: EventStreamOptions<TData>): EventStream<TData> {
  const platform = resolvePlatform(options.platform)
  const tokens = options.tokens
  const reconnectOptions = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect }
  const events = options.events ?? ['message']
  const eventSet = new Set(events)
  const rotation = options.rotation ?? 'overlap'
  const idleTimeout = options.idleTimeout ?? 0
  let callbacks = { parse: options.parse, onEvent: options.onEvent, onError: options.onError }

  let snapshot: EventStreamSnapshot<TData> = {
    status: 'idle',
    data: undefined,
    lastEvent: undefined,
    lastEventId: options.lastEventId,
    error: undefined,
    attempt: 0,
    retryAt: undefined,
    transport: transport.name,
    eventCount: 0,
    openCount: 0,
  }
  const listeners = new Set<() => void>()
  /**
   * The listeners as an array, rebuilt only when they change: notifying iterates a copy (a
   * listener may unsubscribe while another runs) without allocating one per event.
   */
  let listenerList: Array<() => void> | undefined

  // Mutable run state. `generation` invalidates every callback of an earlier run or attempt.
  let running = false
  let generation = 0
  let current: Connection | undefined
  let candidate: Connection | undefined
  let retryTimer: unknown
  let idleTimer: unknown
  let stableTimer: unknown
  let hiddenTimer: unknown
  let serverRetry: number | undefined
  let authFailures = 0
  let forceTokenRefresh = false
  let tokenVersion = -1
  let unsubscribeTokens: (() => void) | undefined
  /** Ids delivered by the old connection during an overlap; the new one's replays of them are dropped. */
  let overlapSeen: Set<string> | undefined

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    let changed = false
    for (const key in patch) {
      if (!Object.is((snapshot as any)[key], (patch as any)[key])) {
        changed = true
        break
      }
    }
    if (!changed) return
    snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
    notify()
  }

  function notify(): void {
    if (listeners.size === 0) return
    for (const listener of (listenerList ??= Array.from(listeners))) listener()
  }

  function setStatus(status: EventStreamStatus, extra: Partial<EventStreamSnapshot<TData>> = {}): void {
    set({ retryAt: undefined, ...extra, status } as Partial<EventStreamSnapshot<TData>>)
  }

  function report(error: EventStreamError): void {
    try {
      callbacks.onError?.(error)
    } catch {
      // A consumer's callback must not break the stream's state machine.
    }
  }

  /** Reports an error the stream produced itself (transport errors are reported in handleError). */
  function reported(error: EventStreamError): EventStreamError {
    report(error)
    return error
  }

  function clearTimer(handle: unknown): undefined {
    if (handle !== undefined) platform.clearTimeout(handle)
    return undefined
  }

  function dropConnections(): void {
    current?.abort()
    candidate?.abort()
    current = candidate = undefined
    overlapSeen = undefined
    idleTimer = clearTimer(idleTimer)
    stableTimer = clearTimer(stableTimer)
  }

  function armIdle(): void {
    if (idleTimeout <= 0) return
    idleTimer = clearTimer(idleTimer)
    const gen = generation
    idleTimer = platform.setTimeout(() => {
      idleTimer = undefined
      if (gen !== generation) return
      fail(reported(new EventStreamError('idle-timeout', `No data for ${idleTimeout} ms`)))
    }, idleTimeout)
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts

  function start(forceRefresh: boolean): void {
    dropConnections()
    retryTimer = clearTimer(retryTimer)
    const gen = ++generation
    const status: EventStreamStatus = snapshot.openCount > 0 || snapshot.attempt > 0 ? 'reconnecting' : 'connecting'
    setStatus(status)
    if (!tokens) {
      open(gen, undefined, false)
      return
    }
    tokens.getToken(forceRefresh ? { forceRefresh: true, reason: 'unauthorized' } : undefined).then(
      (token) => {
        if (gen !== generation) return
        tokenVersion = tokens.version
        open(gen, token, false)
      },
      (error: unknown) => {
        if (gen !== generation) return
        if (error instanceof TokenError && (error.kind === 'unauthorized' || error.kind === 'disposed')) {
          terminal(reported(new EventStreamError(error.kind === 'unauthorized' ? 'unauthorized' : 'token', `Could not get a stream token: ${error.message}`, { status: error.status, cause: error })))
        } else {
          const message = error instanceof Error ? error.message : 'unknown error'
          fail(reported(new EventStreamError('token', `Could not get a stream token: ${message}`, { cause: error })))
        }
      },
    )
  }

  function open(gen: number, token: string | undefined, asCandidate: boolean): void {
    let url: URL
    try {
      url = new URL(options.url, (globalThis as any).location?.href)
    } catch (cause) {
      terminal(reported(new EventStreamError('http', 'Invalid stream URL', { cause })))
      return
    }
    const connection: Connection = { abort: () => {}, opened: false, openedAt: 0, candidate: asCandidate }
    const live = () => gen === generation && (connection === current || connection === candidate)
    if (asCandidate) candidate = connection
    else {
      current = connection
      armIdle()
    }
    let lastEventIdAtConnect = snapshot.lastEventId
    if (asCandidate) overlapSeen = new Set()
    connection.abort = transport.connect(
      {
        url,
        token,
        lastEventId: lastEventIdAtConnect,
        tokenQueryParam: options.tokenQueryParam ?? 'token',
        lastEventIdQueryParam: options.lastEventIdQueryParam ?? 'lastEventId',
        withCredentials: options.withCredentials ?? false,
        headers: options.headers ?? {},
        events,
        maxLineLength: options.maxLineLength ?? 1_048_576,
        platform,
      },
      {
        onOpen() {
          if (!live()) return
          connection.opened = true
          connection.openedAt = platform.monotonic()
          authFailures = 0
          if (connection.candidate) {
            // Overlap rotation: the new connection is up; retire the old one.
            current?.abort()
            current = connection
            candidate = undefined
            connection.candidate = false
          }
          armIdle()
          armStable()
          setStatus('open', { openCount: snapshot.openCount + 1, error: undefined })
        },
        onEvent(raw) {
          if (!live()) return
          if (connection === current) armIdle()
          deliver(connection, raw)
        },
        onLastEventId(id) {
          if (!live() || connection.candidate) return
          // An empty `id:` line clears the id: the next connection sends none.
          set({ lastEventId: id === '' ? undefined : id })
        },
        onRetry(ms) {
          if (live()) serverRetry = Math.min(ms, MAX_TIMER_DELAY)
        },
        onActivity() {
          if (live() && connection === current) armIdle()
        },
        onError(error) {
          if (!live()) return
          if (connection.candidate) {
            candidate = undefined
            overlapSeen = undefined
            if (current) {
              // A failed rotation keeps the working connection; the next connect uses the new token.
              report(error)
              return
            }
          }
          current = undefined
          handleError(error, connection)
        },
        onClose({ noContent }) {
          if (!live()) return
          if (connection.candidate) {
            candidate = undefined
            overlapSeen = undefined
            if (current) return
          }
          current = undefined
          if (noContent) {
            // 204: the server says "stop"; no further requests.
            stopEverything()
            setStatus('closed')
            return
          }
          if (candidate) return // the rotation candidate takes over when it opens
          const stable = connection.opened && platform.monotonic() - connection.openedAt >= stableAfter()
          if (reconnectOptions === false) {
            stopEverything()
            setStatus('closed')
          } else if (stable) {
            // A server that closes every stream at once (restart, deploy) must not get every
            // client back at once: a first-attempt jitter spreads them over initialDelay.
            set({ attempt: 0 })
            schedule(backoffDelay(1, reconnectOptions, platform.random, serverRetry ?? 0), undefined)
          } else {
            fail(reported(new EventStreamError('network', 'The server closed the stream')))
          }
        },
      },
    )
  }

  function stableAfter(): number {
    return reconnectOptions ? reconnectOptions.stableAfter : DEFAULT_RECONNECT.stableAfter
  }

  function armStable(): void {
    stableTimer = clearTimer(stableTimer)
    const gen = generation
    stableTimer = platform.setTimeout(() => {
      stableTimer = undefined
      if (gen === generation && snapshot.status === 'open') set({ attempt: 0 })
    }, stableAfter())
  }

  function deliver(connection: Connection, raw: RawEvent): void {
    if (overlapSeen) {
      if (connection.candidate) {
        // Events on the candidate before it replaces the current one are replays or duplicates
        // of what the current connection delivers; they come again after the switch if needed.
        return
      }
      if (raw.lastEventId !== undefined && candidate && connection === current) overlapSeen.add(raw.lastEventId)
      else if (!candidate && raw.lastEventId !== undefined) {
        if (overlapSeen.has(raw.lastEventId)) return
        overlapSeen = undefined // caught up: ids from here on are new
      }
    }
    if (!eventSet.has(raw.type)) {
      if (raw.lastEventId !== snapshot.lastEventId) set({ lastEventId: raw.lastEventId })
      return
    }
    let data: TData
    try {
      data = callbacks.parse ? callbacks.parse(raw.data, { type: raw.type, id: raw.lastEventId }) : (raw.data as unknown as TData)
    } catch (cause) {
      const error = new EventStreamError('parse', `Could not parse a "${raw.type}" event${raw.lastEventId === undefined ? '' : ` (id ${raw.lastEventId})`}`, { cause })
      set({ lastEventId: raw.lastEventId, error })
      report(error)
      return
    }
    const event: StreamEvent<TData> = { type: raw.type, data, raw: raw.data, id: raw.lastEventId, receivedAt: platform.now() }
    try {
      callbacks.onEvent?.(event)
    } catch {
      // A throwing consumer callback must not lose the event for other subscribers.
    }
    // The per-event hot path. `eventCount` always changes, so `set()`'s diff would be wasted work,
    // and a spread with overrides (`{ ...snapshot, data }`) takes V8's slow generic path: a full
    // literal keeps one object shape and measured ~2× faster per event (bench/node/throughput.ts).
    // Typed as a full snapshot, so a field added to the type cannot be forgotten here.
    const s = snapshot
    const next: Record<keyof EventStreamSnapshot<TData>, unknown> = {
      status: s.status,
      data,
      lastEvent: event,
      lastEventId: raw.lastEventId,
      error: s.error,
      attempt: s.attempt,
      retryAt: s.retryAt,
      transport: s.transport,
      eventCount: s.eventCount + 1,
      openCount: s.openCount,
    }
    snapshot = next as EventStreamSnapshot<TData>
    notify()
  }

  function handleError(error: EventStreamError, connection: Connection): void {
    idleTimer = clearTimer(idleTimer)
    stableTimer = clearTimer(stableTimer)
    report(error)
    if (error.kind === 'unauthorized') {
      if (tokens && authFailures === 0) {
        // One forced refresh: the token may have been revoked or expired early.
        authFailures++
        set({ error })
        start(true)
        return
      }
      terminal(error)
      return
    }
    if (error.kind === 'http' && error.status !== undefined) {
      const retryable = error.status === 408 || error.status === 429 || error.status >= 500
      if (!retryable) return terminal(error)
    }
    if (error.kind === 'content-type' || error.kind === 'line-too-long') return terminal(error)
    // The native EventSource hides statuses: a failure before `open` may be an expired or revoked
    // token, so the next attempt asks for a fresh one (once per run of failures).
    if (transport.name === 'eventsource' && tokens && !connection.opened && authFailures === 0) {
      authFailures++
      forceTokenRefresh = true
    }
    fail(error)
  }

  function fail(error: EventStreamError): void {
    if (!running) return
    dropConnections()
    if (reconnectOptions === false) return terminal(error)
    const attempt = snapshot.attempt + 1
    if (attempt > reconnectOptions.maxAttempts) {
      return terminal(reported(new EventStreamError('max-attempts', `Gave up after ${reconnectOptions.maxAttempts} attempts: ${error.message}`, { status: error.status, cause: error })))
    }
    const floor = Math.max(serverRetry ?? 0, error.retryAfter ?? 0)
    const delay = backoffDelay(attempt, reconnectOptions, platform.random, floor)
    set({ attempt })
    schedule(delay, error)
  }

  function schedule(delay: number, error: EventStreamError | undefined): void {
    retryTimer = clearTimer(retryTimer)
    const gen = ++generation
    setStatus('reconnecting', { retryAt: platform.now() + delay, error })
    retryTimer = platform.setTimeout(() => {
      retryTimer = undefined
      if (gen !== generation) return
      const force = forceTokenRefresh
      forceTokenRefresh = false
      start(force)
    }, delay)
  }

  function terminal(error: EventStreamError): void {
    stopEverything()
    setStatus('failed', { error })
  }

  // ---------------------------------------------------------------------------------------------
  // Rotation, visibility and connectivity

  function onTokenChange(): void {
    if (!tokens || !running || rotation === 'none') return
    const snap = tokens.getSnapshot()
    if (snap.status === 'unauthorized' && snapshot.status !== 'failed') {
      // Terminal token failure: streams that depend on the token end too.
      const error = new EventStreamError('unauthorized', 'The token endpoint refused to issue a stream token')
      report(error)
      terminal(error)
      return
    }
    if (tokens.version === tokenVersion || tokenVersion === -1) return
    if (!current?.opened || candidate) return
    const gen = generation
    tokens.getToken().then(
      (token) => {
        if (gen !== generation || !current?.opened || candidate) return
        tokenVersion = tokens.version
        if (rotation === 'reconnect') {
          start(false)
        } else {
          open(gen, token, true)
        }
      },
      () => {
        // The current connection keeps working; the next connect retries the token.
      },
    )
  }

  function onOffline(): void {
    if (!running) return
    dropConnections()
    retryTimer = clearTimer(retryTimer)
    generation++
    setStatus('paused', { error: reported(new EventStreamError('offline', 'The device is offline')) })
  }

  function onOnline(): void {
    if (!running || snapshot.status !== 'paused') return
    if (isHiddenTooLong) return
    start(false)
  }

  let isHiddenTooLong = false
  function onVisibility(): void {
    if (!running || options.pauseWhenHidden === undefined) return
    const hidden = platform.document?.visibilityState === 'hidden'
    hiddenTimer = clearTimer(hiddenTimer)
    if (hidden) {
      hiddenTimer = platform.setTimeout(() => {
        hiddenTimer = undefined
        if (!running) return
        isHiddenTooLong = true
        dropConnections()
        retryTimer = clearTimer(retryTimer)
        generation++
        setStatus('paused', { error: undefined })
      }, options.pauseWhenHidden)
    } else if (isHiddenTooLong) {
      isHiddenTooLong = false
      if (platform.isOnline()) start(false)
    }
  }

  function addListeners(): void {
    platform.window?.addEventListener('offline', onOffline)
    platform.window?.addEventListener('online', onOnline)
    if (options.pauseWhenHidden !== undefined) platform.document?.addEventListener('visibilitychange', onVisibility)
    if (tokens) unsubscribeTokens = tokens.subscribe(onTokenChange)
  }

  function removeListeners(): void {
    platform.window?.removeEventListener('offline', onOffline)
    platform.window?.removeEventListener('online', onOnline)
    platform.document?.removeEventListener('visibilitychange', onVisibility)
    unsubscribeTokens?.()
    unsubscribeTokens = undefined
  }

  function stopEverything(): void {
    running = false
    generation++
    dropConnections()
    retryTimer = clearTimer(retryTimer)
    hiddenTimer = clearTimer(hiddenTimer)
    isHiddenTooLong = false
    removeListeners()
  }

  function connect(): void {
    if (running) return
    running = true
    authFailures = 0
    forceTokenRefresh = false
    tokenVersion = -1
    set({ attempt: 0, error: undefined })
    addListeners()
    if (!platform.isOnline()) {
      setStatus('paused', { error: reported(new EventStreamError('offline', 'The device is offline')) })
      return
    }
    start(false)
  }

  return {
    connect,
    close() {
      stopEverything()
      if (snapshot.status !== 'idle') setStatus('closed')
    },
    reconnect() {
      if (!running) return connect()
      authFailures = 0
      set({ attempt: 0 })
      start(false)
    },
    getSnapshot: () => snapshot,
    subscribe(listener) {
      listeners.add(listener)
      listenerList = undefined
      return () => {
        listeners.delete(listener)
        listenerList = undefined
      }
    },
    setCallbacks(next) {
      callbacks = { parse: next.parse, onEvent: next.onEvent, onError: next.onError }
    },
  }
}
