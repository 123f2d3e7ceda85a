// Token manager rules under the virtual clock of test/helpers/fakePlatform.ts: single flight,
// lifetimes, refresh lead, skew, wake-ups, failures and cleanup. The real HTTP path is covered in
// token-manager-server.test.ts (reference server) and token-manager-fetch.test.ts (fetchTokenFrom
// edge cases).
import { describe, expect, it, vi } from 'vitest'
import { mintJwt } from '../helpers/jwt'
import { TokenError, UnauthorizedError, type FetchToken, type TokenFetchReason, type TokenResponse, createTokenManager, type TokenManagerOptions } from 'use-event-stream/core'
import { backoffDelay } from '../../src/core/backoff'
import { MAX_TIMER_DELAY } from '../../src/core/timers'
import { defaultRefreshLead, MIN_WALL_CLOCK_LIFETIME } from '../../src/core/tokenManager'
import { createFakePlatform, flush } from '../helpers/fakePlatform'

const SEC = 1_000
const MIN = 60 * SEC
const DAY = 24 * 60 * MIN
/** setTimeout's limit; longer delays fire at once in browsers. */
/**
 * The virtual clock's wall time at 0 (the monotonic clock starts at 0): a real-looking date, far
 * from 0 so skew arithmetic cannot hide behind small numbers.
 */
const SERVER_EPOCH = Date.UTC(2026, 4, 6, 12, 0, 0)

type Clock = ReturnType<typeof createFakePlatform>

interface Call {
  reason: TokenFetchReason
  signal: AbortSignal
  at: number
  resolve(response: TokenResponse): void
  reject(error: unknown): void
}

/**
 * A fake token endpoint. `respond` answers each call (sync or async); returning `undefined` leaves
 * the call pending for the test to settle by hand through `calls[i]`.
 */
function createEndpoint(clock: { time: number }, respond?: (call: Call, index: number) => TokenResponse | Error | undefined) {
  const calls: Call[] = []
  const fetchToken: FetchToken = ({ signal, reason }) =>
    new Promise<TokenResponse>((resolve, reject) => {
      const call: Call = { reason, signal, at: clock.time, resolve, reject }
      calls.push(call)
      const answer = respond?.(call, calls.length - 1)
      if (answer instanceof Error) reject(answer)
      else if (answer !== undefined) resolve(answer)
    })
  return { fetchToken, calls }
}

function setup(
  respond: ((call: Call, index: number) => TokenResponse | Error | undefined) | undefined,
  extra: Omit<TokenManagerOptions, 'fetchToken' | 'platform'> & { skew?: number; random?: () => number } = {},
) {
  const { skew, random, ...options } = extra
  const clock = createFakePlatform({ epoch: SERVER_EPOCH, skew, random })
  const endpoint = createEndpoint(clock, respond)
  const tokens = createTokenManager({ ...options, fetchToken: endpoint.fetchToken, platform: clock.platform })
  const notifications = { count: 0 }
  return {
    clock,
    endpoint,
    calls: endpoint.calls,
    tokens,
    win: clock.window,
    doc: clock.document,
    notifications,
    subscribe: () => tokens.subscribe(() => notifications.count++),
  }
}

const tokenFor = (i: number) => `SECRET-TOKEN-${i}-9f2c71d0`


/** Advances until the manager has made `n` requests; returns the virtual time of the n-th. */
async function runUntilCalls(clock: Clock, calls: Call[], n: number, limit: number, step = SEC) {
  for (let waited = 0; calls.length < n && waited <= limit; waited += step) await clock.advance(step)
  return calls[n - 1]?.at
}

/* ---------------------------------------------------------------------------------------------- */

