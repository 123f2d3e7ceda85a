import { IDLE_TOKEN_SNAPSHOT, TokenError, type TokenErrorKind } from 'use-event-stream/core'
import type { TokenFetchReason, TokenManager, TokenSnapshot, TokenStatus } from 'use-event-stream/core'
// Bundled into the testing entry: a stateless function, so a copy is the same policy.
import { createListeners } from '../core/subscribable'

/** Options of {@link createMockTokens}. Durations are in milliseconds. */
export interface MockTokensOptions {
  /**
   * `'valid'` (default): a token exists from the start and `getToken()` resolves at once.
   * `'pending'`: no token yet (status `'loading'` once asked); `getToken()` waits until the test
   * calls `rotate()` (or rejects on `fail()`/`unauthorize()`), so "waiting for a token" UIs can be tested.
   */
  initial?: 'valid' | 'pending'
  /** Lifetime given to every new token, used for `expiresAt`/`refreshAt`. Default `60000`. */
  lifetime?: number
  /** Wall clock for `expiresAt`/`refreshAt`. Default `Date.now` (so fake timers move it too). */
  now?: () => number
  /**
   * Whether a request that needs a new token issues one at once, as the real manager's token
   * endpoint would answer: `refresh()`, `getToken({ forceRefresh: true })`, and
   * `getToken({ newerThan })` naming the current version. `false` makes `refresh()` and
   * `forceRefresh` return the current token while it is usable, and otherwise makes every such
   * request wait (status `'loading'`) until the test answers it with `rotate()`, `fail()` or
   * `unauthorize()`, so a test can script how the refresh goes. Default `true`.
   */
  refreshOnForce?: boolean
}

/** One request made to the mock by a stream or a component. */
export interface MockTokenRequest {
  /** `'refresh'` for `refresh()`, else `'getToken'`. */
  method: 'getToken' | 'refresh'
  forceRefresh: boolean
  reason: TokenFetchReason | undefined
  /** The version a stream said its server rejected (`getToken({ newerThan })`). */
  newerThan: number | undefined
}

/**
 * A `TokenManager` whose tokens, expiry and status a test sets by hand. It has no timers and makes
 * no requests: nothing happens unless the test says so. Tokens are `mock-token-1`, `mock-token-2`,
 * ...; like the real manager, the snapshot never contains them.
 *
 * What it shares with the real manager (the same tests pass against both): `version` and
 * `fetchCount` count the tokens issued; `getToken({ newerThan: v })` with `v` at or above the
 * current version drops the current token for every caller and asks for a new one (one per
 * rejected version), an older `v` gets the current token; `refresh()` leaves the `'unauthorized'`
 * state and tries once more; snapshots have the same fields and statuses; a throwing `subscribe`
 * listener is reported through `reportError` and the others are still called. It has no
 * background retries, so after a failure `refreshAt` is `undefined`.
 */
