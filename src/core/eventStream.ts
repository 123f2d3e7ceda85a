import { backoffDelay } from './backoff'
import { EventStreamError, TokenError } from './errors'
import { resolvePlatform } from './platform'
import { MAX_TIMER_DELAY } from './timers'
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

/**
 * One connection, identified by a function that aborts it (an object with `abort`/`opened`/
 * `candidate` fields would ship those property names, which do not minify). Its state lives in
 * the closure of `open()`.
 */
type Connection = () => void

// Timer slots, written as literals with the name in a comment (esbuild does not inline these
// constants): 0 idle, 1 stable, 2 retry, 3 hidden. `drop(n)` clears the first `n`, so the order
// matters: a connection's watchdogs, then the retry, then the visibility timer (only `stop()`).

/**
 * Creates a reconnecting event stream over exactly `transport` (`options.transport` is ignored),
 * so only that transport is bundled. `createEventStream` resolves names and `'auto'` for you.
 *
 * @example
 * import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
 * const stream = createEventStreamWith(createEventSourceTransport(), { url: '/api/stream', tokens })
 */
export function createEventStreamWith<TData = string>(transport: Transport, options: EventStreamOptions<TData>): EventStream<TData> {
  // Internals are closures and locals rather than objects with named fields: property names
  // survive minification, local names do not (bundle budget, scripts/size.mjs).
  const platform = resolvePlatform(options.platform)
  const tokens = options.tokens
  const reconnectOptions = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect }
  const stableAfter = (reconnectOptions || DEFAULT_RECONNECT).stableAfter
  const events = options.events ?? ['message']
  const eventSet = new Set(events)
  const rotation = options.rotation ?? 'overlap'
  const idleTimeout = options.idleTimeout ?? 0
  let { parse, onEvent: onEventCallback, onError: onErrorCallback } = options

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
  /** Timer handles by slot: 0 idle, 1 stable, 2 retry, 3 hidden. */
  const timers: unknown[] = []
  let serverRetry: number | undefined
  let authFailures = 0
  let forceTokenRefresh = false
  let tokenVersion = -1
  let isHiddenTooLong = false
  let unsubscribeTokens: (() => void) | undefined
  /** Ids delivered by the old connection during an overlap; the new one's replays of them are dropped. */
  let overlapSeen: Set<string> | undefined

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    for (const key in patch) {
      if (!Object.is((snapshot as any)[key], (patch as any)[key])) {
        snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
        return notify()
      }
    }
  }

  function notify(): void {
    if (listeners.size === 0) return
    for (const listener of (listenerList ??= Array.from(listeners))) listener()
  }

  function setStatus(status: EventStreamStatus, extra?: Partial<EventStreamSnapshot<TData>>): void {
    set({ retryAt: undefined, ...extra, status } as Partial<EventStreamSnapshot<TData>>)
  }

  /** Reports an error to `onError` and returns it. */
  function reported(error: EventStreamError): EventStreamError {
    try {
      onErrorCallback?.(error)
    } catch {
      // A consumer's callback must not break the stream's state machine.
    }
    return error
  }

  function disarm(slot: number): void {
    if (timers[slot] !== undefined) platform.clearTimeout(timers[slot])
    timers[slot] = undefined
  }

  /** Starts the timer in `slot`; `fn` learns whether the generation it was armed in is still current. */
  function arm(slot: number, ms: number, fn: (live: boolean) => void): void {
    disarm(slot)
    const gen = generation
    timers[slot] = platform.setTimeout(() => {
      timers[slot] = undefined
      fn(gen === generation)
    }, ms)
  }

  /** Aborts the connections and clears the first `slots` timers. */
  function drop(slots: number): void {
    current?.()
    candidate?.()
    current = candidate = overlapSeen = undefined
    for (let slot = 0; slot < slots; slot++) disarm(slot)
  }

  function armIdle(): void {
    if (idleTimeout <= 0) return
    arm(0 /* IDLE */, idleTimeout, (live) => live && fail(reported(new EventStreamError('idle-timeout', `No data for ${idleTimeout} ms`))))
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts

  function start(forceRefresh?: boolean): void {
    drop(3 /* through RETRY */)
    const gen = ++generation
    setStatus(snapshot.openCount > 0 || snapshot.attempt > 0 ? 'reconnecting' : 'connecting')
    if (!tokens) return open(gen)
    tokens.getToken(forceRefresh ? { forceRefresh: true, reason: 'unauthorized' } : undefined).then(
      (token) => {
        if (gen !== generation) return
        tokenVersion = tokens.version
        open(gen, token)
      },
      (error: unknown) => {
        if (gen !== generation) return
        // A refused or disposed token manager ends the stream; anything else is retried.
        const fatal = error instanceof TokenError && (error.kind === 'unauthorized' || error.kind === 'disposed') ? error : undefined
        ;(fatal ? stop : fail)(
          reported(
            new EventStreamError(fatal?.kind === 'unauthorized' ? 'unauthorized' : 'token', `No stream token: ${error instanceof Error ? error.message : 'unknown error'}`, {
              status: fatal?.status,
              cause: error,
            }),
          ),
        )
      },
    )
  }

  function open(gen: number, token?: string, asCandidate?: boolean): void {
    let url: URL
    try {
      url = new URL(options.url, (globalThis as any).location?.href)
    } catch (cause) {
      return stop(reported(new EventStreamError('http', 'Invalid stream URL', { cause })))
    }
    let abort: (() => void) | undefined
    let opened = false
    let openedAt = 0
    /** A rotation candidate, not yet the stream's connection. */
    let isCandidate = asCandidate
    const connection: Connection = () => abort?.()
    const live = () => gen === generation && (connection === current || connection === candidate)
    if (asCandidate) {
      candidate = connection
      overlapSeen = new Set()
    } else {
      current = connection
      armIdle()
    }
    /** After an error or close: true when this was a failed rotation candidate and the current connection goes on. */
    const lost = () => {
      if (isCandidate) {
        candidate = overlapSeen = undefined
        if (current) return true
      }
      current = undefined
      return false
    }
    // While `live()`, a connection that is not a candidate is `current`.
    abort = transport.connect(
      {
        url,
        token,
        lastEventId: snapshot.lastEventId,
        tokenQueryParam: options.tokenQueryParam ?? 'token',
        lastEventIdQueryParam: options.lastEventIdQueryParam ?? 'lastEventId',
        withCredentials: options.withCredentials ?? false,
        headers: options.headers ?? {},
        events,
        maxLineLength: options.maxLineLength ?? 1_048_576,
        maxEventSize: options.maxEventSize ?? 4_194_304,
        platform,
      },
      {
        onOpen() {
          if (!live()) return
          opened = true
          openedAt = platform.monotonic()
          authFailures = 0
          if (isCandidate) {
            // Overlap rotation: the new connection is up; retire the old one.
            current?.()
            current = connection
            candidate = undefined
            isCandidate = false
          }
          armIdle()
          arm(1 /* STABLE */, stableAfter, (live) => live && snapshot.status === 'open' && set({ attempt: 0 }))
          setStatus('open', { openCount: snapshot.openCount + 1, error: undefined })
        },
        onEvent(raw) {
          if (!live()) return
          if (!isCandidate) armIdle()
          const { type, data: text, lastEventId: id } = raw
          if (overlapSeen) {
            // Events on the candidate before it replaces the current one are replays or duplicates
            // of what the current connection delivers; they come again after the switch if needed.
            if (isCandidate) return
            if (id !== undefined) {
              if (candidate) overlapSeen.add(id)
              else if (overlapSeen.has(id)) return
              else overlapSeen = undefined // caught up: ids from here on are new
            }
          }
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
          try {
            onEventCallback?.(event)
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
            lastEventId: id,
            error: s.error,
            attempt: s.attempt,
            retryAt: s.retryAt,
            transport: s.transport,
            eventCount: s.eventCount + 1,
            openCount: s.openCount,
          }
          snapshot = next as EventStreamSnapshot<TData>
          notify()
        },
        onLastEventId(id) {
          // An empty `id:` line clears the id: the next connection sends none.
          if (live() && !isCandidate) set({ lastEventId: id || undefined })
        },
        onRetry(ms) {
          if (live()) serverRetry = Math.min(ms, MAX_TIMER_DELAY)
        },
        onActivity() {
          if (live() && !isCandidate) armIdle()
        },
        onError(error) {
          if (!live()) return
          // A failed rotation keeps the working connection; the next connect uses the new token.
          if (lost()) return void reported(error)
          disarm(0 /* IDLE */)
          disarm(1 /* STABLE */)
          reported(error)
          const { kind, status } = error
          if (kind === 'unauthorized') {
            if (tokens && authFailures === 0) {
              // One forced refresh: the token may have been revoked or expired early.
              authFailures++
              set({ error })
              return start(true)
            }
            return stop(error)
          }
          // Not retryable: a 4xx other than 408/429 (an undefined status compares false), a wrong
          // content type, an over-long line.
          if ((kind === 'http' && status! < 500 && status !== 408 && status !== 429) || kind === 'content-type' || kind === 'line-too-long') return stop(error)
          // The native EventSource hides statuses: a failure before `open` may be an expired or revoked
          // token, so the next attempt asks for a fresh one (once per run of failures).
          if (transport.name === 'eventsource' && tokens && !opened && authFailures === 0) {
            authFailures++
            forceTokenRefresh = true
          }
          fail(error)
        },
        onClose({ noContent }) {
          if (!live() || lost()) return
          // 204: the server says "stop"; no further requests.
          if (noContent) return stop()
          if (candidate) return // the rotation candidate takes over when it opens
          if (!reconnectOptions) return stop()
          if (opened && platform.monotonic() - openedAt >= stableAfter) {
            // A server that closes every stream at once (restart, deploy) must not get every
            // client back at once: a first-attempt jitter spreads them over initialDelay.
            set({ attempt: 0 })
            schedule(backoffDelay(1, reconnectOptions, platform.random, serverRetry ?? 0))
          } else {
            fail(reported(new EventStreamError('network', 'The server closed the stream')))
          }
        },
      },
    )
  }

  function fail(error: EventStreamError): void {
    if (!running) return
    drop(2 /* through STABLE */)
    if (!reconnectOptions) return stop(error)
    const attempt = snapshot.attempt + 1
    if (attempt > reconnectOptions.maxAttempts) {
      return stop(reported(new EventStreamError('max-attempts', `Gave up after ${reconnectOptions.maxAttempts} attempts: ${error.message}`, { status: error.status, cause: error })))
    }
    const delay = backoffDelay(attempt, reconnectOptions, platform.random, Math.max(serverRetry ?? 0, error.retryAfter ?? 0))
    set({ attempt })
    schedule(delay, error)
  }

  function schedule(delay: number, error?: EventStreamError): void {
    disarm(2 /* RETRY */)
    generation++
    setStatus('reconnecting', { retryAt: platform.now() + delay, error })
    arm(2 /* RETRY */, delay, (live) => {
      if (!live) return
      const force = forceTokenRefresh
      forceTokenRefresh = false
      start(force)
    })
  }

  /** Ends the run: `'failed'` with `error`, else `'closed'` (unless it never started). */
  function stop(error?: EventStreamError): void {
    running = false
    generation++
    drop(4 /* all */)
    isHiddenTooLong = false
    listen(false)
    if (error) setStatus('failed', { error })
    else if (snapshot.status !== 'idle') setStatus('closed')
  }


  /** Drops the connection and waits (offline, or hidden too long). */
  function pause(error?: EventStreamError): void {
    drop(3 /* through RETRY */)
    generation++
    setStatus('paused', { error })
  }

  function offline(): void {
    pause(reported(new EventStreamError('offline', 'The device is offline')))
  }

  // ---------------------------------------------------------------------------------------------
  // Rotation, visibility and connectivity

  function onTokenChange(): void {
    if (!running) return
    const manager = tokens!
    if (manager.getSnapshot().status === 'unauthorized') {
      // Terminal token failure: streams that depend on the token end too, whatever the rotation.
      return stop(reported(new EventStreamError('unauthorized', 'Stream token refused by the token endpoint')))
    }
    if (rotation === 'none') return
    // `status === 'open'` means the current connection is open: the status leaves 'open' whenever
    // the current connection is dropped, except while a candidate takes over (checked too).
    if (manager.version === tokenVersion || tokenVersion === -1 || snapshot.status !== 'open' || candidate) return
    const gen = generation
    manager.getToken().then(
      (token) => {
        if (gen !== generation || snapshot.status !== 'open' || candidate) return
        tokenVersion = manager.version
        if (rotation === 'reconnect') start()
        else open(gen, token, true)
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
    if (running && snapshot.status === 'paused' && !isHiddenTooLong) start()
  }

  function onVisibility(): void {
    // Only subscribed when `pauseWhenHidden` is set.
    if (!running) return
    const hidden = platform.document?.visibilityState === 'hidden'
    disarm(3 /* HIDDEN */)
    if (hidden) {
      arm(3 /* HIDDEN */, options.pauseWhenHidden!, () => {
        if (!running) return
        isHiddenTooLong = true
        pause()
      })
    } else if (isHiddenTooLong) {
      isHiddenTooLong = false
      if (platform.isOnline()) start()
    }
  }

  /** Adds (`on`) or removes the host and token-manager listeners. */
  function listen(on: boolean): void {
    const method = on ? 'addEventListener' : 'removeEventListener'
    platform.window?.[method]('offline', onOffline)
    platform.window?.[method]('online', onOnline)
    if (!on || options.pauseWhenHidden !== undefined) platform.document?.[method]('visibilitychange', onVisibility)
    unsubscribeTokens?.()
    unsubscribeTokens = on && tokens ? tokens.subscribe(onTokenChange) : undefined
  }

  function connect(): void {
    if (running) return
    running = true
    authFailures = 0
    forceTokenRefresh = false
    tokenVersion = -1
    set({ attempt: 0, error: undefined })
    listen(true)
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
    subscribe(listener) {
      listeners.add(listener)
      listenerList = undefined
      return () => {
        listeners.delete(listener)
        listenerList = undefined
      }
    },
    setCallbacks(next) {
      ;({ parse, onEvent: onEventCallback, onError: onErrorCallback } = next)
    },
  }
}
