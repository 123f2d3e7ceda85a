import { backoffDelay, type BackoffOptions } from './backoff'
import { TokenError } from './errors'
import { readJwtTimes } from './jwt'
import { readTokenResponse, tokenRequestError, type ReadTokenResponse } from './tokenResponse'
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
 * A moment on both clocks. How long ago it was is the larger of the two readings (see `age`): the
 * monotonic clock stops while a machine sleeps, the wall clock can be set back.
 */
interface Instant {
  mono: number
  wall: number
}

/** The current token, and when it arrived: it is refreshed at `refreshAfter` and expires at `lifetime`. */
interface HeldToken extends Instant {
  token: string
  /** The manager's `version` when this token arrived. */
  version: number
  lifetime: number
  /** `lifetime` minus the refresh lead. */
  refreshAfter: number
}

/** A background retry after a failure, due `delay` ms after it was scheduled. */
interface PendingRetry extends Instant {
  delay: number
}

/** The one request in flight, shared by every caller. */
interface PendingRequest {
  promise: Promise<string>
  /** Aborts `fetchToken`'s signal and fails the request with `error` (its timeout, or `dispose()`). */
  abandon(error: TokenError): void
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
  const defaultLifetime = options.defaultLifetime ?? DEFAULT_TOKEN_LIFETIME
  const retryOptions: BackoffOptions = { ...DEFAULT_RETRY, ...options.retry }
  const requestTimeout = options.timeout ?? 15_000

  // The state. The status is never stored: `update()` derives it from these.
  /** The last token received; dropped by a 401/403 and by `dispose()`. */
  let held: HeldToken | undefined
  let pending: PendingRequest | undefined
  /** Tokens received so far; the current token's version. */
  let version = 0
  /** Tokens of this version and older were rejected by a stream server (`getToken({ newerThan })`). */
  let rejectedVersion = 0
  let disposed = false
  /** Set by a 401/403 (terminal); cleared only by `refresh()`. */
  let terminalError: TokenError | undefined
  /** The last non-terminal failure, and how many in a row (the backoff's attempt); reset by a token. */
  let lastError: TokenError | undefined
  let failures = 0
  /** Scheduled while subscribed after a failure; dropped when a request starts or nobody listens. */
  let retry: PendingRetry | undefined
  /** A read of the snapshot found a request due while subscribed; it starts on a microtask. */
  let wakeQueued = false
  // Timers only wake the manager up to look at the clocks (`runDue`); `arm()` replaces them.
  let retryTimer: Deadline | undefined
  let tokenTimer: Deadline | undefined
  let stopWatching: (() => void) | undefined
  let snapshot: TokenSnapshot = IDLE_TOKEN_SNAPSHOT

  const subscribers = createListeners({
    first() {
      stopWatching = watchLifecycle(platform, { wake: () => wake(false), online: () => wake(true) })
      // Coming back after a while without subscribers: the token may be due already.
      runDue()
    },
    last() {
      stopWatching?.()
      arm()
      update()
    },
  })

  // ---------------------------------------------------------------------------------------------
  // Clocks

  function instant(): Instant {
    return { mono: platform.monotonic(), wall: platform.now() }
  }

  /** Time since `since`, by whichever clock says more (a sleep stops one, a user sets back the other). */
  function age(since: Instant): number {
    return Math.max(platform.monotonic() - since.mono, platform.now() - since.wall)
  }

  /** The held token, when it may still be handed out: not rejected, not expired by either clock. */
  function usable(): HeldToken | undefined {
    return held && held.version > rejectedVersion && age(held) < held.lifetime ? held : undefined
  }

  /** Whether the held token should be replaced now (past its refresh point, or rejected). */
  function needsRefresh(): boolean {
    return held !== undefined && (held.version <= rejectedVersion || age(held) >= held.refreshAfter)
  }

  /** Whether a background request may start now: not disposed, not refused (401/403), none in flight. */
  function canStart(): boolean {
    return !disposed && !terminalError && !pending
  }

  // ---------------------------------------------------------------------------------------------
  // Background work: only while subscribed. Timers, wake-up events and snapshot reads all end in
  // `runDue`, which reads the clocks, so a timer that slept through its deadline loses nothing.

  /** The background request the clocks say is due now: a retry whose time came, or a refresh. */
  function dueRequest(): TokenFetchReason | undefined {
    if (!subscribers.size || !canStart()) return undefined
    if (failures) return retry && age(retry) >= retry.delay ? 'retry' : undefined
    return needsRefresh() ? 'scheduled' : undefined
  }

  /** Starts what is due; otherwise re-arms the timers and tells subscribers what the clocks changed (a token that expired). */
  function runDue(): void {
    const reason = dueRequest()
    if (reason) {
      void request(reason)
      return
    }
    arm()
    update()
  }

  /** A wake-up event (see "Sleeping tabs and laptops" above). */
  function wake(online: boolean): void {
    // Back online after a failure, which was probably the network: waiting out the backoff helps nobody.
    if (online && failures && canStart()) void request('retry')
    else runDue()
  }

