import { backoffDelay, type BackoffOptions } from './backoff'
import { TokenError, isUnauthorized } from './errors'
import { readJwtTimes } from './jwt'
import { readTokenResponse, type ReadTokenResponse } from './tokenResponse'
import { resolvePlatform } from './platform'
import { watchLifecycle } from './lifecycle'
import { createListeners } from './subscribable'
import { startDeadline, type Deadline } from './timers'
import type { FetchToken, Platform, TokenFetchReason, TokenManager, TokenResponse, TokenSnapshot, TokenStatus } from './types'

/** Lifetime assumed for a token that carries no expiry at all (opaque string, no `expiresIn`/`expiresAt`). */
const DEFAULT_TOKEN_LIFETIME = 60_000

/**
 * Shortest lifetime accepted when the lifetime had to be derived from the client's wall clock
 * (`expiresAt`, or a JWT with `exp` but no `iat`). A client clock running ahead can make a fresh
 * token look already expired; using it for a few seconds is better than refetching in a loop.
 */
export const MIN_WALL_CLOCK_LIFETIME = 5_000

const DEFAULT_RETRY: BackoffOptions = { initialDelay: 1_000, maxDelay: 30_000, factor: 2 }

/**
 * The default refresh lead: 20% of the lifetime, at least 1 s and at most 5 min, so a 30-second
 * token is refreshed 6 s before it expires and a 1-hour token 5 min before. The manager further
 * caps any lead (default or custom) at half the lifetime.
 */
export function defaultRefreshLead(lifetime: number): number {
  return Math.min(300_000, Math.max(1_000, lifetime * 0.2))
}

/** Options of {@link createTokenManager}. All durations are in milliseconds. */
export interface TokenManagerOptions {
  /**
   * Asks the app's backend for a token. Receives an `AbortSignal` (aborted by `dispose()`) and the
   * reason of the request. May resolve with:
   * - `{ token, expiresIn }`: `expiresIn` in **seconds** (the OAuth `expires_in` convention, and
   *   what the reference server's `POST /auth/sse-token` returns); preferred, as it needs no clock;
   * - a bare JWT string: the lifetime is `exp - iat` of its (unverified) payload;
   * - `{ token, expiresAt }`: ms since the epoch or a `Date`, compared with the client's wall
   *   clock, so a wrong client clock shifts it (the result is clamped to at least
   *   {@link MIN_WALL_CLOCK_LIFETIME});
   * - an opaque token with none of these: `defaultLifetime` is assumed.
   *
   * Reject with `UnauthorizedError`, or any error whose `status` is 401 or 403, when the user may
   * not have a token: the manager stops (status `'unauthorized'`) until `refresh()` is called.
   * Any other rejection is retried with backoff. `fetchTokenFrom(url)` builds one for the common
   * case. Required.
   */
  fetchToken: FetchToken
  /**
   * How long before expiry to fetch the next token: ms, or a function of the token's lifetime
   * (ms) returning ms. Always capped at half the lifetime, so a short-lived token is used for at
   * least half its life instead of being refetched in a loop.
   * Default {@link defaultRefreshLead}: `clamp(lifetime × 0.2, 1 s, 5 min)`.
   */
  refreshLeadTime?: number | ((lifetime: number) => number)
  /** Lifetime assumed for a token that carries no expiry information. Default `60000` (60 s). */
  defaultLifetime?: number
  /**
   * Host facilities: `monotonic` and `now` (every deadline is kept on both, see "Sleeping tabs and
   * laptops" below; `now` also reads `expiresAt` and reports wall-clock times),
   * `setTimeout`/`clearTimeout`, `random` (backoff jitter), `window` (`focus`, `online`,
   * `pageshow`) and `document` (`visibilitychange`). Default: the browser's/Node's (see
   * `resolvePlatform`).
   */
  platform?: Partial<Platform>
  /**
   * Full-jitter backoff between attempts after a non-terminal failure (network error, non-401/403
   * status, invalid response). Default `{ initialDelay: 1000, maxDelay: 30000, factor: 2 }`.
   */
  retry?: Partial<BackoffOptions>
  /**
   * Gives up on a token request after this many ms: its signal is aborted and the failure is
   * retried with backoff like a network error (`TokenError` kind `'network'`), so a token endpoint
   * that never answers cannot stall every stream. `0` disables. Default `15000`.
   */
  timeout?: number
}