describe('single flight and caching', () => {
  it('50 concurrent getToken() calls share one request', async () => {
    const { tokens, calls } = setup(undefined, {})
    const all = Promise.all(Array.from({ length: 50 }, () => tokens.getToken()))
    await flush()
    expect(calls).toHaveLength(1)
    expect(calls[0]!.reason).toBe('initial')
    expect(tokens.getSnapshot().status).toBe('loading')
    calls[0]!.resolve({ token: tokenFor(1), expiresIn: 30 })
    const results = await all
    expect(new Set(results)).toEqual(new Set([tokenFor(1)]))
    expect(calls).toHaveLength(1)
    expect(tokens.version).toBe(1)
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', fetchCount: 1 })
  })

  it('reuses the cached token until its refresh point, then fetches once (lazy without subscribers)', async () => {
    let n = 0
    const { tokens, calls, clock } = setup(() => ({ token: tokenFor(++n), expiresIn: 30 }))
    expect(await tokens.getToken()).toBe(tokenFor(1))
    await clock.advance(23 * SEC)
    for (let i = 0; i < 5; i++) expect(await tokens.getToken()).toBe(tokenFor(1))
    expect(calls).toHaveLength(1)
    // No subscriber: nothing happens in the background even past the refresh point.
    await clock.advance(60 * SEC)
    expect(calls).toHaveLength(1)
    expect(clock.pendingTimers()).toBe(0)
    // The token has expired by now; getToken fetches a new one.
    expect(await tokens.getToken()).toBe(tokenFor(2))
    expect(calls).toHaveLength(2)
    expect(calls[1]!.reason).toBe('scheduled')
    expect(tokens.version).toBe(2)
  })

  it('inside the refresh lead getToken waits for the refresh, and falls back to the still-valid token if it fails', async () => {
    const { tokens, calls, clock } = setup((_, i) => (i === 0 ? { token: tokenFor(1), expiresIn: 30 } : undefined))
    await tokens.getToken()
    await clock.advance(25 * SEC) // refresh point is 24 s
    const waiting = tokens.getToken()
    await flush()
    expect(calls).toHaveLength(2)
    expect(tokens.getSnapshot().status).toBe('refreshing')
    calls[1]!.reject(Object.assign(new Error('Bad Gateway'), { status: 502 }))
    expect(await waiting).toBe(tokenFor(1))
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', error: { kind: 'http', status: 502 } })
  })

  it('forceRefresh fetches a new token even when the cached one is fresh', async () => {
    let n = 0
    const { tokens, calls } = setup(() => ({ token: tokenFor(++n), expiresIn: 30 }))
    await tokens.getToken()
    expect(await tokens.getToken({ forceRefresh: true })).toBe(tokenFor(2))
    expect(calls.map((c) => c.reason)).toEqual(['initial', 'forced'])
    expect(await tokens.refresh()).toBe(tokenFor(3))
    expect(tokens.version).toBe(3)
  })
})

