// `use-event-stream/testing` used exactly as the README ("Testing your components") shows: a component under test, a
// hand-driven stream and mock tokens, no server. Each test also checks what the library did on the
// "wire" (connections, tokens, resume ids), so a helper that only pretended would fail.
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, createEventStream, useEventStream, useToken, type Transport } from 'use-event-stream'
import { createMockTokens, createTestStream } from 'use-event-stream/testing'

// ---- the component under test (the README ("Testing your components"), "The component") ------------------------------

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
})

// ---- the README ("Testing your components"), "An example test" ----------------------------------------------------------

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
    expect(text('error')).toBe('unauthorized')
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
    // The stream asked for a forced refresh and reconnected at once with the new token.
    expect(stream.tokens.requests.some((r) => r.forceRefresh && r.reason === 'unauthorized')).toBe(true)
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
    expect(stream.tokens.subscriberCount).toBe(0)

    const waiting = createMockTokens({ initial: 'pending' })
    const result = waiting.getToken()
    waiting.dispose()
    await expect(result).rejects.toMatchObject({ kind: 'disposed' })
    expect(waiting.getSnapshot().status).toBe('disposed')
  })
})