/**
 * What the manager holds about the current token. Its age is counted from the response's arrival
 * on both clocks (see `age()`); it expires at `lifetime` and is refreshed at `refreshAfter`.
 */
interface HeldToken {
  token: string
  /** The manager's `version` when this token arrived. */
  version: number
  lifetime: number
  /** `lifetime` minus the refresh lead. */
  refreshAfter: number
  /** Arrival on the monotonic clock. */
  mono: number
  /** Arrival on the wall clock. */
  wall: number
}

interface InFlight {
  id: number
  promise: Promise<string>
  controller: AbortController
  reject(error: TokenError): void
  /** Cancels the request's timeout timer. */
  clearTimeout(): void
}


/**
 * The snapshot of a token manager that has not asked for a token yet; also what servers render
 * (`useToken()` during SSR and hydration). Frozen: snapshots are replaced, never changed.
 */
export const IDLE_TOKEN_SNAPSHOT: TokenSnapshot = Object.freeze({
  status: 'idle',
  expiresAt: undefined,
  lifetime: undefined,
  refreshAt: undefined,
  error: undefined,
  fetchCount: 0,
})

/**
 * Creates a token manager: fetches a short-lived token, caches it, shares one request among all
 * concurrent callers, and refreshes it ahead of expiry.
 *
 * Lifetimes are measured from the moment a response arrives, from `expiresIn` or from the JWT's
 * `exp - iat`, so a client clock that is minutes off neither refreshes early nor late: the
 * refresh point and the expiry are counted from that moment on the monotonic clock
 * (`platform.monotonic()`) and on the wall clock (`platform.now()`) alike, and each is reached when
 * either clock says so. A constant error of the wall clock cancels out; only an explicit
 * `expiresAt` is read against it.
 *
 * **When it refreshes.** Proactive work (the refresh timer, background retries after a failure and
 * the wake-up listeners) runs only while the manager has at least one `subscribe()`r: event streams
 * subscribe while they run, React bindings while mounted. With no subscriber the manager is lazy:
 * `getToken()` fetches a new token when the cached one has reached its refresh point, and nothing
 * happens in the background, so a manager nobody uses costs no requests. The first token is always
 * fetched by the first `getToken()` (or `refresh()`), never by `subscribe()` alone. Without
 * subscribers, a token that expired unobserved reads `'idle'` (or `'error'` after a failure) until
 * the next `getToken()`.
 *
 * **Sleeping tabs and laptops.** Browsers throttle timers in hidden tabs, and while a Linux or
 * macOS machine sleeps both its timers and its monotonic clock stop: after an hour with the lid
 * closed, `performance.now()` says no time passed. The wall clock does count the sleep, which is
 * why every deadline is also kept on it. `getToken()` and `getSnapshot()` compare against both
 * clocks whenever they are called, so an expired token is never handed out nor reported `'valid'`.
 * While subscribed, the manager also re-checks its deadlines on `visibilitychange` (when the
 * document becomes visible) and on `focus`, `online` and `pageshow` of the window: a token past its
 * refresh point is refreshed at once, and so is a retry that came due. `online` also cuts short a
 * pending retry. Reading the snapshot while subscribed does the same (the refresh starts on a
 * microtask, the snapshot already says `'loading'` or `'refreshing'`). These listeners exist only
 * while there are subscribers and are all removed by `dispose()`. A wall clock moved forward by
 * hand counts as time passed (the token is refreshed early, never used late); one moved back
 * delays nothing, as the monotonic clock still counts.
 *
 * **A token the stream server rejected.** `getToken({ newerThan: version })`, where `version` is
 * the manager's `version` when the rejected token was handed out: if the current token is that
 * one (the current `version` is at most `newerThan`), it is dropped for every caller (status
 * `'loading'` while a refresh runs, `'error'` if it fails) and a refresh starts (reason
 * `'unauthorized'`) unless one is already in flight, whose result is newer and is shared. Only
 * one refresh is started per rejected version, however many callers name it; later calls naming
 * it behave like `getToken()` without a usable token (they share a request in flight, reject at
 * once with the last error while a background retry is pending, else start a request). A pending
 * background retry is cut short by a new rejection. When the current `version` is
 * above `newerThan`, the current token is newer than the rejected one and is returned at once.
 * A failed refresh rejects with its `TokenError` (`'http'`, `'network'`, `'invalid-response'`; only
 * the token endpoint's own 401/403 means `'unauthorized'`).
 *
 * **Failures.** 401/403 (or `UnauthorizedError`) is terminal: status `'unauthorized'`, the token is
 * dropped, and `getToken()` rejects with a `TokenError` of kind `'unauthorized'` without another
 * request until `refresh()` is called (which tries once more). Other failures keep a still-valid
 * token in use (status `'valid'`, `error` set) while retries back off with full jitter; when no
 * valid token remains the status is `'error'`, and `getToken()` rejects at once with the last
 * `TokenError` (kind `'network'`, `'http'` or `'invalid-response'`) instead of waiting, so a stream
 * backs off by its own schedule and can watch `version` to reconnect as soon as a token arrives.
 * While no background retry is pending (no subscribers), `getToken()` starts a new request itself.
 *
 * **Snapshot.** `refreshAt` is the current token's refresh point, or, after a failure, the time of
 * the next background retry (`undefined` when none is pending, and while a request is in flight).
 * `expiresAt` and `lifetime` stay those of the last token received until a new one arrives or a
 * 401/403 drops it, even once it expired or was rejected (the status says so). `fetchCount`
 * equals `version`. The token never appears in the snapshot, in an error message, or in a log
 * line. A listener that throws is reported through `reportError` and changes nothing.
 *
 * @example
 * ```ts
 * const tokens = createTokenManager({ fetchToken: fetchTokenFrom('/auth/sse-token') })
 * const token = await tokens.getToken()
 * const unsubscribe = tokens.subscribe(() => console.log(tokens.getSnapshot().status))
 * ```
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const platform = resolvePlatform(options.platform)
  const fetchToken = options.fetchToken
  const retry: BackoffOptions = { ...DEFAULT_RETRY, ...options.retry }
  const defaultLifetime = options.defaultLifetime ?? DEFAULT_TOKEN_LIFETIME
  const requestTimeout = options.timeout ?? 15_000

  let held: HeldToken | undefined
  let inflight: InFlight | undefined
  let requestSeq = 0
  let version = 0
  /** Tokens of this version and older were rejected by a stream server (`getToken({ newerThan })`). */
  let rejectedVersion = 0
  let disposed = false
  /** Set by a 401/403; cleared only by `refresh()`. */
  let terminalError: TokenError | undefined
  /** Last non-terminal failure; cleared by the next token. */
  let lastError: TokenError | undefined
  /** Consecutive non-terminal failures, drives the backoff. */
  let attempt = 0
  let retryTimer: Deadline | undefined
  let retryAtWall: number | undefined
  let deadlineTimer: Deadline | undefined
  /** A read of the snapshot found a deadline past while subscribed; the wake-up runs on a microtask. */
  let wakeQueued = false
  const subscribers = createListeners({
    first() {
      listenForWakeUps(true)
      // Coming back after a while without subscribers: the token may be due already.
      wake(false)
    },
    last() {
      listenForWakeUps(false)
      arm()
      update()
    },
  })
  let snapshot: TokenSnapshot = IDLE_TOKEN_SNAPSHOT

  // ---------------------------------------------------------------------------------------------
  // Clocks. The held token is as old as the older of its two ages: the monotonic clock stops
  // while a machine sleeps, the wall clock can be set back.

  function age(token: HeldToken): number {
    return Math.max(platform.monotonic() - token.mono, platform.now() - token.wall)
  }

  /** The held token, when it may still be handed out: not rejected, not expired by either clock. */
  function usable(): HeldToken | undefined {
    return held && held.version > rejectedVersion && age(held) < held.lifetime ? held : undefined
  }

  /** Whether the held token should be replaced now (past its refresh point, or rejected). */
  function needsRefresh(): boolean {
    return held !== undefined && (held.version <= rejectedVersion || age(held) >= held.refreshAfter)
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshot

  /** Recomputes the snapshot and tells subscribers when it changed (`later`: on a microtask). */
  function update(later = false): void {
    const valid = usable() !== undefined
    const busy = inflight !== undefined || wakeQueued
    let status: TokenStatus
    if (disposed) status = 'disposed'
    else if (terminalError) status = 'unauthorized'
    else if (busy) status = valid ? 'refreshing' : 'loading'
    else if (valid) status = 'valid'
    else if (lastError) status = 'error'
    else status = 'idle'
    const next: TokenSnapshot = {
      status,
      expiresAt: held && held.wall + held.lifetime,
      lifetime: held?.lifetime,
      refreshAt: retryTimer ? retryAtWall : held && valid && !lastError && !busy ? held.wall + held.refreshAfter : undefined,
      error: terminalError ?? lastError,
      fetchCount: version,
    }
    // A new object only on change, so useSyncExternalStore consumers re-render only when needed.
    if (!(Object.keys(next) as Array<keyof TokenSnapshot>).some((key) => next[key] !== snapshot[key])) return
    snapshot = next
    if (!later) return notify()
    // From getSnapshot(): off React's render, do what the read found due, then tell everyone.
    queueMicrotask(() => {
      if (wakeQueued) {
        wakeQueued = false
        if (subscribers.size) wake(false)
        update()
      }
      notify()
    })
  }

  function notify(): void {
    subscribers.notify()
  }

  /**
   * The snapshot, re-read from the clocks: timers may have slept through the token's expiry. The
   * change is only announced on a microtask, as this runs inside React's render.
   */
  function getSnapshot(): TokenSnapshot {
    // Subscribed means "keep a token ready": a refresh or retry found due is what a wake-up event
    // would have started. The snapshot says so at once ('loading'/'refreshing'), so it changes.
    if (subscribers.size && !disposed && !terminalError && !inflight && !wakeQueued && (attempt ? retryAtWall! <= platform.now() : needsRefresh())) {
      wakeQueued = true
    }
    update(true)
    return snapshot
  }

  // ---------------------------------------------------------------------------------------------
  // Timers (see `startDeadline`: due by either clock, chained beyond setTimeout's limit).

  function clearRetry(): void {
    retryTimer?.cancel()
    retryTimer = undefined
    retryAtWall = undefined
  }

  function clearDeadline(): void {
    deadlineTimer?.cancel()
    deadlineTimer = undefined
  }

  /** Recomputes which timers should exist from the current state. Idempotent. */
  function arm(): void {
    clearDeadline()
    if (disposed || terminalError || subscribers.size === 0) {
      clearRetry()
      return
    }
    if (!inflight && attempt > 0 && !retryTimer) {
      // The endpoint's Retry-After is a floor under the jitter, as for streams.
      const delay = backoffDelay(attempt, retry, platform.random, lastError?.retryAfter ?? 0)
      retryAtWall = platform.now() + delay
      retryTimer = startDeadline(platform, delay, () => {
        retryTimer = undefined
        retryAtWall = undefined
        void request('retry').catch(noop)
      })
    }
    if (!held) return
    if (!inflight && attempt === 0) {
      deadlineTimer = startDeadline(platform, needsRefresh() ? 0 : held.refreshAfter - age(held), () => {
        deadlineTimer = undefined
        void request('scheduled').catch(noop)
      })
    } else if (usable()) {
      // Refresh is in flight or failing: only the status flip to "no valid token" is left to time.
      deadlineTimer = startDeadline(platform, held.lifetime - age(held), () => {
        deadlineTimer = undefined
        update()
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  function request(reason: TokenFetchReason): Promise<string> {
    if (disposed) return Promise.reject(disposedError())
    if (inflight) return inflight.promise
    clearRetry()
    clearDeadline()
    const id = ++requestSeq
    const controller = new AbortController()
    let resolve!: (token: string) => void
    let reject!: (error: TokenError) => void
    const promise = new Promise<string>((res, rej) => {
      resolve = res
      reject = rej
    })
    // Background refreshes have no caller; their failure is recorded in the snapshot instead.
    promise.catch(noop)
    let timer: unknown
    const stopTimer = () => {
      if (timer !== undefined) platform.clearTimeout(timer)
      timer = undefined
    }
    inflight = { id, promise, controller, reject, clearTimeout: stopTimer }
    if (requestTimeout > 0) {
      timer = platform.setTimeout(() => {
        timer = undefined
        if (inflight?.id !== id) return
        controller.abort()
        settleFailure(new TokenError('network', `Token request timed out after ${requestTimeout} ms`), reject)
      }, requestTimeout)
    }

    let call: Promise<TokenResponse>
    try {
      call = Promise.resolve(fetchToken({ signal: controller.signal, reason }))
    } catch (error) {
      call = Promise.reject(error)
    }
    call.then(
      (response) => {
        if (inflight?.id !== id) return // disposed or timed out meanwhile
        stopTimer()
        let next: HeldToken
        try {
          next = interpret(response)
        } catch (error) {
          settleFailure(toTokenError(error), reject)
          return
        }
        inflight = undefined
        held = next
        version = next.version
        attempt = 0
        lastError = undefined
        arm()
        update()
        resolve(next.token)
      },
      (error: unknown) => {
        if (inflight?.id !== id) return
        stopTimer()
        settleFailure(toTokenError(error), reject)
      },
    )
    update()
    return promise
  }

  function settleFailure(error: TokenError, reject: (error: TokenError) => void): void {
    inflight = undefined
    if (error.kind === 'unauthorized') {
      // Terminal: the server says this user may not stream. Forget the token and stop all retries.
      terminalError = error
      held = undefined
      attempt = 0
      lastError = undefined
      clearRetry()
    } else {
      attempt++
      lastError = error
    }
    arm()
    update()
    reject(error)
  }

  /** Turns a `fetchToken` result into a held token, measuring its lifetime from now. */
  function interpret(response: TokenResponse): HeldToken {
    // Read both clocks first: the lifetime counts from the response's arrival.
    const arrivedMono = platform.monotonic()
    const arrivedWall = platform.now()
    const body = readTokenResponse(response, 'fetchToken')
    const token = body.token
    const lifetime = measureLifetime(body, arrivedWall, defaultLifetime)
    const configured = typeof options.refreshLeadTime === 'function' ? options.refreshLeadTime(lifetime) : options.refreshLeadTime
    const requestedLead = configured === undefined || !Number.isFinite(configured) ? defaultRefreshLead(lifetime) : configured
    const lead = Math.min(Math.max(0, requestedLead), lifetime / 2)
    return {
      token,
      version: version + 1,
      lifetime,
      refreshAfter: lifetime - lead,
      mono: arrivedMono,
      wall: arrivedWall,
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Wake-ups: timers may have been throttled or suspended; deadlines are re-read from the clocks.
  // One listener per event type, since a platform's targets need not pass an event object.

  function wake(online: boolean): void {
    if (disposed || terminalError || inflight) return
    if (online && attempt > 0) {
      // The failure was probably the network; waiting out the backoff helps nobody now.
      void request('retry').catch(noop)
      return
    }
    // A retry that came due while timers slept runs now (and starts a request).
    retryTimer?.check()
    if (inflight) return
    if (attempt === 0 && needsRefresh()) {
      void request('scheduled').catch(noop)
      return
    }
    // Otherwise re-arm from the clocks, and refresh the status in case the token expired unseen.
    clearDeadline()
    arm()
    update()
  }

  let stopWatching: (() => void) | undefined

  function listenForWakeUps(on: boolean): void {
    stopWatching?.()
    stopWatching = on ? watchLifecycle(platform, { wake: () => wake(false), online: () => wake(true) }) : undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  async function getToken(opts: { forceRefresh?: boolean; reason?: TokenFetchReason; newerThan?: number } = {}): Promise<string> {
    if (disposed) throw disposedError()
    if (terminalError) throw terminalError
    // A stream server refused the current token: nobody gets it again. Only the first caller to
    // name this version brings news; the others find it rejected already.
    const rejection = opts.newerThan !== undefined && held !== undefined && opts.newerThan >= held.version && held.version > rejectedVersion
    if (rejection) {
      rejectedVersion = held!.version
      // A request in flight was refreshing a token that nobody may use now: 'loading'.
      if (inflight) update()
    }
    if (opts.forceRefresh) return request(opts.reason ?? 'forced')
    const current = usable()
    if (current) {
      if (!needsRefresh()) return current.token
      // Inside the refresh lead: the token still works, so a pending background retry is not
      // hurried, and a failed refresh falls back to it.
      if (!inflight && retryTimer) return current.token
      try {
        return await request(opts.reason ?? 'scheduled')
      } catch (error) {
        const fallback = !disposed && !terminalError ? usable() : undefined
        if (fallback) return fallback.token
        throw error
      }
    }
    // A rejection is news the backoff did not know of: refresh now (or share the request in flight).
    if (rejection) return request(opts.reason ?? 'unauthorized')
    // No usable token. With a background retry pending, report the failure now rather than
    // stacking callers' requests on top of the manager's own backoff.
    if (!inflight && retryTimer && lastError) throw lastError
    return request(opts.reason ?? (lastError ? 'retry' : version === 0 ? 'initial' : 'scheduled'))
  }

  function refresh(): Promise<string> {
    if (disposed) return Promise.reject(disposedError())
    if (terminalError) {
      // An explicit refresh is the only way out of the terminal state: try exactly once more.
      terminalError = undefined
    }
    return request('forced')
  }

  function subscribe(listener: () => void): () => void {
    return disposed ? noop : subscribers.subscribe(listener)
  }

  function dispose(): void {
    if (disposed) return
    disposed = true
    const pending = inflight
    inflight = undefined
    held = undefined
    clearRetry()
    clearDeadline()
    listenForWakeUps(false)
    pending?.clearTimeout()
    pending?.controller.abort()
    pending?.reject(disposedError())
    update()
    subscribers.clear()
  }

  return {
    getToken,
    refresh,
    getSnapshot,
    subscribe,
    dispose,
    get version() {
      return version
    },
  }
}

/**
 * Lifetime in ms, in order of trust: `expiresIn` (seconds, server-relative), the JWT's `exp - iat`
 * (server-relative), `expiresAt` or a JWT `exp` alone (both need the client's wall clock), else the
 * default.
 */
function measureLifetime({ token, expiresIn, expiresAt }: ReadTokenResponse, wallNow: number, defaultLifetime: number): number {
  if (expiresIn !== undefined) {
    // Dev-only, written inline so bundlers drop the whole check in production; `typeof process`
    // keeps an unbundled browser (no `process`) quiet instead of throwing.
    if (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production') {
      // The classic mistake is milliseconds; a JWT's own claims tell, otherwise only absurd values do.
      const jwt = readJwtTimes(token)
      const jwtSeconds = jwt?.iat !== undefined && jwt.exp !== undefined && jwt.exp > jwt.iat ? jwt.exp - jwt.iat : undefined
      if (jwtSeconds !== undefined ? expiresIn >= jwtSeconds * 500 : expiresIn > 365 * 86_400) {
        console.warn(
          `use-event-stream: fetchToken returned expiresIn=${expiresIn}, which looks like milliseconds. expiresIn is in seconds (OAuth expires_in): divide by 1000 on the server or in fetchToken.`,
        )
      }
    }
    return expiresIn * 1000
  }
  const jwt = readJwtTimes(token)
  if (jwt?.iat !== undefined && jwt.exp !== undefined && jwt.exp > jwt.iat) return (jwt.exp - jwt.iat) * 1000
  if (expiresAt !== undefined && typeof process !== 'undefined' && process.env.NODE_ENV !== 'production' && expiresAt < 1e11) {
    console.warn('use-event-stream: fetchToken returned expiresAt that looks like seconds since the epoch; expiresAt is in milliseconds (or pass a Date, or expiresIn in seconds).')
  }
  const until = expiresAt ?? (jwt?.exp !== undefined ? jwt.exp * 1000 : undefined)
  if (until !== undefined) return Math.max(MIN_WALL_CLOCK_LIFETIME, until - wallNow)
  return defaultLifetime
}

function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error
  const status = (error as { status?: unknown } | null)?.status
  const numericStatus = typeof status === 'number' ? status : undefined
  // Messages are ours: the original error (whose text we do not control) is only kept as `cause`.
  if (isUnauthorized(error)) {
    return new TokenError('unauthorized', `The token endpoint refused to issue a token (HTTP ${numericStatus ?? 401})`, {
      status: numericStatus,
      cause: error,
    })
  }
  if (numericStatus !== undefined) {
    return new TokenError('http', `The token request failed with HTTP ${numericStatus}`, { status: numericStatus, cause: error })
  }
  const name = error instanceof Error ? error.name : typeof error
  return new TokenError('network', `The token request failed (${name})`, { cause: error })
}

function disposedError(): TokenError {
  return new TokenError('disposed', 'The token manager was disposed')
}

function noop(): void {}