describe('lifetime', () => {
  it('expiresIn is in seconds', async () => {
    const { tokens, clock } = setup(() => ({ token: tokenFor(1), expiresIn: 30 }))
    await clock.advance(7 * SEC)
    await tokens.getToken()
    const snap = tokens.getSnapshot()
    expect(snap.lifetime).toBe(30 * SEC)
    expect(snap.expiresAt).toBe(clock.platform.now() + 30 * SEC)
    expect(snap.refreshAt).toBe(clock.platform.now() + 24 * SEC)
  })

  it("a bare JWT's lifetime is exp - iat, counted from the response's arrival", async () => {
    const jwt = await mintJwt(Math.floor(SERVER_EPOCH / 1000) - 3600, 120) // issued long ago by the client's reckoning
    const { tokens, clock } = setup(() => jwt)
    await clock.advance(5 * SEC)
    expect(await tokens.getToken()).toBe(jwt)
    expect(tokens.getSnapshot().lifetime).toBe(120 * SEC)
    expect(tokens.getSnapshot().expiresAt).toBe(clock.platform.now() + 120 * SEC)
  })

  it('expiresIn wins over the JWT claims', async () => {
    const jwt = await mintJwt(Math.floor(SERVER_EPOCH / 1000), 120)
    const { tokens } = setup(() => ({ token: jwt, expiresIn: 45 }))
    await tokens.getToken()
    expect(tokens.getSnapshot().lifetime).toBe(45 * SEC)
  })

  it('expiresAt (ms or Date) is read against the wall clock, and clamped when it looks already past', async () => {
    const cases: Array<[TokenResponse, number]> = [
      [{ token: tokenFor(1), expiresAt: SERVER_EPOCH + 90 * SEC }, 90 * SEC],
      [{ token: tokenFor(1), expiresAt: new Date(SERVER_EPOCH + 40 * SEC) }, 40 * SEC],
      [{ token: tokenFor(1), expiresAt: SERVER_EPOCH - 10 * MIN }, MIN_WALL_CLOCK_LIFETIME],
    ]
    for (const [response, lifetime] of cases) {
      const { tokens } = setup(() => response)
      await tokens.getToken()
      expect(tokens.getSnapshot().lifetime).toBe(lifetime)
    }
  })

  it('warns in development when expiresIn looks like milliseconds', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const jwt = await mintJwt(Math.floor(SERVER_EPOCH / 1000), 30)
      const ok = setup(() => ({ token: jwt, expiresIn: 30 }))
      await ok.tokens.getToken()
      expect(warn).not.toHaveBeenCalled()
      const wrong = setup(() => ({ token: jwt, expiresIn: 30_000 }))
      await wrong.tokens.getToken()
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]![0])).toMatch(/expiresIn is in seconds/)
      expect(String(warn.mock.calls[0]![0])).not.toContain(jwt)
    } finally {
      warn.mockRestore()
    }
  })

  it('an opaque token without expiry uses defaultLifetime', async () => {
    const a = setup(() => 'opaque-SECRET')
    await a.tokens.getToken()
    expect(a.tokens.getSnapshot().lifetime).toBe(60 * SEC)
    const b = setup(() => ({ token: 'opaque-SECRET' }), { defaultLifetime: 15 * SEC })
    await b.tokens.getToken()
    expect(b.tokens.getSnapshot().lifetime).toBe(15 * SEC)
  })

  it('rejects a response without a token or with a nonsensical expiresIn as invalid-response', async () => {
    for (const response of [{ token: '' }, { token: tokenFor(1), expiresIn: -5 }, { token: tokenFor(1), expiresIn: Number.NaN }, {} as TokenResponse]) {
      const { tokens } = setup(() => response)
      const error = await tokens.getToken().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TokenError)
      expect((error as TokenError).kind).toBe('invalid-response')
    }
  })

  it.each([
    ['client clock 10 min ahead', 10 * MIN],
    ['client clock 10 min behind', -10 * MIN],
    ['client clock right', 0],
  ])('%s: a JWT minted with the server clock refreshes at the same moment', async (_, skew) => {
    // The server mints with its own (true) clock; the client's wall clock is off by `skew`.
    const iat = Math.floor(SERVER_EPOCH / 1000)
    const jwts = await Promise.all([mintJwt(iat, 60), mintJwt(iat + 48, 60)])
    const { tokens, calls, clock, subscribe } = setup((_, i) => jwts[i] ?? undefined, { skew })
    subscribe()
    await tokens.getToken()
    // A naive `exp * 1000 - Date.now()` would be off by exactly the skew.
    expect(tokens.getSnapshot().lifetime).toBe(60 * SEC)
    expect(tokens.getSnapshot().expiresAt).toBe(clock.platform.now() + 60 * SEC)
    await clock.advance(48 * SEC - 1)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    expect(calls).toHaveLength(2)
    expect(calls[1]!.at).toBe(48 * SEC)
  })
})

