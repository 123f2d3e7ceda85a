import { backoffDelay, MAX_WAIT } from './backoff'
import { EventStreamError, TokenError } from './errors'
import type { StreamPosition, ReplayFilter } from './position'
import type { Rotation } from './rotation'
import type { EventStreamSnapshot, Platform, ReconnectOptions, RotationPolicy, TokenManager } from './types'

/**
 * What a stream does with its token manager, as a unit that only a stream with a token manager
 * reaches: an app streaming without tokens (cookies, a public feed) never bundles it.
 *
 * - Waiting for the manager: when it cannot supply a token, the stream waits for its next try (or
 *   a new token) instead of burning attempts, and reports the failure once per wait.
 * - Rejected-token versions: a token the stream server refused (401/403, or a refusal the
 *   transport could not show) is never used again; the next attempt asks for a newer one.
 * - Dormant until a new token: a manager that says `'unauthorized'` ends the stream, and its next
 *   token starts it again.
 * - Rotation on a new token while a connection is open, by the policy this unit was made with:
 *   `overlapRotation` (make-before-break, `rotation.ts`), `reconnectRotation`, `noRotation`.
 *
 * The stream hands it a `StreamControl` and calls it through `TokenFollower`: that is the seam.
 */

/** One connection of the stream, as far as token handling is concerned. */
export interface StreamConnection {
  abort(): void
  /** `version` of the token it was opened with. */
  tokenVersion: number | undefined
  filter: ReplayFilter
}

/** The stream as its token unit sees it. */
export interface StreamControl<C extends StreamConnection> {
  readonly platform: Platform
  readonly backoff: Required<ReconnectOptions>
  readonly position: StreamPosition
  /** Changes whenever the stream moves on: an answer for an older generation is stale. */
  generation(): number
  running(): boolean
  snapshot(): EventStreamSnapshot<unknown>
  /** The connection delivering events, if any. */
  current(): C | undefined
  open(token: string, tokenVersion: number, asCandidate?: boolean): void
  connect(): void
  start(error?: EventStreamError): void
  stop(error?: EventStreamError): void
  /** Waits `delay` (status `reconnecting`, showing `error`), then starts the next attempt. */
  schedule(delay: number, error: EventStreamError): void
  dropConnections(): void
  /** Reports an error to `onError` and returns it. */
  reported(error: EventStreamError): EventStreamError
}

/** What the stream calls of its token unit. */
export interface TokenFollower<C extends StreamConnection> {
  /** Waiting for the manager to have a token: the next attempt is shown as a reconnect, with the reason. */
  readonly waiting: boolean
  /** The stream server refused a token since the last open: the one refresh it gets is spent. */
  readonly refreshed: boolean
  /** Overlap rotation's second connection, when the policy makes one. */
  readonly rotation: Rotation<C> | undefined
  /** Attempt `generation`: asks the manager for a token, then opens with it. */
  attempt(generation: number): void
  /** The stream server refused the token of `version`: only a newer one is used from now on. */
  rejected(version: number | undefined): void
  /** A connection opened, or the app asked to reconnect: a refusal may be refreshed again. */
  opened(): void
  /** `stream.connect()`: a fresh run, nothing rejected. */
  connected(): void
  /** The run stopped (`stopped`) or paused: no wait for a token is pending, and not dormant. */
  settle(stopped: boolean): void
  /** Subscribes to the manager while it matters (running and not paused, or dormant), and only then. */
  watch(): void
}

/**
 * The value of `rotation` that `createEventStreamWith` takes with `tokens`: `overlapRotation`,
 * `reconnectRotation` or `noRotation`. (`createEventStream` and the hooks also take their names.)
 */
export type TokenRotation = <C extends StreamConnection>(stream: StreamControl<C>, tokens: TokenManager) => TokenFollower<C>

/** `rotation: 'reconnect'`: on a new token, close, then reopen from the stream's position. */
export const reconnectRotation: TokenRotation = (stream, tokens) => followTokens(stream, tokens, 'reconnect')

/** `rotation: 'none'`: keep the connection; the new token is used at the next connect. */
export const noRotation: TokenRotation = (stream, tokens) => followTokens(stream, tokens, 'none')

