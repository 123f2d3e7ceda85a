import { TokenError, type TokenErrorKind } from 'use-event-stream/core'
import type { TokenFetchReason, TokenManager, TokenSnapshot, TokenStatus } from 'use-event-stream/core'

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
   * Whether `getToken({ forceRefresh: true })` and `refresh()` issue a new token, as the real manager
   * does after a 401. `false` makes them return the current token (or wait, when there is none).
   * Default `true`.
   */
  refreshOnForce?: boolean
}

/** One request made to the mock by a stream or a component. */
export interface MockTokenRequest {
  /** `'refresh'` for `refresh()`, else `'getToken'`. */
  method: 'getToken' | 'refresh'
  forceRefresh: boolean
  reason: TokenFetchReason | undefined
}

/**
 * A `TokenManager` whose tokens, expiry and status a test sets by hand. It has no timers and makes
 * no requests: nothing happens unless the test says so. Tokens are `mock-token-1`, `mock-token-2`,
 * ...; like the real manager, the snapshot never contains them.
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
   * A failed token request. While the token has not expired (per `expiresAt`) the status stays
   * `'valid'` with `error` set, and `getToken()` still resolves, as the real manager keeps using a
   * still-valid token; otherwise the status is `'error'` and `getToken()` rejects with the error.
   * Default kind `'network'`.
   */
  fail(kind?: Exclude<TokenErrorKind, 'unauthorized' | 'disposed'>, options?: { status?: number; message?: string }): TokenError
  /**
   * The token endpoint refused the user (401): status `'unauthorized'`, the token is dropped,
   * `getToken()` rejects with `TokenError` kind `'unauthorized'`, and running streams end `failed`
   * with `kind: 'unauthorized'`. `rotate()` recovers.
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
  const listeners = new Set<() => void>()
  const waiters = new Set<Waiter>()
  const requests: MockTokenRequest[] = []
  let version = 0
  let token: string | undefined
  let disposed = false
  let failure: TokenError | undefined
  let snapshot: TokenSnapshot = { status: 'idle', expiresAt: undefined, lifetime: undefined, refreshAt: undefined, error: undefined, fetchCount: 0 }

  function set(patch: Partial<TokenSnapshot>): void {
    const next = { ...snapshot, ...patch }
    const changed = (Object.keys(next) as Array<keyof TokenSnapshot>).some((key) => !Object.is(next[key], snapshot[key]))
    if (!changed) return
    // A new object only on change, so useSyncExternalStore consumers re-render only when needed.
    snapshot = next
    for (const listener of Array.from(listeners)) listener()
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

  function getToken(opts: { forceRefresh?: boolean; reason?: TokenFetchReason } = {}, method: MockTokenRequest['method'] = 'getToken'): Promise<string> {
    requests.push({ method, forceRefresh: opts.forceRefresh ?? false, reason: opts.reason })
    if (disposed) return Promise.reject(new TokenError('disposed', 'The token manager was disposed'))
    if (snapshot.status === 'unauthorized') return Promise.reject(new TokenError('unauthorized', 'Not authorized to obtain a stream token (mock)', { status: 401 }))
    if (opts.forceRefresh && refreshOnForce && token !== undefined) return Promise.resolve(issue(snapshot.lifetime ?? defaultLifetime))
    if (token !== undefined && snapshot.status !== 'error') return Promise.resolve(token)
    if (failure && snapshot.status === 'error') return Promise.reject(failure)
    if (snapshot.status === 'idle') set({ status: 'loading' })
    return new Promise<string>((resolve, reject) => {
      waiters.add({ resolve, reject })
    })
  }

  if (options.initial !== 'pending') issue()

  return {
    getToken: (opts) => getToken(opts),
    refresh: () => getToken({ forceRefresh: true, reason: 'forced' }, 'refresh'),
    getSnapshot: () => snapshot,
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
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
      const stillValid = token !== undefined && snapshot.expiresAt !== undefined && snapshot.expiresAt > now()
      if (stillValid) {
        set({ status: 'valid', error })
      } else {
        failure = error
        token = undefined
        set({ status: 'error', error, expiresAt: undefined, refreshAt: undefined })
        settleWaiters({ error })
      }
      return error
    },
    unauthorize(status = 401) {
      const error = new TokenError('unauthorized', `The token endpoint answered HTTP ${status} (mock)`, { status })
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