describe('refresh lead', () => {
  it('default lead scales with the lifetime', () => {
    expect(defaultRefreshLead(30 * SEC)).toBe(6 * SEC)
    expect(defaultRefreshLead(60 * MIN)).toBe(5 * MIN)
    expect(defaultRefreshLead(2 * SEC)).toBe(1 * SEC)
  })

  it.each([
    // lifetime (s), expected refresh time
    [30, 24 * SEC],
    [3600, 55 * MIN],
    [2, 1 * SEC],
  ])('a %i s token is refreshed before it expires, not absurdly early', async (seconds, refreshTime) => {
    let n = 0
    const { tokens, calls, clock, subscribe } = setup(() => ({ token: tokenFor(++n), expiresIn: seconds }))
    subscribe()
    await tokens.getToken()
    await clock.advance(refreshTime - 1)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    expect(calls).toHaveLength(2)
    expect(calls[1]!.reason).toBe('scheduled')
    expect(calls[1]!.at).toBeLessThan(seconds * SEC)
    expect(calls[1]!.at).toBeGreaterThanOrEqual(seconds * SEC * 0.5)
    // And the cycle continues from the new token's arrival.
    await clock.advance(refreshTime)
    expect(calls).toHaveLength(3)
    expect(tokens.version).toBe(3)
  })

  it('honours a custom lead (number or function), capped at half the lifetime', async () => {
    const fixed = setup(() => ({ token: tokenFor(1), expiresIn: 30 }), { refreshLeadTime: 10 * SEC })
    fixed.subscribe()
    await fixed.tokens.getToken()
    expect(await runUntilCalls(fixed.clock, fixed.calls, 2, 60 * SEC, 500)).toBe(20 * SEC)

    const fn = setup(() => ({ token: tokenFor(1), expiresIn: 100 }), { refreshLeadTime: (lifetime) => lifetime * 0.9 })
    fn.subscribe()
    await fn.tokens.getToken()
    expect(await runUntilCalls(fn.clock, fn.calls, 2, 200 * SEC, 500)).toBe(50 * SEC)
  })

  it('a 60-day token never schedules a timer longer than setTimeout allows, and still refreshes on time', async () => {
    const { tokens, calls, clock, subscribe } = setup(() => ({ token: tokenFor(1), expiresIn: 60 * 24 * 3600 }))
    subscribe()
    await tokens.getToken()
    const refreshAt = 60 * DAY - 5 * MIN
    await clock.advance(refreshAt - 1)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    expect(calls).toHaveLength(2)
    expect(clock.longestDelay).toBeGreaterThan(0)
    expect(clock.longestDelay).toBeLessThanOrEqual(MAX_TIMER_DELAY)
  })
})

describe('wake-ups', () => {
  it.each([
    ['document', 'visibilitychange'],
    ['window', 'focus'],
    ['window', 'online'],
    ['window', 'pageshow'],
  ] as const)('%s %s refreshes a token whose refresh point passed while timers were asleep', async (where, type) => {
    let n = 0
    const ctx = setup(() => ({ token: tokenFor(++n), expiresIn: 30 }))
    ctx.subscribe()
    await ctx.tokens.getToken()
    ctx.clock.stall(10 * SEC) // not yet due: a wake-up must not refresh early
    ;(where === 'window' ? ctx.win : ctx.doc).dispatch(type)
    await flush()
    expect(ctx.calls).toHaveLength(1)
    ctx.clock.stall(20 * SEC) // 30 s: past the refresh point, the timer has not fired
    ;(where === 'window' ? ctx.win : ctx.doc).dispatch(type)
    await flush()
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.calls[1]!.at).toBe(30 * SEC)
    expect(await ctx.tokens.getToken()).toBe(tokenFor(2))
  })

  it('a hidden document does not trigger a refresh', async () => {
    const ctx = setup(() => ({ token: tokenFor(1), expiresIn: 30 }))
    ctx.subscribe()
    await ctx.tokens.getToken()
    ctx.clock.stall(40 * SEC)
    ctx.clock.setHidden(true)
    await flush()
    expect(ctx.calls).toHaveLength(1)
  })

  it('listens only while subscribed, and a returning subscriber refreshes an overdue token', async () => {
    let n = 0
    const ctx = setup(() => ({ token: tokenFor(++n), expiresIn: 30 }))
    expect(ctx.win.count() + ctx.doc.count()).toBe(0)
    const off = ctx.subscribe()
    expect(ctx.win.count()).toBe(3)
    expect(ctx.doc.count()).toBe(1)
    await ctx.tokens.getToken()
    expect(ctx.clock.pendingTimers()).toBe(1)
    off()
    expect(ctx.win.count() + ctx.doc.count()).toBe(0)
    expect(ctx.clock.pendingTimers()).toBe(0)
    await ctx.clock.advance(40 * SEC)
    expect(ctx.calls).toHaveLength(1)
    ctx.subscribe()
    await flush()
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.calls[1]!.reason).toBe('scheduled')
  })
})

