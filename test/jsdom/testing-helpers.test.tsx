// `use-event-stream/testing` used exactly as docs/testing.md shows: a component under test, a
// hand-driven stream and mock tokens, no server. Each test also checks what the library did on the
// "wire" (connections, tokens, resume ids), so a helper that only pretended would fail.
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, createEventStream, useEventStream, useToken, type Transport } from 'use-event-stream'
import { TokenError, createTokenManager, type FetchToken, type TokenManager, type TokenResponse } from 'use-event-stream/core'
import { createMockTokens, createTestStream } from 'use-event-stream/testing'
import { createFakePlatform, flush } from '../helpers/fakePlatform'

// ---- the component under test (docs/testing.md, "The component") ------------------------------------------------------

type Price = { symbol: string; price: number }

function PriceTicker({ transport }: { transport?: Transport }) {
  const { status, data, error, state: received } = useEventStream('/api/prices', {
    transport, // undefined in the app: the default ('auto')
    parse: (text) => JSON.parse(text) as Price,
    reduce: (count: number) => count + 1,
    initialState: 0,
  })
  const token = useToken()
  return (
    <div>
      <p data-testid="status">{status}</p>
      <p data-testid="price">{data ? `${data.symbol} ${data.price}` : 'waiting'}</p>
      <p data-testid="received">{received}</p>
      <p data-testid="error">{error ? `${error.kind}${error.status ? ` ${error.status}` : ''}` : ''}</p>
      <p data-testid="token">
        {token.status}
        {token.expiresAt ? ` until ${token.expiresAt}` : ''}
      </p>
    </div>
  )
}

function renderTicker(stream = createTestStream()) {
  render(
    <TokenProvider tokens={stream.tokens}>
      <PriceTicker transport={stream.transport} />
    </TokenProvider>,
  )
  return stream
}

const text = (id: string) => screen.getByTestId(id).textContent

