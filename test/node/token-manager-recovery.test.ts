// Token manager rules for what happens around a token's normal life, under the virtual clock of
// test/helpers/fakePlatform.ts: a machine that slept, a token the stream server rejected
// (`getToken({ newerThan })`), and listeners that throw. The same rejection
// rules against a real token endpoint are in token-manager-server.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { mintJwt } from '../helpers/jwt'
import { TokenError, createTokenManager, type FetchToken, type TokenFetchReason, type TokenManagerOptions, type TokenResponse } from 'use-event-stream/core'
import { createFakePlatform, flush } from '../helpers/fakePlatform'

const SEC = 1_000
const MIN = 60 * SEC
const HOUR = 60 * MIN

interface Call {
  reason: TokenFetchReason
  at: number
  resolve(response: TokenResponse): void
  reject(error: unknown): void
}

type Answer = TokenResponse | Error | undefined

/**
 * A manager on a fake platform whose token endpoint answers through `respond` (sync), or leaves a
 * call pending (`undefined`) for the test to settle through `calls[i]`.
 */
function setup(respond: (index: number) => Answer = (i) => ({ token: tokenFor(i + 1), expiresIn: 300 }), options: Omit<TokenManagerOptions, 'fetchToken' | 'platform'> & { skew?: number } = {}) {
  const { skew, ...rest } = options
  const fake = createFakePlatform({ skew })
  const calls: Call[] = []
  const fetchToken: FetchToken = ({ reason }) =>
    new Promise<TokenResponse>((resolve, reject) => {
      calls.push({ reason, at: fake.time, resolve, reject })
      const answer = respond(calls.length - 1)
      if (answer instanceof Error) reject(answer)
      else if (answer !== undefined) resolve(answer)
    })
  const tokens = createTokenManager({ timeout: 0, ...rest, fetchToken, platform: fake.platform })
  const statuses: string[] = []
  return { fake, calls, tokens, statuses, subscribe: () => tokens.subscribe(() => statuses.push(tokens.getSnapshot().status)) }
}

const tokenFor = (i: number) => `SECRET-TOKEN-${i}-7c1a`
const http = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status })

afterEach(() => {
  vi.unstubAllGlobals()
})

/* ---------------------------------------------------------------------------------------------- */