describe('failures', () => {
  it.each([
    ['status 401', () => Object.assign(new Error('Unauthorized'), { status: 401 }), 401],
    ['status 403', () => Object.assign(new Error('Forbidden'), { status: 403 }), 403],
    ['UnauthorizedError', () => new UnauthorizedError(), 401],
  ])('%s is terminal: one request, no retry, getToken rejects until refresh()', async (_, makeError, status) => {
    const ctx = setup((_, i) => (i === 0 ? makeError() : { token: tokenFor(i), expiresIn: 30 }))
    ctx.subscribe()
    const error = await ctx.tokens.getToken().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TokenError)
    expect(error).toMatchObject({ kind: 'unauthorized', status })
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'unauthorized', error: { kind: 'unauthorized' } })
    await ctx.clock.advance(10 * MIN)
    ctx.win.dispatch('online')
    ctx.win.dispatch('focus')
    await expect(ctx.tokens.getToken()).rejects.toMatchObject({ kind: 'unauthorized' })
    await expect(ctx.tokens.getToken({ forceRefresh: true, reason: 'unauthorized' })).rejects.toMatchObject({ kind: 'unauthorized' })
    expect(ctx.calls).toHaveLength(1)
    expect(ctx.clock.pendingTimers()).toBe(0)
    // An explicit refresh tries exactly once more.
    expect(await ctx.tokens.refresh()).toBe(tokenFor(1))
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'valid', error: undefined })
  })

  it('a 401 on a scheduled refresh drops the token and stops', async () => {
    const ctx = setup((_, i) => (i === 0 ? { token: tokenFor(1), expiresIn: 30 } : new UnauthorizedError('revoked', 403)))
    ctx.subscribe()
    await ctx.tokens.getToken()
    await ctx.clock.advance(24 * SEC)
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'unauthorized', expiresAt: undefined })
    await expect(ctx.tokens.getToken()).rejects.toMatchObject({ kind: 'unauthorized', status: 403 })
    await ctx.clock.advance(10 * MIN)
    expect(ctx.calls).toHaveLength(2)
  })

  it('a transient 500 is retried with jittered backoff while the old token stays in use, then recovers', async () => {
    const randoms = [0.3, 0.9, 0.6]
    let r = 0
    const random = () => randoms[r++ % randoms.length]!
    const retry = { initialDelay: 1_000, maxDelay: 30_000, factor: 2 }
    const ctx = setup(
      (_, i) => (i === 0 ? { token: tokenFor(1), expiresIn: 30 } : i <= 3 ? Object.assign(new Error('Internal'), { status: 500 }) : { token: tokenFor(2), expiresIn: 30 }),
      { random, retry },
    )
    const seen: string[] = []
    ctx.tokens.subscribe(() => seen.push(ctx.tokens.getSnapshot().status))
    await ctx.tokens.getToken()
    await ctx.clock.advance(24 * SEC) // scheduled refresh fails
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'valid', error: { kind: 'http', status: 500 } })
    // The still-valid token is served without stacking requests on the backoff.
    expect(await ctx.tokens.getToken()).toBe(tokenFor(1))
    expect(ctx.calls).toHaveLength(2)
    await runUntilCalls(ctx.clock, ctx.calls, 5, 60 * SEC, 10)
    const expected = [1, 2, 3].map((attempt, i) => backoffDelay(attempt, retry, () => randoms[i]!))
    const gaps = ctx.calls.slice(1).map((c, i, all) => (i === 0 ? undefined : c.at - all[i - 1]!.at)).slice(1)
    expect(gaps).toEqual(expected) // 300, 1800, 2400: jittered and growing caps
    expect(ctx.calls.slice(2).map((c) => c.reason)).toEqual(['retry', 'retry', 'retry'])
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'valid', error: undefined, fetchCount: 2 })
    expect(await ctx.tokens.getToken()).toBe(tokenFor(2))
    expect(seen).toContain('refreshing')
  })

  it('with no valid token left, status is error and getToken rejects at once until a retry succeeds', async () => {
    const ctx = setup(
      (_, i) => (i === 0 ? { token: tokenFor(1), expiresIn: 10 } : i <= 4 ? new TypeError('fetch failed') : { token: tokenFor(2), expiresIn: 10 }),
      { random: () => 0.99, retry: { initialDelay: 4_000, maxDelay: 4_000, factor: 1 } },
    )
    ctx.subscribe()
    await ctx.tokens.getToken()
    await ctx.clock.advance(8 * SEC) // refresh at 8 s fails; retries every ~4 s
    expect(ctx.tokens.getSnapshot().status).toBe('valid')
    await ctx.clock.advance(2 * SEC) // 10 s: expired
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'error', error: { kind: 'network' } })
    const before = ctx.calls.length
    await expect(ctx.tokens.getToken()).rejects.toMatchObject({ kind: 'network' })
    expect(ctx.calls).toHaveLength(before)
    await runUntilCalls(ctx.clock, ctx.calls, 6, 60 * SEC)
    await flush()
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'valid', error: undefined })
    expect(await ctx.tokens.getToken()).toBe(tokenFor(2))
  })

  it('`online` cuts a pending retry short', async () => {
    const ctx = setup((_, i) => (i === 0 ? new TypeError('fetch failed') : { token: tokenFor(1), expiresIn: 30 }), {
      retry: { initialDelay: 30_000, maxDelay: 30_000, factor: 1 },
      random: () => 0.99,
    })
    ctx.subscribe()
    await expect(ctx.tokens.getToken()).rejects.toMatchObject({ kind: 'network' })
    await ctx.clock.advance(SEC)
    expect(ctx.calls).toHaveLength(1)
    ctx.win.dispatch('online')
    await flush()
    expect(ctx.calls).toHaveLength(2)
    expect(ctx.tokens.getSnapshot().status).toBe('valid')
  })
})