afterEach(() => {
  cleanup()
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

// ---- docs/testing.md, "An example test" ------------------------------------------------------------------------------

describe('createTestStream with a component', () => {
  it('opens, shows pushed events, and never renders the token', async () => {
    const stream = renderTicker()
    expect(text('status')).toBe('connecting')

    await act(() => stream.open())
    expect(text('status')).toBe('open')

    act(() => {
      stream.push({ symbol: 'ACME', price: 101 }, { id: 1 })
      stream.push({ symbol: 'ACME', price: 102 }, { id: 2 })
    })
    expect(text('price')).toBe('ACME 102')
    expect(text('received')).toBe('2')

    // The connection was made with the mock token, which appears nowhere on screen.
    expect(stream.connections).toHaveLength(1)
    expect(stream.connections[0]!.tokenEquals(stream.tokens.token!)).toBe(true)
    expect(document.body.innerHTML).not.toContain(stream.tokens.token!)
  })

  it('shows reconnecting after a dropped connection and resumes from the last id', async () => {
    vi.useFakeTimers()
    const stream = renderTicker()
    await act(() => stream.open())
    act(() => {
      stream.push({ symbol: 'ACME', price: 101 }, { id: 41 })
      stream.fail('network')
    })
    expect(text('status')).toBe('reconnecting')
    expect(text('error')).toBe('network')

    // The first retry waits at most `reconnect.initialDelay` (1 s by default).
    await act(() => vi.advanceTimersByTimeAsync(1000))
    const resumed = await act(() => stream.open())
    expect(text('status')).toBe('open')
    expect(resumed.lastEventId).toBe('41')
    expect(stream.connections).toHaveLength(2)
  })

  it('moves to failed and closed through setStatus', async () => {
    const stream = renderTicker()
    await act(() => stream.setStatus('open'))
    await act(() => stream.setStatus('failed'))
    expect(text('status')).toBe('failed')
    expect(text('error')).toBe('http 400')

    const other = createTestStream()
    cleanup()
    renderTicker(other)
    await act(() => other.setStatus('open'))
    await act(() => other.setStatus('closed'))
    expect(text('status')).toBe('closed')
    expect(other.connections).toHaveLength(1)
  })

  it('rotates the token: a second connection with the new token takes over, no event lost or repeated', async () => {
    const stream = renderTicker()
    await act(() => stream.open())
    act(() => {
      stream.push({ symbol: 'ACME', price: 1 }, { id: 1 })
    })
    const firstToken = stream.tokens.token!

    const newToken = await act(() => stream.rotateToken())
    expect(newToken).not.toBe(firstToken)
    expect(stream.connections).toHaveLength(2)
    expect(stream.connections[1]!.tokenEquals(newToken)).toBe(true)
    expect(stream.connections[1]!.lastEventId).toBe('1')
    expect(stream.connections[0]!.aborted).toBe(true)

    act(() => {
      stream.push({ symbol: 'ACME', price: 2 }, { id: 2 })
    })
    expect(stream.connection).toBe(stream.connections[1])
    expect(text('price')).toBe('ACME 2')
    expect(text('received')).toBe('2')
    expect(text('status')).toBe('open')
  })

  it('shows token expiry and an unauthorized user', async () => {
    const stream = renderTicker(createTestStream({ tokens: { lifetime: 20_000 } }))
    await act(() => stream.open())
    const expiresAt = stream.tokens.getSnapshot().expiresAt!
    expect(text('token')).toBe(`valid until ${expiresAt}`)

    act(() => stream.tokens.setExpiry(expiresAt + 5000))
    expect(text('token')).toBe(`valid until ${expiresAt + 5000}`)

    act(() => stream.tokens.unauthorize())
    expect(text('token')).toBe('unauthorized')
    expect(text('status')).toBe('failed')
    // The token endpoint's status travels with the stream's error.
    expect(text('error')).toBe('unauthorized 401')
    expect(stream.connections[0]!.aborted).toBe(true)
  })

  it('recovers from one 401 on the stream with a fresh token (autoOpen)', async () => {
    const stream = renderTicker(createTestStream({ autoOpen: true }))
    await act(async () => {})
    expect(text('status')).toBe('open')
    const before = stream.tokens.version

    await act(async () => {
      stream.fail('unauthorized', { status: 401 })
    })
    // The stream asked for a token newer than the rejected one and reconnected at once with it.
    expect(stream.tokens.requests.some((r) => r.newerThan === before)).toBe(true)
    expect(stream.tokens.version).toBe(before + 1)
    expect(stream.connections).toHaveLength(2)
    expect(stream.connections[1]!.tokenEquals(stream.tokens.token!)).toBe(true)
    expect(text('status')).toBe('open')
  })

  it('explains what is missing when pushing before the stream is open', async () => {
    const stream = renderTicker()
    await act(async () => {}) // the token resolves on a microtask, then the stream connects
    expect(() => stream.push('x')).toThrow(/pending: call `await stream.open\(\)` first/)
    const unused = createTestStream({ timeout: 50 })
    await expect(unused.waitForConnection()).rejects.toThrow(/no connection within 50 ms/)
  })
})

// ---- createMockTokens on its own ---------------------------------------------------------------

describe('createMockTokens', () => {
  it("'pending' keeps getToken waiting (status loading) until rotate()", async () => {
    const tokens = createMockTokens({ initial: 'pending' })
    expect(tokens.getSnapshot().status).toBe('idle')
    const pending = tokens.getToken()
    expect(tokens.getSnapshot().status).toBe('loading')
    const issued = tokens.rotate()
    await expect(pending).resolves.toBe(issued)
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', fetchCount: 1, lifetime: 60_000 })
    expect(JSON.stringify(tokens.getSnapshot())).not.toContain(issued)
  })

  it('fail() keeps a still-valid token in use, and rejects once it has expired', async () => {
    let now = 1_000_000
    const tokens = createMockTokens({ lifetime: 10_000, now: () => now })
    const token = tokens.token!
    tokens.fail('http', { status: 503 })
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', error: { kind: 'http', status: 503 } })
    await expect(tokens.getToken()).resolves.toBe(token)

    now += 10_000
    tokens.fail('network')
    expect(tokens.getSnapshot().status).toBe('error')
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'TokenError', kind: 'network' })
  })

  it('drives a core event stream: unauthorize() ends it failed, dispose() rejects waiters', async () => {
    const stream = createTestStream()
    const events = createEventStream({ url: 'http://127.0.0.1:9/x', tokens: stream.tokens, transport: stream.transport })
    events.connect()
    await stream.open()
    expect(events.getSnapshot().status).toBe('open')
    expect(stream.tokens.subscriberCount).toBe(1)
    stream.tokens.unauthorize(403)
    expect(events.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'unauthorized' } })
    // Still listening, to come back after "sign in again"; close() lets go.
    expect(stream.tokens.subscriberCount).toBe(1)
    events.close()
    expect(stream.tokens.subscriberCount).toBe(0)

    const waiting = createMockTokens({ initial: 'pending' })
    const result = waiting.getToken()
    waiting.dispose()
    await expect(result).rejects.toMatchObject({ kind: 'disposed' })
    expect(waiting.getSnapshot().status).toBe('disposed')
  })
})