export interface MockTokens extends TokenManager {
  /**
   * Issues a new token (status `'valid'`, `version` + 1, `fetchCount` + 1) and notifies subscribers:
   * running streams rotate to it per their `rotation` policy, and `getToken()` calls that were waiting
   * resolve with it. Returns the new token, for `MockConnection.tokenEquals`.
   */
  rotate(options?: { lifetime?: number }): string
  /**
   * Moves the current token's expiry: a wall-clock time (ms since the epoch) or `{ in: ms }` from
   * now. `refreshAt` follows. Only the snapshot changes: streams keep their connection, as they do
   * with the real manager until it refreshes.
   */
  setExpiry(expiry: number | { in: number }): void
  /**
   * A failed token request. While the token has not expired (per `expiresAt`) and was not rejected
   * (`newerThan`) the status stays `'valid'` with `error` set, and `getToken()` still resolves, as
   * the real manager keeps using a still-valid token; otherwise the status is `'error'`, waiting
   * requests and later `getToken()` calls reject with the error (`expiresAt` and `lifetime` stay
   * those of the last token, as in the real manager), until a forced request or `rotate()`.
   * Default kind `'network'`.
   */
  fail(kind?: Exclude<TokenErrorKind, 'unauthorized' | 'disposed'>, options?: { status?: number; message?: string }): TokenError
  /**
   * The token endpoint refused the user (401): status `'unauthorized'`, the token is dropped,
   * `getToken()` rejects with `TokenError` kind `'unauthorized'`, and running streams end `failed`
   * with `kind: 'unauthorized'`. `refresh()` (the user signing in again) tries once more, as the
   * real manager does; `rotate()` recovers at once.
   */
  unauthorize(status?: 401 | 403): void
  /**
   * Sets the reported status (e.g. `'refreshing'` to show a spinner) without changing the token.
   * Prefer `rotate`, `fail` and `unauthorize`, which keep `getToken()` consistent with the status.
   */
  setStatus(status: TokenStatus): void
  /** The current token, `undefined` before the first or after `unauthorize()`. */
  readonly token: string | undefined
  /** Every `getToken()`/`refresh()` call, oldest first. */
  readonly requests: readonly MockTokenRequest[]
  /** Number of `subscribe()` listeners currently attached (a running stream holds one). */
  readonly subscriberCount: number
  /** True after `dispose()`. */
  readonly disposed: boolean
}

interface Waiter {
  resolve(token: string): void
  reject(error: TokenError): void
}

/** Same default lead as the real manager: 20% of the lifetime, 1 s to 5 min, at most half. */
function refreshLead(lifetime: number): number {
  return Math.min(lifetime / 2, Math.min(300_000, Math.max(1_000, lifetime * 0.2)))
}

/**
 * Creates a hand-driven token manager for tests: pass it to `<TokenProvider tokens={...}>` or as
 * `tokens` to `useEventStream`/`createEventStream`, then `rotate()`, `setExpiry()`, `fail()` or
 * `unauthorize()` it.
 *
 * @example
 * const tokens = createMockTokens({ lifetime: 20_000 })
 * const transport = createMockTransport()
 * const stream = createEventStream({ url: '/stream', tokens, transport })
 * stream.connect()
 * await Promise.resolve() // getToken() resolves on a microtask
 * transport.latest!.open()
 * const next = tokens.rotate() // overlap rotation: a second connection opens with the new token
 * transport.latest!.tokenEquals(next) // true
 */
