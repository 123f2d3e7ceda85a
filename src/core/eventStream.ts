import { backoffDelay } from './backoff'
import { EventStreamError, TokenError } from './errors'
import { resolvePlatform } from './platform'
import { callSafely } from './reportError'
import { createOverlapDedupe, positionAfter, type EventPosition, type OverlapDedupe } from './rotation'
import { watchLifecycle } from './lifecycle'
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
  /**
   * Extra request headers. Only the fetch transport can send them: with headers, `'auto'` picks
   * fetch, and `transport: 'eventsource'` throws an `EventStreamError` of kind `'invalid-request'`
   * at creation. Default none.
   */
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
   * when it opens, close the old one, and drop what the new one repeats (matched by the last id and
   * the position after it, so events without ids are matched too): no gap, no duplicate, from a
   * server that replays after `Last-Event-ID`. Before the stream has seen any id there is nothing to
   * resume from, so it reconnects instead (`'reconnect'`). A new connection that has not opened
   * within 15 s is given up; the old one goes on.
   * `'reconnect'`: close, then reopen (a short gap, filled by Last-Event-ID replay).
   * `'none'`: keep the connection; the new token is used on the next connect.
   */
  rotation?: RotationPolicy
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
   * object never shares), and only where the host has `navigator.locks` and `BroadcastChannel`:
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

/** The defaults of the options that have one (see each option's documentation). */
export const STREAM_DEFAULTS = {
  transport: 'auto',
  withCredentials: false,
  events: ['message'],
  tokenQueryParam: 'token',
  lastEventIdQueryParam: 'lastEventId',
  idleTimeout: 0,
  rotation: 'overlap',
  maxLineLength: 1_048_576,
  maxEventSize: 4_194_304,
} as const satisfies Partial<EventStreamOptions<unknown>>

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  maxAttempts: Infinity,
  stableAfter: 5000,
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

/** Longest wait a server may ask for with `retry:` or `Retry-After`: one hour. */
const MAX_SERVER_DELAY = 3_600_000
/** A rotation's new connection that has not opened by then is given up. */
const CANDIDATE_TIMEOUT = 15_000
/** Events remembered while a rotation's new connection is being established. */
const MAX_OVERLAP_EVENTS = 10_000