// ---- createMockTokens behaves like the real manager ---------------------------------------------
//
// Each test body below runs twice: against createTokenManager with a scripted fetchToken on a
// virtual clock, and against createMockTokens. A harness supplies what only differs in how the
// test drives them: the real manager's token endpoint answers requests; the mock is told.

type Outcome = 'ok' | { status: number }

interface Harness {
  tokens: TokenManager
  /** Wall clock both use for `expiresAt`/`refreshAt`. */
  now(): number
  /** Answers the request waiting for a token: a token (60 s), or an HTTP failure. */
  answer(outcome: Outcome): Promise<void>
  /** The token endpoint refuses the user (401): the terminal state, reached the way each reaches it. */
  refuse(): Promise<void>
  /** Requests that reached the token endpoint; the mock has none to count. */
  requests(): number | undefined
}

const LIFETIME = 60_000
/** The default lead for a 60 s token: 20%. */
const LEAD = 12_000

/**
 * The real manager. `manual`: every token request waits for `answer()`; otherwise each is
 * answered at once, by the next `answer()` outcome queued, else with a token.
 */
function realHarness(manual: boolean): Harness {
  const fake = createFakePlatform()
  const waiting: Array<(outcome: Outcome) => void> = []
  const queued: Outcome[] = []
  let made = 0
  let issued = 0
  const settle = (outcome: Outcome, resolve: (r: TokenResponse) => void, reject: (e: unknown) => void) => {
    if (outcome === 'ok') resolve({ token: `real-token-${++issued}`, expiresIn: LIFETIME / 1000 })
    else reject(Object.assign(new Error(`HTTP ${outcome.status}`), { status: outcome.status }))
  }
  const fetchToken: FetchToken = () =>
    new Promise<TokenResponse>((resolve, reject) => {
      made++
      if (manual) waiting.push((outcome) => settle(outcome, resolve, reject))
      else settle(queued.shift() ?? 'ok', resolve, reject)
    })
  const tokens = createTokenManager({ fetchToken, platform: fake.platform, timeout: 0 })
  return {
    tokens,
    now: fake.platform.now,
    async answer(outcome) {
      if (!manual) {
        queued.push(outcome)
        return
      }
      const next = waiting.shift()
      if (!next) throw new Error('no token request is waiting')
      next(outcome)
      await flush()
    },
    async refuse() {
      if (!manual) queued.push({ status: 401 })
      const attempt = tokens.refresh().catch(() => {})
      await flush()
      if (manual) waiting.shift()?.({ status: 401 })
      await attempt
    },
    requests: () => made,
  }
}

/**
 * The mock. `manual`: `refreshOnForce: false` and no first token, so every request waits to be
 * answered; otherwise its defaults (a token from the start, forced refreshes issue one at once).
 */