describe("the endpoint's Retry-After", () => {
  it('is a floor under the retry backoff', async () => {
    const limited = new TokenError('http', 'rate limited', { status: 429, retryAfter: 10 * SEC })
    const { clock, calls, tokens, subscribe } = setup((_call, index) => (index === 0 ? limited : { token: tokenFor(index), expiresIn: 60 }))
    subscribe()
    await expect(tokens.getToken()).rejects.toMatchObject({ status: 429, retryAfter: 10 * SEC })
    // random() is 0.5: 10 s plus half of the first 1 s window.
    expect(tokens.getSnapshot().refreshAt).toBe(clock.platform.now() + 10 * SEC + 500)
    await clock.advance(10 * SEC + 499)
    expect(calls).toHaveLength(1)
    await clock.advance(1)
    expect(calls).toHaveLength(2)
    expect(tokens.version).toBe(1)
  })
})

describe('request timeout', () => {
  it('gives up on a token request that never answers, aborts it, and retries with backoff', async () => {
    // The first call hangs forever; the second answers.
    const { clock, calls, tokens } = setup((_call, index) => (index === 0 ? undefined : { token: tokenFor(index), expiresIn: 60 }), { timeout: 5 * SEC })
    const first = tokens.getToken()
    first.catch(() => {})
    await clock.advance(5 * SEC - 1)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.signal.aborted).toBe(false)
    await clock.advance(1)
    await expect(first).rejects.toMatchObject({ name: 'TokenError', kind: 'network', message: 'Token request timed out after 5000 ms' })
    expect(calls[0]!.signal.aborted).toBe(true)
    expect(tokens.getSnapshot()).toMatchObject({ status: 'error', error: { kind: 'network' } })
    // A late answer to the abandoned request changes nothing.
    calls[0]!.resolve({ token: tokenFor(99), expiresIn: 60 })
    await clock.advance(0)
    expect(tokens.version).toBe(0)
    await expect(tokens.getToken()).resolves.toBe(tokenFor(1))
    expect(calls).toHaveLength(2)
  })

  it('answered requests leave no timeout timer behind; timeout 0 disables it', async () => {
    const a = setup(() => ({ token: tokenFor(0), expiresIn: 60 }))
    await a.tokens.getToken()
    // Only nothing: without subscribers no refresh timer is armed either.
    expect(a.clock.pendingTimers()).toBe(0)

    const b = setup(() => undefined, { timeout: 0 })
    b.tokens.getToken().catch(() => {})
    await b.clock.advance(10 * MIN)
    expect(b.calls).toHaveLength(1)
    expect(b.calls[0]!.signal.aborted).toBe(false)
    expect(b.clock.pendingTimers()).toBe(0)
    b.tokens.dispose()
  })
})