export function createMockTokens(options: MockTokensOptions = {}): MockTokens {
  const now = options.now ?? (() => Date.now())
  const defaultLifetime = options.lifetime ?? 60_000
  const refreshOnForce = options.refreshOnForce ?? true
  const listeners = createListeners()
  const waiters = new Set<Waiter>()
  const requests: MockTokenRequest[] = []
  let version = 0
  /** Tokens of this version and older were rejected by a stream server (`getToken({ newerThan })`). */
  let rejectedVersion = 0
  let token: string | undefined
  let disposed = false
  let failure: TokenError | undefined
  let snapshot: TokenSnapshot = IDLE_TOKEN_SNAPSHOT

  function set(patch: Partial<TokenSnapshot>): void {
    const next = { ...snapshot, ...patch }
    const changed = (Object.keys(next) as Array<keyof TokenSnapshot>).some((key) => !Object.is(next[key], snapshot[key]))
    if (!changed) return
    // A new object only on change, so useSyncExternalStore consumers re-render only when needed.
    snapshot = next
    listeners.notify()
  }

  function settleWaiters(outcome: { token: string } | { error: TokenError }): void {
    const pending = Array.from(waiters)
    waiters.clear()
    for (const waiter of pending) {
      if ('token' in outcome) waiter.resolve(outcome.token)
      else waiter.reject(outcome.error)
    }
  }

  function issue(lifetime = defaultLifetime): string {
    if (disposed) throw new TokenError('disposed', 'createMockTokens: rotate() after dispose()')
    version++
    token = `mock-token-${version}`
    failure = undefined
    const expiresAt = now() + lifetime
    set({ status: 'valid', expiresAt, lifetime, refreshAt: expiresAt - refreshLead(lifetime), error: undefined, fetchCount: version })
    settleWaiters({ token })
    return token
  }

  function getToken(opts: { forceRefresh?: boolean; reason?: TokenFetchReason; newerThan?: number } = {}, method: MockTokenRequest['method'] = 'getToken'): Promise<string> {
    requests.push({ method, forceRefresh: opts.forceRefresh ?? false, reason: opts.reason, newerThan: opts.newerThan })
    if (disposed) return Promise.reject(new TokenError('disposed', 'The token manager was disposed'))
    // As the real manager: only refresh() leaves the terminal state, and it tries once more.
    const signingIn = method === 'refresh' && snapshot.status === 'unauthorized'
    if (snapshot.status === 'unauthorized' && !signingIn) {
      return Promise.reject(failure?.kind === 'unauthorized' ? failure : new TokenError('unauthorized', 'Not authorized to obtain a stream token (mock)', { status: 401 }))
    }
    // A stream server refused the current token: nobody gets it again (the first caller to name
    // this version asks for a new one; the others find it rejected).
    const rejection = opts.newerThan !== undefined && token !== undefined && opts.newerThan >= version && version > rejectedVersion
    if (rejection) rejectedVersion = version
    const usable = token !== undefined && version > rejectedVersion && snapshot.status !== 'error'
    const forced = method === 'refresh' || opts.forceRefresh === true || rejection
    if (forced && refreshOnForce) return Promise.resolve(issue(snapshot.lifetime ?? defaultLifetime))
    if (usable) return Promise.resolve(token!)
    // With no background retry to wait for, an unforced call reports the last failure at once.
    if (!forced && failure && snapshot.status === 'error') return Promise.reject(failure)
    // A request in flight, waiting for the test's rotate(), fail() or unauthorize().
    if (signingIn) failure = undefined
    set({ status: 'loading', refreshAt: undefined, error: signingIn ? undefined : snapshot.error })
    return new Promise<string>((resolve, reject) => {
      waiters.add({ resolve, reject })
    })
  }

  if (options.initial !== 'pending') issue()

  return {
    getToken: (opts) => getToken(opts),
    refresh: () => getToken({ reason: 'forced' }, 'refresh'),
    getSnapshot: () => snapshot,
    subscribe: listeners.subscribe,
    dispose() {
      if (disposed) return
      disposed = true
      settleWaiters({ error: new TokenError('disposed', 'The token manager was disposed') })
      set({ status: 'disposed' })
      listeners.clear()
    },
    get version() {
      return version
    },
    rotate: (opts = {}) => issue(opts.lifetime),
    setExpiry(expiry) {
      const expiresAt = typeof expiry === 'number' ? expiry : now() + expiry.in
      const lifetime = snapshot.lifetime ?? defaultLifetime
      set({ expiresAt, refreshAt: expiresAt - refreshLead(lifetime) })
    },
    fail(kind = 'network', extra = {}) {
      const error = new TokenError(kind, extra.message ?? `Mock token request failed (${kind}${extra.status ? ` HTTP ${extra.status}` : ''})`, { status: extra.status })
      const stillValid = token !== undefined && version > rejectedVersion && snapshot.expiresAt !== undefined && snapshot.expiresAt > now()
      if (stillValid) {
        set({ status: 'valid', error })
      } else {
        failure = error
        token = undefined
        set({ status: 'error', error, refreshAt: undefined })
        settleWaiters({ error })
      }
      return error
    },
    unauthorize(status = 401) {
      const error = new TokenError('unauthorized', `The token endpoint failed (HTTP ${status}) (mock)`, { status })
      token = undefined
      failure = error
      set({ status: 'unauthorized', error, expiresAt: undefined, refreshAt: undefined, lifetime: undefined })
      settleWaiters({ error })
    },
    setStatus(status) {
      set({ status })
    },
    get token() {
      return token
    },
    requests,
    get subscriberCount() {
      return listeners.size
    },
    get disposed() {
      return disposed
    },
  }
}