function mockHarness(manual: boolean): Harness {
  const fake = createFakePlatform()
  const tokens = createMockTokens(manual ? { initial: 'pending', refreshOnForce: false, now: fake.platform.now } : { now: fake.platform.now })
  return {
    tokens,
    now: fake.platform.now,
    async answer(outcome) {
      if (outcome === 'ok') tokens.rotate()
      else if (outcome.status === 401 || outcome.status === 403) tokens.unauthorize(outcome.status)
      else tokens.fail('http', { status: outcome.status })
      await flush()
    },
    async refuse() {
      tokens.unauthorize(401)
      await flush()
    },
    requests: () => undefined,
  }
}

const harnesses = [
  ['the real manager', realHarness],
  ['the mock', mockHarness],
] as const

describe.each(harnesses)('token manager contract, against %s', (_, make) => {
  it('rejection (newerThan), failure, terminal 401 and "sign in again": same statuses, snapshots and versions', async () => {
    const h = make(true)
    const { tokens } = h
    const heard: string[] = []
    tokens.subscribe(() => heard.push(tokens.getSnapshot().status))
    const expectRequests = (n: number) => {
      const made = h.requests()
      if (made !== undefined) expect(made).toBe(n)
    }
    expect(tokens.getSnapshot()).toEqual({ status: 'idle', expiresAt: undefined, lifetime: undefined, refreshAt: undefined, error: undefined, fetchCount: 0 })

    // The first token.
    const first = tokens.getToken()
    await flush()
    expect(tokens.getSnapshot().status).toBe('loading')
    await h.answer('ok')
    const t1 = await first
    const expiresAt = h.now() + LIFETIME
    expect(tokens.getSnapshot()).toEqual({ status: 'valid', expiresAt, lifetime: LIFETIME, refreshAt: expiresAt - LEAD, error: undefined, fetchCount: 1 })
    expect(tokens.version).toBe(1)
    expect(heard.at(-1)).toBe('valid')
    expectRequests(1)

    // The stream server rejected version 1: five callers, one new token.
    const five = Promise.all(Array.from({ length: 5 }, () => tokens.getToken({ newerThan: 1 })))
    await flush()
    expect(tokens.getSnapshot()).toEqual({ status: 'loading', expiresAt, lifetime: LIFETIME, refreshAt: undefined, error: undefined, fetchCount: 1 })
    expectRequests(2)
    await h.answer('ok')
    const got = await five
    const t2 = got[0]!
    expect(got).toEqual(Array(5).fill(t2))
    expect(t2).not.toBe(t1)
    expect(tokens.version).toBe(2)
    expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', fetchCount: 2, error: undefined })
    // An older version than the current: the current token at once.
    expect(await tokens.getToken({ newerThan: 1 })).toBe(t2)
    expect(await tokens.getToken()).toBe(t2)
    expectRequests(2)

    // Version 2 is rejected and its refresh fails: an http error, never the rejected token.
    const failing = tokens.getToken({ newerThan: 2 }).catch((e: unknown) => e)
    await flush()
    expect(tokens.getSnapshot().status).toBe('loading')
    await h.answer({ status: 503 })
    const error = await failing
    expect(error).toBeInstanceOf(TokenError)
    expect(error).toMatchObject({ kind: 'http', status: 503 })
    // refreshAt differs on purpose: the real manager shows its background retry, the mock has none.
    expect(tokens.getSnapshot()).toMatchObject({ status: 'error', lifetime: LIFETIME, error: { kind: 'http', status: 503 }, fetchCount: 2 })
    await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'http', status: 503 })
    await expect(tokens.getToken({ newerThan: 2 })).rejects.toMatchObject({ kind: 'http', status: 503 })
    expectRequests(3)
    const recovering = tokens.refresh()
    await flush()
    expect(tokens.getSnapshot().status).toBe('loading')
    await h.answer('ok')
    const t3 = await recovering
    expect(t3).not.toBe(t2)
    expect(tokens.version).toBe(3)

    // Terminal 401: unauthorized, and no request until refresh().
    await h.refuse()
    const made = h.requests()
    expect(tokens.getSnapshot()).toEqual({ status: 'unauthorized', expiresAt: undefined, lifetime: undefined, refreshAt: undefined, error: expect.any(TokenError), fetchCount: 3 })
    expect(tokens.getSnapshot().error).toMatchObject({ kind: 'unauthorized', status: 401 })
    expect(heard.at(-1)).toBe('unauthorized')
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'TokenError', kind: 'unauthorized' })
    await expect(tokens.getToken({ forceRefresh: true })).rejects.toMatchObject({ kind: 'unauthorized' })
    await expect(tokens.getToken({ newerThan: 3 })).rejects.toMatchObject({ kind: 'unauthorized' })
    if (made !== undefined) expectRequests(made)
    expect(tokens.version).toBe(3)

    // "Sign in again": refresh() leaves the terminal state and tries once more.
    const heardBefore = heard.length
    const signIn = tokens.refresh()
    await flush()
    expect(tokens.getSnapshot()).toEqual({ status: 'loading', expiresAt: undefined, lifetime: undefined, refreshAt: undefined, error: undefined, fetchCount: 3 })
    await h.answer('ok')
    const t4 = await signIn
    const renewedAt = h.now() + LIFETIME
    expect(tokens.getSnapshot()).toEqual({ status: 'valid', expiresAt: renewedAt, lifetime: LIFETIME, refreshAt: renewedAt - LEAD, error: undefined, fetchCount: 4 })
    expect(tokens.version).toBe(4)
    expect(heard.length).toBeGreaterThan(heardBefore)
    expect(heard.at(-1)).toBe('valid')
    expect(await tokens.getToken()).toBe(t4)
    for (const token of [t1, t2, t3, t4]) expect(JSON.stringify(tokens.getSnapshot())).not.toContain(token)
  })

  it("a user's \"sign in again\" test passes (useToken, default settings)", async () => {
    const h = make(false)
    function SessionBadge() {
      const { status, refresh } = useToken()
      if (status === 'unauthorized') return <button onClick={refresh}>Sign in again</button>
      return <span data-testid="session">{status}</span>
    }
    render(
      <TokenProvider tokens={h.tokens}>
        <SessionBadge />
      </TokenProvider>,
    )
    await act(async () => {
      await h.tokens.getToken()
    })
    expect(text('session')).toBe('valid')
    await act(() => h.refuse())
    const button = screen.getByRole('button', { name: 'Sign in again' })
    await act(async () => {
      button.click()
      await flush()
    })
    expect(text('session')).toBe('valid')
    expect(h.tokens.version).toBe(2)
  })

  it('a throwing subscriber is reported through reportError and the others still hear', async () => {
    const h = make(false)
    const reported: unknown[] = []
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error))
    const boom = new Error('listener bug')
    h.tokens.subscribe(() => {
      throw boom
    })
    const heard: string[] = []
    h.tokens.subscribe(() => heard.push(h.tokens.getSnapshot().status))
    await act(async () => {
      await h.tokens.refresh()
    })
    expect(heard.at(-1)).toBe('valid')
    expect(reported.length).toBeGreaterThan(0)
    expect(reported.every((e) => e === boom)).toBe(true)
    expect(h.tokens.getSnapshot().status).toBe('valid')
  })
})

// ---- useToken with the real manager after a sleep ------------------------------------------------

describe('useToken after the machine slept', () => {
  it("a re-render after the sleep does not show 'valid' for the expired token, and the refresh follows", async () => {
    const fake = createFakePlatform()
    let n = 0
    const tokens = createTokenManager({ fetchToken: async () => ({ token: `slept-token-${++n}`, expiresIn: 300 }), platform: fake.platform, timeout: 0 })
    function Badge() {
      return <p data-testid="badge">{useToken().status}</p>
    }
    const view = render(
      <TokenProvider tokens={tokens}>
        <Badge />
      </TokenProvider>,
    )
    await act(async () => {
      await tokens.getToken()
    })
    expect(text('badge')).toBe('valid')
    fake.suspend(60 * 60_000) // an hour with the lid closed: no timer ran, no wake event came
    view.rerender(
      <TokenProvider tokens={tokens}>
        <Badge />
      </TokenProvider>,
    )
    expect(text('badge')).toBe('loading')
    await act(() => flush())
    expect(text('badge')).toBe('valid')
    expect(n).toBe(2)
    tokens.dispose()
  })
})