describe('dispose', () => {
  it('aborts the request in flight, rejects pending callers, and leaves no timer or listener', async () => {
    const ctx = setup(undefined)
    ctx.subscribe()
    const pending = ctx.tokens.getToken()
    await flush()
    expect(ctx.calls).toHaveLength(1)
    ctx.tokens.dispose()
    await expect(pending).rejects.toMatchObject({ name: 'TokenError', kind: 'disposed' })
    expect(ctx.calls[0]!.signal.aborted).toBe(true)
    expect(ctx.clock.pendingTimers()).toBe(0)
    expect(ctx.win.count() + ctx.doc.count()).toBe(0)
    expect(ctx.tokens.getSnapshot().status).toBe('disposed')
    // A late answer is ignored.
    ctx.calls[0]!.resolve({ token: tokenFor(1), expiresIn: 30 })
    await flush()
    expect(ctx.tokens.version).toBe(0)
    await expect(ctx.tokens.getToken()).rejects.toMatchObject({ kind: 'disposed' })
    await expect(ctx.tokens.refresh()).rejects.toMatchObject({ kind: 'disposed' })
  })

  it('clears the refresh and retry timers of a busy manager', async () => {
    const ctx = setup((_, i) => (i === 0 ? { token: tokenFor(1), expiresIn: 30 } : new TypeError('fetch failed')))
    ctx.subscribe()
    ctx.subscribe()
    await ctx.tokens.getToken()
    await ctx.clock.advance(25 * SEC) // refresh failed: retry timer and expiry timer are live
    expect(ctx.tokens.getSnapshot()).toMatchObject({ status: 'valid', error: { kind: 'network' } })
    expect(ctx.clock.pendingTimers()).toBe(2)
    const made = ctx.calls.length
    ctx.tokens.dispose()
    expect(ctx.clock.pendingTimers()).toBe(0)
    expect(ctx.win.count() + ctx.doc.count()).toBe(0)
    await ctx.clock.advance(10 * MIN)
    expect(ctx.calls).toHaveLength(made)
  })
})

describe('snapshots', () => {
  it('are new objects only when something changed', async () => {
    const ctx = setup(() => ({ token: tokenFor(1), expiresIn: 30 }))
    ctx.subscribe()
    const idle = ctx.tokens.getSnapshot()
    expect(ctx.tokens.getSnapshot()).toBe(idle)
    await ctx.tokens.getToken()
    const valid = ctx.tokens.getSnapshot()
    expect(valid).not.toBe(idle)
    const count = ctx.notifications.count
    for (let i = 0; i < 10; i++) await ctx.tokens.getToken()
    ctx.win.dispatch('focus')
    await flush()
    expect(ctx.tokens.getSnapshot()).toBe(valid)
    expect(ctx.notifications.count).toBe(count)
  })

  it('never contain the token, and neither do error messages', async () => {
    const secret = tokenFor(7)
    const failures: unknown[] = [
      Object.assign(new Error(`upstream said ${secret}`), { status: 500 }),
      new Error(`socket closed while sending ${secret}`),
      { token: secret, expiresIn: 'soon' },
      Object.assign(new Error(`denied ${secret}`), { status: 401 }),
    ]
    for (const failure of failures) {
      const ctx = setup(() => (failure instanceof Error ? failure : (failure as TokenResponse)))
      const snapshots: string[] = []
      ctx.tokens.subscribe(() => snapshots.push(JSON.stringify(ctx.tokens.getSnapshot())))
      const error = (await ctx.tokens.getToken().catch((e: unknown) => e)) as TokenError
      expect(error).toBeInstanceOf(TokenError)
      expect(error.message).not.toContain(secret)
      expect(String(error)).not.toContain(secret)
      for (const s of snapshots) expect(s).not.toContain(secret)
    }
    const ok = setup(() => ({ token: secret, expiresIn: 30 }))
    const snapshots: string[] = []
    ok.tokens.subscribe(() => snapshots.push(JSON.stringify(ok.tokens.getSnapshot())))
    await ok.tokens.getToken()
    await ok.tokens.refresh()
    expect(snapshots.length).toBeGreaterThan(2)
    for (const s of snapshots) expect(s).not.toContain(secret)
  })
})