/** One connection attempt. */
interface Connection {
  /** Aborts it; replaced by the transport's abort once `connect` returned. */
  abort: () => void
  opened: boolean
  openedAt: number
  /** `version` of the token it was opened with (`undefined` without a token manager). */
  tokenVersion: number | undefined
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
  const capabilities = transport.capabilities ?? {}
  if (capabilities.headers === false && options.headers && Object.keys(options.headers).length > 0) {
    throw new EventStreamError('invalid-request', `headers cannot be sent by the ${transport.name} transport: use transport "fetch" (or "auto", which picks it when headers are given)`)
  }
  const platform = resolvePlatform(options.platform)
  const tokens = options.tokens
  const reconnectOptions = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect }
  const stableAfter = (reconnectOptions || DEFAULT_RECONNECT).stableAfter
  const events = options.events ?? STREAM_DEFAULTS.events
  const eventSet = new Set(events)
  const rotation = options.rotation ?? STREAM_DEFAULTS.rotation
  const idleTimeout = options.idleTimeout ?? STREAM_DEFAULTS.idleTimeout
  const { parse, onEvent: onEventCallback, onError: onErrorCallback } = options

  let snapshot: EventStreamSnapshot<TData> = idleSnapshot(transport.name, options.lastEventId)
  const listeners = createListeners()

  // Run state. `generation` changes whenever the stream moves on (a new attempt, a pause, a stop),
  // so the answer of an earlier token request is recognised as stale and dropped.
  let running = false
  let generation = 0
  let current: Connection | undefined
  /** A rotation's new connection while it is being established. */
  let candidate: Connection | undefined
  let dedupe: OverlapDedupe | undefined
  /** Where the last delivered event sits (see `EventPosition`); what a rotation resumes from. */
  let position: EventPosition = { id: options.lastEventId, since: 0 }
  let idleTimer: Deadline | undefined
  let stableTimer: Deadline | undefined
  let retryTimer: Deadline | undefined
  let hiddenTimer: Deadline | undefined
  let candidateTimer: Deadline | undefined
  let serverRetry: number | undefined
  /** 401/403 answers of the stream server since the last open; token-endpoint failures do not count. */
  let authFailures = 0
  /** Version of the token the stream server rejected: only a newer one is used from then on. */
  let rejectedVersion: number | undefined
  /** Reconnecting because no token could be had: a new token ends the wait. */
  let waitingForToken = false
  /** Ended only because the token manager is unauthorized: a new token starts it again. */
  let dormant = false
  let hiddenTooLong = false
  let unsubscribeTokens: (() => void) | undefined

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    for (const key in patch) {
      if (!Object.is((snapshot as any)[key], (patch as any)[key])) {
        snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
        return listeners.notify()
      }
    }
  }

  function setStatus(status: EventStreamStatus, extra?: Partial<EventStreamSnapshot<TData>>): void {
    set({ retryAt: undefined, ...extra, status } as Partial<EventStreamSnapshot<TData>>)
  }

  /** Reports an error to `onError` and returns it. */
  function reported(error: EventStreamError): EventStreamError {
    callSafely(onErrorCallback, error)
    return error
  }

  function cancel(timer: Deadline | undefined): undefined {
    timer?.cancel()
    return undefined
  }

  /** Aborts every connection and the timers that belong to one. */
  function dropConnections(): void {
    abandonCandidate()
    current?.abort()
    current = undefined
    dedupe = undefined
    idleTimer = cancel(idleTimer)
    stableTimer = cancel(stableTimer)
  }

  /** Gives up a rotation that has not switched yet: the current connection goes on, with nothing to match. */
  function abandonCandidate(): void {
    if (!candidate) return
    candidate.abort()
    candidate = undefined
    candidateTimer = cancel(candidateTimer)
    dedupe = undefined
  }

  function armIdle(): void {
    if (idleTimeout <= 0) return
    cancel(idleTimer)
    idleTimer = startDeadline(platform, idleTimeout, () => fail(reported(new EventStreamError('idle-timeout', `No data for ${idleTimeout} ms`))))
  }

  /** Subscribes to the token manager while it matters: running and not paused, or dormant. */
  function watchTokens(): void {
    const wanted = !!tokens && (dormant || (running && snapshot.status !== 'paused'))
    if (wanted === !!unsubscribeTokens) return
    if (unsubscribeTokens) {
      const unsubscribe = unsubscribeTokens
      unsubscribeTokens = undefined
      unsubscribe()
    } else {
      unsubscribeTokens = tokens!.subscribe(onTokenChange)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts

  function start(): void {
    dropConnections()
    retryTimer = cancel(retryTimer)
    const gen = ++generation
    waitingForToken = false
    setStatus(snapshot.openCount > 0 || snapshot.attempt > 0 ? 'reconnecting' : 'connecting')
    if (!tokens) return open(undefined, undefined)
    // Subscribing may notify at once (a token already due); that may move the stream on.
    watchTokens()
    if (gen !== generation) return
    tokens.getToken(rejectedVersion === undefined ? undefined : { newerThan: rejectedVersion }).then(
      (token) => {
        if (gen === generation) open(token, tokens.version)
      },
      (error: unknown) => {
        if (gen !== generation) return
        const kind = error instanceof TokenError ? error.kind : undefined
        if (kind === 'unauthorized') return endUnauthorized(error as TokenError)
        const failure = reported(new EventStreamError('token', `No stream token: ${error instanceof Error ? error.message : 'unknown error'}`, { cause: error }))
        if (kind === 'disposed') return stop(failure)
        waitingForToken = true
        fail(failure)
      },
    )
  }

  /** The token manager refuses this user: end, and come back when it has a token again. */
  function endUnauthorized(cause?: TokenError): void {
    stop(reported(new EventStreamError('unauthorized', 'Stream token refused by the token endpoint', { status: cause?.status, cause })))
    dormant = true
    watchTokens()
  }

  function open(token: string | undefined, tokenVersion: number | undefined, asCandidate = false): void {
    let url: URL
    try {
      url = new URL(options.url, (globalThis as any).location?.href)
    } catch (cause) {
      return stop(reported(new EventStreamError('invalid-request', 'Invalid stream URL', { cause })))
    }
    const gen = generation
    const connection: Connection = { abort: () => {}, opened: false, openedAt: 0, tokenVersion }
    const live = () => gen === generation && (connection === current || connection === candidate)
    if (asCandidate) {
      candidate = connection
      dedupe = createOverlapDedupe(position, MAX_OVERLAP_EVENTS)
      candidateTimer = startDeadline(platform, CANDIDATE_TIMEOUT, abandonCandidate)
    } else {
      current = connection
      armIdle()
    }

    /** After an error or a close: true when only a rotation's new connection was lost (the current one goes on). */
    const lostCandidate = () => {
      if (connection !== candidate) return false
      abandonCandidate()
      return true
    }

    const abort = transport.connect(
      {
        url,
        token,
        lastEventId: snapshot.lastEventId,
        tokenQueryParam: options.tokenQueryParam ?? STREAM_DEFAULTS.tokenQueryParam,
        lastEventIdQueryParam: options.lastEventIdQueryParam ?? STREAM_DEFAULTS.lastEventIdQueryParam,
        withCredentials: options.withCredentials ?? STREAM_DEFAULTS.withCredentials,
        headers: options.headers ?? {},
        events,
        maxLineLength: options.maxLineLength ?? STREAM_DEFAULTS.maxLineLength,
        maxEventSize: options.maxEventSize ?? STREAM_DEFAULTS.maxEventSize,
        platform,
      },
      {
        onOpen() {
          if (!live()) return
          connection.opened = true
          connection.openedAt = platform.monotonic()
          authFailures = 0
          if (connection === candidate) {
            // The rotation's new connection is up: it replaces the old one.
            candidateTimer = cancel(candidateTimer)
            current?.abort()
            current = connection
            candidate = undefined
          }
          armIdle()
          cancel(stableTimer)
          stableTimer = startDeadline(platform, stableAfter, () => snapshot.status === 'open' && set({ attempt: 0 }))
          setStatus('open', { openCount: snapshot.openCount + 1, error: undefined })
        },
        onEvent(raw) {
          if (!live() || connection === candidate) return
          if (dedupe) {
            if (candidate) {
              // The old connection, while the new one connects: remember what it delivers.
              dedupe.delivered(raw, positionAfter(position, raw))
              if (dedupe.overflowed) abandonCandidate()
            } else if (dedupe.isReplay(raw)) {
              return armIdle()
            } else {
              dedupe = undefined
            }
          }
          armIdle()
          position = positionAfter(position, raw)
          deliver(raw)
        },
        onLastEventId(id) {
          if (!live()) return
          if (connection === candidate) return
          if (dedupe && !candidate && !dedupe.caughtUp) return dedupe.movedTo(id)
          position = { id, since: 0 }
          set({ lastEventId: id })
        },
        onRetry(ms) {
          if (live()) serverRetry = Math.min(ms, MAX_SERVER_DELAY)
        },
        onActivity() {
          if (live() && connection === current) armIdle()
        },
        onError(error) {
          if (!live()) return
          reported(error)
          // A failed rotation keeps the working connection; the next connect uses the new token.
          if (lostCandidate()) return
          const { kind, status } = error
          if (kind === 'unauthorized') {
            // One refresh: the token may have been revoked or expired early. The rejected token is
            // never used again; a second refusal, of a newer token, is final.
            if (!tokens || authFailures > 0) return stop(error)
            authFailures++
            rejectedVersion = connection.tokenVersion
            set({ error })
            return start()
          }
          // Not retryable: a 4xx other than 408/429 (an undefined status compares false), a wrong
          // content type, an over-long line or event, a request that cannot be made.
          if ((kind === 'http' && status! < 500 && status !== 408 && status !== 429) || kind === 'content-type' || kind === 'line-too-long' || kind === 'invalid-request') {
            return stop(error)
          }
          // A transport that may hide the status (the native EventSource when its probe found
          // nothing): a failure before `open` may be an expired or revoked token, so the next
          // attempt asks for a newer one (once per run of failures).
          if (capabilities.statuses === false && tokens && !connection.opened && status === undefined && authFailures === 0) {
            authFailures++
            rejectedVersion = connection.tokenVersion
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
    connection.abort = abort
    // The transport may have settled synchronously; an aborted attempt must not keep its socket.
    if (!live()) abort()
  }

  function deliver(raw: RawEvent): void {
    const { type, data: text } = raw
    const id = raw.lastEventId
    if (!eventSet.has(type)) return set({ lastEventId: id })
    let data: TData
    try {
      data = parse ? parse(text, { type, id }) : (text as unknown as TData)
    } catch (cause) {
      const error = new EventStreamError('parse', `Could not parse a "${type}" event${id === undefined ? '' : ` (id ${id})`}`, { cause })
      set({ lastEventId: id, error })
      reported(error)
      return
    }
    const event: StreamEvent<TData> = { type, data, raw: text, id, receivedAt: platform.now() }
    callSafely(onEventCallback, event)
    // The per-event hot path. `eventCount` always changes, so `set()`'s diff would be wasted work,
    // and a spread with overrides (`{ ...snapshot, data }`) takes V8's slow generic path: a full
    // literal keeps one object shape and measured ~2× faster per event (bench/node/throughput.ts).
    // Typed as a full snapshot, so a field added to the type cannot be forgotten here.
    const s = snapshot
    const next: Record<keyof EventStreamSnapshot<TData>, unknown> = {
      status: s.status,
      data,
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

  function fail(error: EventStreamError): void {
    if (!running) return
    dropConnections()
    if (!reconnectOptions) return stop(error)
    const attempt = snapshot.attempt + 1
    if (attempt > reconnectOptions.maxAttempts) {
      return stop(reported(new EventStreamError('max-attempts', `Gave up after ${reconnectOptions.maxAttempts} attempts: ${error.message}`, { status: error.status, cause: error })))
    }
    const floor = Math.min(MAX_SERVER_DELAY, Math.max(serverRetry ?? 0, error.retryAfter ?? 0))
    set({ attempt })
    schedule(backoffDelay(attempt, reconnectOptions, platform.random, floor), error)
  }

  function schedule(delay: number, error?: EventStreamError): void {
    cancel(retryTimer)
    generation++
    setStatus('reconnecting', { retryAt: platform.now() + delay, error })
    retryTimer = startDeadline(platform, delay, start)
  }

  /** Ends the run: `'failed'` with `error`, else `'closed'` (unless it never started). */
  function stop(error?: EventStreamError): void {
    running = false
    dormant = false
    generation++
    dropConnections()
    retryTimer = cancel(retryTimer)
    hiddenTimer = cancel(hiddenTimer)
    hiddenTooLong = false
    waitingForToken = false
    listenToHost(false)
    if (error) setStatus('failed', { error })
    else if (snapshot.status !== 'idle') setStatus('closed')
    watchTokens()
  }

  /** Drops the connection and waits (offline, or hidden too long); holds no token subscription. */
  function pause(error?: EventStreamError): void {
    dropConnections()
    retryTimer = cancel(retryTimer)
    generation++
    waitingForToken = false
    setStatus('paused', { error })
    watchTokens()
  }

  function offline(): void {
    pause(reported(new EventStreamError('offline', 'The device is offline')))
  }

  // ---------------------------------------------------------------------------------------------
  // Token changes, visibility and connectivity

  function onTokenChange(): void {
    const manager = tokens!
    const tokenStatus = manager.getSnapshot().status
    if (dormant) {
      if (tokenStatus === 'valid') connect()
      return
    }
    if (!running) return
    if (tokenStatus === 'unauthorized') {
      // Terminal token failure: streams that depend on the token end too, whatever the rotation.
      return endUnauthorized(manager.getSnapshot().error as TokenError | undefined)
    }
    if (tokenStatus !== 'valid') return
    if (waitingForToken && (rejectedVersion === undefined || manager.version > rejectedVersion)) return start()
    // One rotation at a time: the last one's new connection may still be repeating what the old
    // one delivered.
    if (rotation === 'none' || snapshot.status !== 'open' || candidate || dedupe || !current) return
    if (current.tokenVersion === undefined || manager.version === current.tokenVersion) return
    const gen = generation
    manager.getToken().then(
      (token) => {
        if (gen !== generation || snapshot.status !== 'open' || candidate) return
        // Without an id there is nothing a new connection could resume from, so nothing to match
        // its events against: make-before-break would duplicate, break-before-make only waits.
        if (rotation === 'reconnect' || !position.id) return start()
        open(token, manager.version, true)
      },
      () => {
        // The current connection keeps working; the next connect retries the token.
      },
    )
  }

  function onOffline(): void {
    if (running) offline()
  }

  function onOnline(): void {
    if (running && snapshot.status === 'paused' && !hiddenTooLong) start()
  }

  function onVisibility(hidden: boolean): void {
    if (!running || options.pauseWhenHidden === undefined) return
    hiddenTimer = cancel(hiddenTimer)
    if (hidden) {
      hiddenTimer = startDeadline(platform, options.pauseWhenHidden, () => {
        hiddenTooLong = true
        pause()
      })
    } else if (hiddenTooLong) {
      hiddenTooLong = false
      if (platform.isOnline()) start()
    }
  }

  let stopWatching: (() => void) | undefined

  function listenToHost(on: boolean): void {
    stopWatching?.()
    stopWatching = on
      ? watchLifecycle(platform, { online: onOnline, offline: onOffline, visibility: options.pauseWhenHidden === undefined ? undefined : onVisibility })
      : undefined
  }

  function connect(): void {
    if (running) return
    running = true
    dormant = false
    authFailures = 0
    rejectedVersion = undefined
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
      authFailures = 0
      set({ attempt: 0 })
      start()
    },
    getSnapshot: () => snapshot,
    subscribe: listeners.subscribe,
  }
}