describe('a machine that slept (wall clock +1 h, monotonic clock +0, no timer fired)', () => {
  it.each([
    ['window', 'focus'],
    ['window', 'online'],
    ['window', 'pageshow'],
    ['document', 'visibilitychange'],
  ] as const)('%s %s after the sleep refreshes at once', async (where, type) => {
    const { fake, calls, tokens, subscribe } = setup()
    subscribe()
    expect(await tokens.getToken()).toBe(tokenFor(1)) // 300 s token, refresh point at 240 s
    await fake.advance(10 * SEC)
    fake.suspend(HOUR)
    ;(where === 'window' ? fake.window : fake.document).dispatch(type)
    await flush()
    expect(calls).toHaveLength(2)
    expect(calls[1]!.reason).toBe('scheduled')
    expect(await tokens.getToken()).toBe(tokenFor(2))
    expect(tokens.getSnapshot().status).toBe('valid')
  })

  it('visibilitychange to hidden does not refresh; back to visible does', async () => {
    const { fake, calls, tokens, subscribe } = setup()
    subscribe()
    await tokens.getToken()
    fake.suspend(HOUR)
    fake.setHidden(true)
    await flush()
    expect(calls).toHaveLength(1)
    fake.setHidden(false)
    await flush()
    expect(calls).toHaveLength(2)
  })

  it.each([
    ['subscribed', true],
    ['not subscribed', false],
  ])('getToken() after the sleep, without any wake event, never resolves to the expired token (%s)', async (_, subscribed) => {
    const { fake, calls, tokens, subscribe } = setup()
    if (subscribed) subscribe()
    expect(await tokens.getToken()).toBe(tokenFor(1))
    fake.suspend(HOUR)
    expect(await tokens.getToken()).toBe(tokenFor(2))
    expect(calls).toHaveLength(2)
  })

  it('inside the refresh lead after a sleep, a failed refresh does not fall back to the expired token', async () => {
    const { fake, tokens } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : http(502)))
    await tokens.getToken()
    await fake.advance(250 * SEC) // inside the lead (refresh point 240 s), still valid by both clocks
    fake.suspend(HOUR) // now expired by the wall clock
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'TokenError', kind: 'http', status: 502 })
  })

  it('the snapshot read after the sleep is not valid; while subscribed the read starts the refresh', async () => {
    const lazy = setup()
    await lazy.tokens.getToken()
    lazy.fake.suspend(HOUR)
    expect(lazy.tokens.getSnapshot().status).not.toBe('valid')
    await flush()
    expect(lazy.calls).toHaveLength(1) // nobody subscribed: nothing happens in the background

    const watched = setup()
    watched.subscribe()
    await watched.tokens.getToken()
    const seen = watched.statuses.length
    watched.fake.suspend(HOUR)
    expect(watched.tokens.getSnapshot().status).toBe('loading')
    expect(watched.tokens.getSnapshot()).toBe(watched.tokens.getSnapshot()) // stable between reads
    await flush()
    expect(watched.calls).toHaveLength(2)
    // Subscribers heard of the change the read discovered, and of the new token.
    expect(watched.statuses.slice(seen)).toContain('loading')
    expect(watched.tokens.getSnapshot().status).toBe('valid')
  })

  it.each([
    ['a focus event', true],
    ['a snapshot read', false],
  ])('a background retry that came due during the sleep runs on %s', async (_, byEvent) => {
    const { fake, calls, tokens, subscribe } = setup((i) => (i === 0 ? new TypeError('fetch failed') : { token: tokenFor(i), expiresIn: 300 }), {
      retry: { initialDelay: 30 * SEC, maxDelay: 30 * SEC, factor: 1 },
    })
    subscribe()
    await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'network' })
    fake.suspend(HOUR)
    if (byEvent) fake.window.dispatch('focus')
    else expect(tokens.getSnapshot().status).toBe('loading')
    await flush()
    expect(calls).toHaveLength(2)
    expect(calls[1]!.reason).toBe('retry')
    expect(tokens.getSnapshot().status).toBe('valid')
  })

  it.each([
    ['10 min ahead', 10 * MIN],
    ['10 min behind', -10 * MIN],
  ])('a client wall clock %s changes nothing (JWT minted with the server clock)', async (_, skew) => {
    const serverNow = Math.floor(createFakePlatform().platform.now() / 1000)
    const jwts = await Promise.all([mintJwt(serverNow, 60), mintJwt(serverNow + 48, 60)])
    const { fake, calls, tokens, subscribe } = setup((i) => jwts[i], { skew })
    subscribe()
    expect(await tokens.getToken()).toBe(jwts[0])
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', lifetime: 60 * SEC, expiresAt: fake.platform.now() + 60 * SEC })
    await fake.advance(30 * SEC)
    fake.window.dispatch('focus')
    await flush()
    expect(tokens.getSnapshot().status).toBe('valid')
    expect(await tokens.getToken()).toBe(jwts[0])
    expect(calls).toHaveLength(1)
    await fake.advance(18 * SEC - 1)
    expect(calls).toHaveLength(1)
    await fake.advance(1)
    expect(calls).toHaveLength(2)
    expect(calls[1]!.at).toBe(48 * SEC)
  })

  it('the user setting the wall clock back an hour delays nothing', async () => {
    const { fake, calls, tokens, subscribe } = setup()
    subscribe()
    await tokens.getToken()
    fake.suspend(-HOUR)
    await fake.advance(240 * SEC - 1)
    expect(calls).toHaveLength(1)
    await fake.advance(1)
    expect(calls).toHaveLength(2)
  })
})


/* ---------------------------------------------------------------------------------------------- */