/** The token unit with `policy`; `rotation` is overlap rotation's candidate keeper (see `overlapRotation`). */
export function followTokens<C extends StreamConnection>(stream: StreamControl<C>, manager: TokenManager, policy: RotationPolicy, rotation?: Rotation<C>): TokenFollower<C> {
  const { platform } = stream
  let refreshed = false
  /** Version of the token the stream server rejected: only a newer one is used from then on. */
  let rejectedVersion: number | undefined
  /**
   * Waiting for the token manager, which could not supply a token: the stream retries when the
   * manager has a token or at the manager's next try, counts no attempts, and reports once.
   */
  let waiting = false
  /** Tries while waiting for the token manager (drives the delay when the manager names no time). */
  let tokenWaits = 0
  /** Ended only because the token manager is unauthorized: a new token starts it again. */
  let dormant = false
  let unsubscribe: (() => void) | undefined

  function watch(): void {
    const wanted = dormant || (stream.running() && stream.snapshot().status !== 'paused')
    if (wanted === !!unsubscribe) return
    if (unsubscribe) {
      const end = unsubscribe
      unsubscribe = undefined
      end()
    } else {
      unsubscribe = manager.subscribe(onTokenChange)
    }
  }

  function attempt(gen: number): void {
    // Subscribing may notify at once (a token already due); that may move the stream on.
    watch()
    if (gen !== stream.generation()) return
    manager.getToken(rejectedVersion === undefined ? undefined : { newerThan: rejectedVersion }).then(
      (token) => {
        if (gen !== stream.generation()) return
        waiting = false
        tokenWaits = 0
        stream.open(token, manager.version)
      },
      (cause: unknown) => {
        if (gen !== stream.generation()) return
        const kind = cause instanceof TokenError ? cause.kind : undefined
        if (kind === 'unauthorized') return endUnauthorized(cause as TokenError)
        const failure = new EventStreamError('token', `No stream token: ${cause instanceof Error ? cause.message : 'unknown error'}`, { cause })
        if (kind === 'disposed') return stream.stop(stream.reported(failure))
        waitForToken(failure)
      },
    )
  }

  /**
   * The token manager could not supply a token. Its own retries (and its `Retry-After`) decide
   * when there is one, so the stream waits for it: a new token starts the next attempt at once
   * (`onTokenChange`), and the stream asks again at the manager's next try. No attempts are
   * counted and the error is reported once per wait, however long the token endpoint is down.
   */
  function waitForToken(failure: EventStreamError): void {
    stream.dropConnections()
    if (!waiting) stream.reported(failure)
    waiting = true
    const now = platform.now()
    const nextTry = manager.getSnapshot().refreshAt
    const delay = nextTry !== undefined && nextTry > now ? Math.min(MAX_WAIT, nextTry - now) : backoffDelay(++tokenWaits, stream.backoff, platform.random)
    stream.schedule(delay, failure)
  }

  /** The token manager refuses this user: end, and come back when it has a token again. */
  function endUnauthorized(cause?: TokenError): void {
    stream.stop(stream.reported(new EventStreamError('unauthorized', 'Stream token refused by the token endpoint', { status: cause?.status, cause })))
    dormant = true
    watch()
  }

  function onTokenChange(): void {
    const { status, error } = manager.getSnapshot()
    if (dormant) {
      if (status === 'valid') stream.connect()
      return
    }
    if (!stream.running()) return
    // Terminal token failure: streams that depend on the token end too, whatever the rotation.
    if (status === 'unauthorized') return endUnauthorized(error)
    if (status !== 'valid') return
    if (waiting && (rejectedVersion === undefined || manager.version > rejectedVersion)) return stream.start()
    // One rotation at a time; the current connection may still be repeating what an earlier one
    // delivered: its own filter goes on dropping that, and the new connection resumes from the
    // stream's position, which already counts it.
    const current = stream.current()
    if (stream.snapshot().status !== 'open' || rotation?.candidate || !current) return
    if (current.tokenVersion === undefined || manager.version === current.tokenVersion) return
    // Without an id a new connection could resume from nothing: every event between the two
    // connections would be lost (break-before-make) or could not be matched (make-before-break).
    // The connection is kept until it ends, whatever the policy.
    if (policy === 'none' || !stream.position.id) return
    const gen = stream.generation()
    manager.getToken().then(
      (token) => {
        if (gen !== stream.generation() || stream.snapshot().status !== 'open' || rotation?.candidate) return
        if (rotation) stream.open(token, manager.version, true)
        else stream.start()
      },
      () => {
        // The current connection keeps working; the next connect retries the token.
      },
    )
  }

  return {
    get waiting() {
      return waiting
    },
    get refreshed() {
      return refreshed
    },
    rotation,
    attempt,
    rejected(version) {
      refreshed = true
      rejectedVersion = version
    },
    opened() {
      refreshed = false
    },
    connected() {
      dormant = false
      refreshed = false
      rejectedVersion = undefined
    },
    settle(stopped) {
      if (stopped) dormant = false
      waiting = false
    },
    watch,
  }
}