  /**
   * Replaces the timers with those the state calls for; idempotent. None without subscribers, and
   * none while a request is in flight (its outcome re-arms). After a failure: the retry, and the
   * held token's expiry while it is still valid (only the status changes then). Otherwise: the
   * held token's refresh point.
   */
  function arm(): void {
    retryTimer?.cancel()
    tokenTimer?.cancel()
    if (!subscribers.size || disposed || terminalError) {
      retry = undefined
      return
    }
    if (pending) return
    if (failures) {
      // The endpoint's Retry-After is a floor under the jitter, as for streams.
      retry ??= { ...instant(), delay: backoffDelay(failures, retryOptions, platform.random, lastError?.retryAfter ?? 0) }
      retryTimer = startDeadline(platform, retry.delay - age(retry), runDue)
      const current = usable()
      if (current) tokenTimer = startDeadline(platform, current.lifetime - age(current), runDue)
    } else if (held) {
      tokenTimer = startDeadline(platform, needsRefresh() ? 0 : held.refreshAfter - age(held), runDue)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshot

  function status(valid: boolean, busy: boolean): TokenStatus {
    if (disposed) return 'disposed'
    if (terminalError) return 'unauthorized'
    if (busy) return valid ? 'refreshing' : 'loading'
    if (valid) return 'valid'
    return lastError ? 'error' : 'idle'
  }

  /** Recomputes the snapshot and tells subscribers when it changed (`later`: on a microtask). */
  function update(later = false): void {
    const valid = usable() !== undefined
    const busy = pending !== undefined || wakeQueued
    const next: TokenSnapshot = {
      status: status(valid, busy),
      expiresAt: held && held.wall + held.lifetime,
      lifetime: held?.lifetime,
      refreshAt: retry ? retry.wall + retry.delay : held && valid && !lastError && !busy ? held.wall + held.refreshAfter : undefined,
      error: terminalError ?? lastError,
      fetchCount: version,
    }
    // A new object only on change, so useSyncExternalStore consumers re-render only when needed.
    if (!(Object.keys(next) as Array<keyof TokenSnapshot>).some((key) => next[key] !== snapshot[key])) return
    snapshot = next
    if (later) queueMicrotask(subscribers.notify)
    else subscribers.notify()
  }

  /**
   * The snapshot, re-read from the clocks: timers may have slept through the token's expiry. This
   * runs inside React's render, so what it finds is acted on, and announced, on a microtask.
   */
  function getSnapshot(): TokenSnapshot {
    // Subscribed means "keep a token ready": a request found due is what a wake-up event would
    // have started. The snapshot says so at once ('loading'/'refreshing').
    if (!wakeQueued && dueRequest()) {
      wakeQueued = true
      queueMicrotask(() => {
        wakeQueued = false
        runDue()
      })
    }
    update(true)
    return snapshot
  }

  // ---------------------------------------------------------------------------------------------
  // The request

  function request(reason: TokenFetchReason): Promise<string> {
    if (disposed) return Promise.reject(disposedError())
    if (pending) return pending.promise
    const controller = new AbortController()
    let resolve!: (token: string) => void
    let reject!: (error: TokenError) => void
    const promise = new Promise<string>((res, rej) => {
      resolve = res
      reject = rej
    })
    // Background requests have no caller: their failure is recorded in the snapshot instead.
    promise.catch(noop)
    const self: PendingRequest = {
      promise,
      abandon(error) {
        controller.abort()
        finish(error)
      },
    }
    const timeout = requestTimeout > 0 ? startDeadline(platform, requestTimeout, () => self.abandon(new TokenError('network', `Token request timed out after ${requestTimeout} ms`))) : undefined

    /** The first outcome wins: the answer, a failure, the timeout or `dispose()`. Later ones are ignored. */
    function finish(outcome: HeldToken | TokenError): void {
      if (pending !== self) return
      pending = undefined
      timeout?.cancel()
      if (!(outcome instanceof TokenError)) {
        held = outcome
        version = outcome.version
        failures = 0
        lastError = undefined
      } else if (outcome.kind === 'unauthorized') {
        // Terminal: the server says this user may not stream. Forget the token; only refresh() tries again.
        terminalError = outcome
        held = undefined
        failures = 0
        lastError = undefined
      } else if (!disposed) {
        failures++
        lastError = outcome
      }
      arm()
      update()
      if (outcome instanceof TokenError) reject(outcome)
      else resolve(outcome.token)
    }

    pending = self
    retry = undefined
    arm()
    update()
    // A fetchToken that throws instead of rejecting fails the request the same way.
    new Promise<TokenResponse>((res) => res(fetchToken({ signal: controller.signal, reason }))).then(
      (response) => {
        if (pending === self) finish(interpret(response))
      },
      (error: unknown) => finish(toTokenError(error)),
    )
    return promise
  }

  /** A `fetchToken` result as a held token, its lifetime counted from now; or why it is unusable. */
  function interpret(response: TokenResponse): HeldToken | TokenError {
    // Read the clocks first: the lifetime counts from the response's arrival.
    const arrived = instant()
    try {
      const body = readTokenResponse(response, 'fetchToken')
      const lifetime = measureLifetime(body, arrived.wall, defaultLifetime)
      return { ...arrived, token: body.token, version: version + 1, lifetime, refreshAfter: lifetime - refreshLead(lifetime) }
    } catch (error) {
      return toTokenError(error)
    }
  }

  /** The configured lead (or the default), capped at half the lifetime. */
  function refreshLead(lifetime: number): number {
    const configured = typeof options.refreshLeadTime === 'function' ? options.refreshLeadTime(lifetime) : options.refreshLeadTime
    const lead = configured === undefined || !Number.isFinite(configured) ? defaultRefreshLead(lifetime) : configured
    return Math.min(Math.max(0, lead), lifetime / 2)
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  async function getToken({ forceRefresh, reason, newerThan }: { forceRefresh?: boolean; reason?: TokenFetchReason; newerThan?: number } = {}): Promise<string> {
    if (disposed) throw disposedError()
    if (terminalError) throw terminalError
    // A stream server refused the current token: nobody gets it again. Only the first caller to
    // name this version brings news; the others find it rejected already.
    const rejection = newerThan !== undefined && held !== undefined && newerThan >= held.version && held.version > rejectedVersion
    if (rejection) {
      rejectedVersion = held!.version
      // A request in flight was refreshing a token that nobody may use now: 'loading'.
      if (pending) update()
    }
    if (forceRefresh) return request(reason ?? 'forced')
    const current = usable()
    if (current && !needsRefresh()) return current.token
    if (current) {
      // Inside the refresh lead the token still works: a pending background retry is not
      // hurried, and if the refresh fails the token is handed out all the same.
      if (retry) return current.token
      return request(reason ?? 'scheduled').catch((error: unknown) => {
        const fallback = usable()
        if (fallback) return fallback.token
        throw error
      })
    }
    // A rejection is news the backoff did not know of: refresh now (or share the request in flight).
    if (rejection) return request(reason ?? 'unauthorized')
    // No usable token. With a background retry pending, report the failure now rather than
    // stacking callers' requests on top of the manager's own backoff.
    if (retry && lastError) throw lastError
    return request(reason ?? (lastError ? 'retry' : version === 0 ? 'initial' : 'scheduled'))
  }

  function refresh(): Promise<string> {
    if (disposed) return Promise.reject(disposedError())
    // An explicit refresh is the only way out of the terminal state: it tries exactly once more.
    terminalError = undefined
    return request('forced')
  }

  function subscribe(listener: () => void): () => void {
    return disposed ? noop : subscribers.subscribe(listener)
  }

  function dispose(): void {
    if (disposed) return
    disposed = true
    held = undefined
    stopWatching?.()
    pending?.abandon(disposedError())
    arm()
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
  const jwt = readJwtTimes(token)
  const jwtLifetime = jwt?.iat !== undefined && jwt.exp !== undefined && jwt.exp > jwt.iat ? (jwt.exp - jwt.iat) * 1000 : undefined
  const until = expiresAt ?? (jwt?.exp !== undefined ? jwt.exp * 1000 : undefined)
  // Dev-only, written inline so bundlers drop the call (and the function) in production;
  // `typeof process` keeps an unbundled browser (no `process`) quiet instead of throwing.
  if (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production') warnAboutUnits(expiresIn, jwtLifetime, expiresAt)
  if (expiresIn !== undefined) return expiresIn * 1000
  if (jwtLifetime !== undefined) return jwtLifetime
  if (until !== undefined) return Math.max(MIN_WALL_CLOCK_LIFETIME, until - wallNow)
  return defaultLifetime
}

/** The classic mistakes: `expiresIn` in milliseconds, `expiresAt` in seconds. Messages never quote the token. */
function warnAboutUnits(expiresIn: number | undefined, jwtLifetime: number | undefined, expiresAt: number | undefined): void {
  // Given in ms, expiresIn comes close to the JWT's own lifetime in ms (in seconds, it is 1000
  // times smaller); without a JWT, only absurd values (over a year) tell.
  if (expiresIn !== undefined && (jwtLifetime !== undefined ? expiresIn >= jwtLifetime / 2 : expiresIn > 365 * 86_400)) {
    console.warn(
      `use-event-stream: fetchToken returned expiresIn=${expiresIn}, which looks like milliseconds. expiresIn is in seconds (OAuth expires_in): divide by 1000 on the server or in fetchToken.`,
    )
  }
  // Only when expiresAt is what the lifetime is measured from.
  if (expiresIn === undefined && jwtLifetime === undefined && expiresAt !== undefined && expiresAt < 1e11) {
    console.warn('use-event-stream: fetchToken returned expiresAt that looks like seconds since the epoch; expiresAt is in milliseconds (or pass a Date, or expiresIn in seconds).')
  }
}

/** Whatever `fetchToken` failed with, as a `TokenError` (its own `TokenError`s pass through). */
function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error
  const status = (error as { status?: unknown } | null)?.status
  return tokenRequestError('The token request', { status: typeof status === 'number' ? status : undefined, cause: error })
}

function disposedError(): TokenError {
  return new TokenError('disposed', 'The token manager was disposed')
}

function noop(): void {}