describe('getToken({ newerThan }) after the stream server rejected a token', () => {
  it('five concurrent callers naming the same version cause one request and get a newer token', async () => {
    const { calls, tokens } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : undefined))
    await tokens.getToken()
    const rejected = tokens.version
    const all = Promise.all(Array.from({ length: 5 }, () => tokens.getToken({ newerThan: rejected })))
    await flush()
    expect(calls).toHaveLength(2)
    expect(calls[1]!.reason).toBe('unauthorized')
    // The rejected token is unusable for everyone while the refresh runs.
    expect(tokens.getSnapshot()).toMatchObject({ status: 'loading', refreshAt: undefined })
    const plain = tokens.getToken()
    await flush()
    expect(calls).toHaveLength(2)
    calls[1]!.resolve({ token: tokenFor(2), expiresIn: 300 })
    expect(await all).toEqual(Array(5).fill(tokenFor(2)))
    expect(await plain).toBe(tokenFor(2))
    expect(tokens.version).toBe(rejected + 1)
    expect(tokens.getSnapshot().status).toBe('valid')
  })

  it('a caller naming an older version resolves at once with the current token', async () => {
    const { calls, tokens } = setup()
    await tokens.getToken()
    await tokens.getToken({ newerThan: 1 })
    expect(tokens.version).toBe(2)
    expect(await tokens.getToken({ newerThan: 1 })).toBe(tokenFor(2))
    expect(await tokens.getToken({ newerThan: 0 })).toBe(tokenFor(2))
    expect(calls).toHaveLength(2)
  })

  it('a request in flight from before the rejection is shared, and its failure falls back to nothing', async () => {
    const { fake, calls, tokens } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : undefined))
    await tokens.getToken()
    await fake.advance(250 * SEC) // inside the refresh lead: a plain getToken starts the refresh
    const plain = tokens.getToken()
    await flush()
    expect(calls).toHaveLength(2)
    expect(tokens.getSnapshot().status).toBe('refreshing')
    const named = tokens.getToken({ newerThan: 1 })
    await flush()
    expect(calls).toHaveLength(2)
    expect(tokens.getSnapshot().status).toBe('loading')
    calls[1]!.reject(http(503))
    // Before the rejection, a failed refresh inside the lead fell back to the still-valid token.
    await expect(plain).rejects.toMatchObject({ name: 'TokenError', kind: 'http', status: 503 })
    await expect(named).rejects.toMatchObject({ name: 'TokenError', kind: 'http', status: 503 })
  })

  it('when the refresh fails (503), the call rejects with an http TokenError, the background retry goes on, and the rejected token never comes back', async () => {
    const { fake, calls, tokens, subscribe } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : i === 1 ? http(503) : { token: tokenFor(i), expiresIn: 300 }), {
      retry: { initialDelay: 2 * SEC, maxDelay: 2 * SEC, factor: 1 },
    })
    subscribe()
    await tokens.getToken()
    const error = await tokens.getToken({ newerThan: 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TokenError)
    expect(error).toMatchObject({ kind: 'http', status: 503 })
    expect(tokens.getSnapshot()).toMatchObject({ status: 'error', error: { kind: 'http', status: 503 } })
    // Neither a plain call nor another naming the same version gets the rejected token, and
    // neither stacks a request on the manager's own backoff.
    await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'http', status: 503 })
    await expect(tokens.getToken({ newerThan: 1 })).rejects.toMatchObject({ kind: 'http', status: 503 })
    expect(calls).toHaveLength(2)
    await fake.advance(2 * SEC)
    expect(calls).toHaveLength(3)
    expect(calls[2]!.reason).toBe('retry')
    expect(await tokens.getToken({ newerThan: 1 })).toBe(tokenFor(2))
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', error: undefined })
  })

  it('without subscribers a failed refresh is followed by a new request on the next call, never by the rejected token', async () => {
    const { calls, tokens } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : i === 1 ? http(503) : { token: tokenFor(i), expiresIn: 300 }))
    await tokens.getToken()
    await expect(tokens.getToken({ newerThan: 1 })).rejects.toMatchObject({ kind: 'http', status: 503 })
    expect(tokens.getSnapshot().status).toBe('error')
    expect(await tokens.getToken()).toBe(tokenFor(2))
    expect(calls).toHaveLength(3)
  })

  it('a rejection cuts a pending background retry short', async () => {
    const { fake, calls, tokens, subscribe } = setup((i) => (i === 0 ? { token: tokenFor(1), expiresIn: 300 } : i === 1 ? http(500) : { token: tokenFor(i), expiresIn: 300 }), {
      retry: { initialDelay: 30 * SEC, maxDelay: 30 * SEC, factor: 1 },
    })
    subscribe()
    await tokens.getToken()
    await fake.advance(240 * SEC) // the scheduled refresh fails; the token is still valid
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', error: { status: 500 } })
    expect(await tokens.getToken()).toBe(tokenFor(1)) // a plain call does not hurry the retry
    expect(calls).toHaveLength(2)
    expect(await tokens.getToken({ newerThan: 1 })).toBe(tokenFor(2))
    expect(calls).toHaveLength(3)
    expect(calls[2]!.reason).toBe('unauthorized')
  })

  it('a rejection while unauthorized rejects without a request; newerThan before any token is a plain call', async () => {
    const refused = setup(() => http(401))
    await expect(refused.tokens.getToken()).rejects.toMatchObject({ kind: 'unauthorized' })
    await expect(refused.tokens.getToken({ newerThan: 0 })).rejects.toMatchObject({ kind: 'unauthorized' })
    expect(refused.calls).toHaveLength(1)

    const fresh = setup()
    expect(await fresh.tokens.getToken({ newerThan: 0 })).toBe(tokenFor(1))
    expect(fresh.calls.map((c) => c.reason)).toEqual(['initial'])
  })
})

/* ---------------------------------------------------------------------------------------------- */

describe('errors thrown by subscribe listeners', () => {
  it('a throwing listener never breaks the manager and is reported through reportError', async () => {
    const reported: unknown[] = []
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error))
    const { calls, tokens } = setup()
    const boom = new Error('listener bug')
    tokens.subscribe(() => {
      throw boom
    })
    const seen: string[] = []
    tokens.subscribe(() => seen.push(tokens.getSnapshot().status))
    expect(await tokens.getToken()).toBe(tokenFor(1))
    expect(seen).toEqual(['loading', 'valid'])
    expect(reported).toEqual([boom, boom])
    expect(await tokens.refresh()).toBe(tokenFor(2))
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', fetchCount: 2 })
    expect(calls).toHaveLength(2)
  })
})
