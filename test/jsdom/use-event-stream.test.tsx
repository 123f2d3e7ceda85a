// The React layer's own logic (keys, sharing, fan-out, callbacks, batching), driven through the
// mock transport. The same behaviours against the reference server are in server.test.tsx.
import { StrictMode, useState, version as reactVersion, type ReactNode } from 'react'
import { act, cleanup, render, renderHook, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, useEventStream, useToken, type EventStreamError, type StreamEvent, type TokenManager } from 'use-event-stream'
import { createMockTokens, createMockTransport, type MockTransport } from 'use-event-stream/testing'
import { sleep } from '../helpers/wait'

const URL_A = 'http://127.0.0.1:9/a'
const URL_B = 'http://127.0.0.1:9/b'

/** Lets the token promise resolve, so the transport's connect has been called. */
const settle = () => act(async () => {})

afterEach(() => {
  cleanup()
  vi.useRealTimers()
})

describe('React version of this project', () => {
  it('runs the React the project is configured for', () => {
    // The jsdom-react18 project sets EXPECTED_REACT_MAJOR=18 and aliases react to React 18.
    expect(reactVersion.split('.')[0]).toBe(process.env.EXPECTED_REACT_MAJOR ?? '19')
  })
})

describe('useEventStream without a provider', () => {
  it('streams with a private connection and no token', async () => {
    const transport = createMockTransport()
    const seen: string[] = []
    const { result } = renderHook(() => useEventStream(URL_A, { transport, onEvent: (e) => seen.push(e.data) }))
    expect(transport.connections).toHaveLength(1)
    expect(transport.latest!.hasToken).toBe(false)
    expect(result.current.status).toBe('connecting')
    act(() => {
      transport.latest!.open().emit({ data: 'one', id: '1' }).emit({ data: 'two', id: '2' })
    })
    expect(result.current.status).toBe('open')
    expect(result.current.data).toBe('two')
    expect(result.current.lastEvent?.id).toBe('2')
    expect(result.current.lastEventId).toBe('2')
    expect(result.current.eventCount).toBe(2)
    expect(seen).toEqual(['one', 'two'])
  })

  it('stays idle without a request for a null url or enabled: false, and connects once enabled', async () => {
    const transport = createMockTransport()
    const { result, rerender } = renderHook(({ url, enabled }: { url: string | null; enabled: boolean }) => useEventStream(url, { transport, enabled }), {
      initialProps: { url: null as string | null, enabled: true },
    })
    expect(result.current.status).toBe('idle')
    rerender({ url: URL_A, enabled: false })
    expect(result.current.status).toBe('idle')
    await sleep(10)
    expect(transport.connections).toHaveLength(0)
    rerender({ url: URL_A, enabled: true })
    expect(transport.connections).toHaveLength(1)
    expect(result.current.status).toBe('connecting')
  })

  it('reconnects when the url changes, not when callbacks change; fresh callbacks see the next event', async () => {
    const transport = createMockTransport()
    const first: string[] = []
    const second: string[] = []
    const { result, rerender } = renderHook(
      ({ url, onEvent, parse }: { url: string; onEvent: (e: StreamEvent<string>) => void; parse: (s: string) => string }) => useEventStream(url, { transport, onEvent, parse }),
      { initialProps: { url: URL_A, onEvent: (e: StreamEvent<string>) => first.push(e.data), parse: (s: string) => s } },
    )
    act(() => void transport.latest!.open().emit({ data: 'a1' }))
    rerender({ url: URL_A, onEvent: (e) => second.push(e.data), parse: (s) => s.toUpperCase() })
    expect(transport.connections).toHaveLength(1)
    act(() => void transport.latest!.emit({ data: 'a2' }))
    expect(first).toEqual(['a1'])
    expect(second).toEqual(['A2'])
    expect(result.current.data).toBe('A2')

    rerender({ url: URL_B, onEvent: (e) => second.push(e.data), parse: (s) => s })
    expect(transport.connections).toHaveLength(2)
    expect(transport.connections[1]!.url.href).toBe(URL_B)
    // The old stream's data does not leak into the new one.
    await settle()
    expect(result.current.data).toBeUndefined()
    expect(result.current.status).toBe('connecting')
    act(() => void transport.connections[1]!.open().emit({ data: 'b1' }))
    expect(result.current.data).toBe('b1')
  })

  it('closes its private connection only after the grace period (StrictMode does not reconnect)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const transport = createMockTransport()
    function View() {
      const { status } = useEventStream(URL_A, { transport })
      return <p>{status}</p>
    }
    const { unmount } = render(
      <StrictMode>
        <View />
      </StrictMode>,
    )
    expect(transport.connections).toHaveLength(1)
    unmount()
    expect(transport.connections[0]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1000)
    expect(transport.connections[0]!.aborted).toBe(true)
  })

  it('close() stops the stream and reconnect() starts a new connection', () => {
    const transport = createMockTransport()
    const { result } = renderHook(() => useEventStream(URL_A, { transport }))
    act(() => void transport.latest!.open())
    act(() => result.current.close())
    expect(result.current.status).toBe('closed')
    expect(transport.connections[0]!.aborted).toBe(true)
    act(() => result.current.reconnect())
    expect(transport.connections).toHaveLength(2)
    expect(result.current.status).toBe('reconnecting')
  })
})

describe('reduce, parse and errors', () => {
  it('reduce sees every event of a burst, outside render', () => {
    const transport = createMockTransport()
    const { result } = renderHook(() =>
      useEventStream(URL_A, {
        transport,
        parse: (s) => Number(s),
        reduce: (sum: number[], event) => [...sum, event.data],
        initialState: [] as number[],
      }),
    )
    act(() => {
      const connection = transport.latest!.open()
      // One synchronous burst: React renders once, yet no event may be lost.
      for (let i = 1; i <= 500; i++) connection.emit({ data: String(i), id: String(i) })
    })
    expect(result.current.state).toHaveLength(500)
    expect(result.current.state[499]).toBe(500)
    expect(result.current.data).toBe(500)
  })

  it('a parse failure goes to onError, not into the error of the open stream; the stream goes on', () => {
    const transport = createMockTransport()
    const errors: EventStreamError[] = []
    const { result } = renderHook(() =>
      useEventStream(URL_A, { transport, parse: (s) => JSON.parse(s) as { n: number }, onError: (e) => errors.push(e) }),
    )
    act(() => void transport.latest!.open().emit({ data: '{"n":1}' }).emit({ data: 'not json', id: '7' }))
    expect(result.current.error).toBeUndefined()
    expect(result.current.data).toEqual({ n: 1 })
    expect(errors.map((e) => e.kind)).toEqual(['parse'])
    expect(errors[0]!.message).toContain('id 7')
    act(() => void transport.latest!.emit({ data: '{"n":2}' }))
    expect(result.current.data).toEqual({ n: 2 })
    expect(result.current.status).toBe('open')
  })

  it('onGap hears the server\'s gap notice; the notice is no event of the hook', () => {
    const transport = createMockTransport()
    const gaps: unknown[] = []
    const { result } = renderHook(() => useEventStream(URL_A, { transport, onGap: (gap) => gaps.push(gap) }))
    act(() => void transport.latest!.open().emit({ data: 'a', id: '1' }))
    act(() => void transport.latest!.emit({ type: 'stream-gap', data: '{"lastEventId":"1","resumedAt":"90"}' }).emit({ data: 'b', id: '90' }))
    expect(gaps).toEqual([{ lastEventId: '1', resumedAt: '90' }])
    expect(result.current.data).toBe('b')
    expect(result.current.eventCount).toBe(2)
  })

  it('an events map parses per type and subscribes to those types (and the server\'s gap notice)', () => {
    const transport = createMockTransport()
    const { result } = renderHook(() =>
      useEventStream(URL_A, {
        transport,
        events: { tick: (s) => Number(s), news: (s) => ({ headline: s }) },
      }),
    )
    expect([...transport.latest!.options.events].sort()).toEqual(['news', 'stream-gap', 'tick'])
    act(() => void transport.latest!.open().emit({ type: 'tick', data: '42' }))
    expect(result.current.lastEvent).toMatchObject({ type: 'tick', data: 42 })
    act(() => void transport.latest!.emit({ type: 'news', data: 'hello' }))
    expect(result.current.lastEvent).toMatchObject({ type: 'news', data: { headline: 'hello' } })
  })

  it('returns the same object when nothing changed', () => {
    const transport = createMockTransport()
    const { result, rerender } = renderHook(() => useEventStream(URL_A, { transport, onEvent: () => {} }))
    act(() => void transport.latest!.open().emit({ data: 'x' }))
    const before = result.current
    rerender()
    expect(result.current).toBe(before)
    act(() => void transport.latest!.emit({ data: 'y' }))
    expect(result.current).not.toBe(before)
  })
})

describe('sharing under a TokenProvider', () => {
  function withProvider(tokens: TokenManager, gracePeriod = 1000) {
    return ({ children }: { children: ReactNode }) => (
      <TokenProvider tokens={tokens} gracePeriod={gracePeriod}>
        {children}
      </TokenProvider>
    )
  }

  it('hooks with the same key share one connection; each applies its own parse and sees every event', async () => {
    const transport = createMockTransport()
    const tokens = createMockTokens()
    const raw: string[] = []
    const upper: string[] = []
    function Both() {
      const a = useEventStream(URL_A, { transport, onEvent: (e) => raw.push(e.data) })
      const b = useEventStream(URL_A, { transport, parse: (s) => s.toUpperCase(), onEvent: (e) => upper.push(e.data) })
      return (
        <p>
          {a.data ?? '-'}/{b.data ?? '-'}
        </p>
      )
    }
    render(<Both />, { wrapper: withProvider(tokens) })
    await settle()
    expect(transport.connections).toHaveLength(1)
    expect(transport.latest!.tokenEquals(tokens.token!)).toBe(true)
    act(() => void transport.latest!.open().emit({ data: 'x' }).emit({ data: 'y' }))
    expect(screen.getByText('y/Y')).toBeTruthy()
    expect(raw).toEqual(['x', 'y'])
    expect(upper).toEqual(['X', 'Y'])
  })

  it('a component joining a running stream shows its latest event at once, without a new connection', async () => {
    const transport = createMockTransport()
    function Late() {
      const { data } = useEventStream(URL_A, { transport, parse: (s) => `late:${s}` })
      return <p>{data ?? 'none'}</p>
    }
    function App({ late }: { late: boolean }) {
      const { data } = useEventStream(URL_A, { transport })
      return (
        <>
          <p>{data ?? 'none'}</p>
          {late && <Late />}
        </>
      )
    }
    const { rerender } = render(<App late={false} />, { wrapper: withProvider(createMockTokens()) })
    await settle()
    act(() => void transport.latest!.open().emit({ data: 'v1' }))
    rerender(<App late />)
    expect(screen.getByText('late:v1')).toBeTruthy()
    expect(transport.connections).toHaveLength(1)
  })

  it('different keys, share: false and tokens: false get their own connections', async () => {
    const transport = createMockTransport()
    function Many() {
      useEventStream(URL_A, { transport })
      useEventStream(URL_A, { transport, headers: { 'x-a': '1' } })
      useEventStream(URL_A, { transport, events: ['other'] })
      useEventStream(URL_A, { transport, share: false })
      useEventStream(URL_A, { transport, tokens: false })
      useEventStream(URL_B, { transport })
      // Same key as the first: the token query parameter and header order do not split keys.
      useEventStream(`${URL_A}?token=abc`, { transport })
      return null
    }
    render(<Many />, { wrapper: withProvider(createMockTokens()) })
    await settle()
    expect(transport.connections).toHaveLength(6)
    expect(transport.connections.filter((c) => !c.hasToken)).toHaveLength(1)
  })

  it('maxEventSize and maxLineLength reach the connection and are part of the stream key', async () => {
    const transport = createMockTransport()
    function Limits() {
      useEventStream(URL_A, { transport, maxEventSize: 4096, maxLineLength: 1024 })
      useEventStream(URL_A, { transport, maxEventSize: 4096, maxLineLength: 1024 })
      useEventStream(URL_A, { transport, maxEventSize: 8192, maxLineLength: 1024 })
      return null
    }
    render(<Limits />, { wrapper: withProvider(createMockTokens()) })
    await settle()
    expect(transport.connections.map((c) => [c.options.maxEventSize, c.options.maxLineLength])).toEqual([
      [4096, 1024],
      [8192, 1024],
    ])
  })

  it('closes a shared connection gracePeriod ms after its last user leaves; a return within it keeps it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const transport = createMockTransport()
    function View() {
      const { status } = useEventStream(URL_A, { transport })
      return <p>{status}</p>
    }
    function App({ show }: { show: boolean }) {
      return show ? <View /> : null
    }
    const { rerender } = render(<App show />, { wrapper: withProvider(createMockTokens(), 200) })
    await vi.advanceTimersByTimeAsync(0)
    act(() => void transport.latest!.open())
    rerender(<App show={false} />)
    await vi.advanceTimersByTimeAsync(150)
    rerender(<App show />)
    expect(transport.connections).toHaveLength(1)
    expect(screen.getByText('open')).toBeTruthy()
    rerender(<App show={false} />)
    await vi.advanceTimersByTimeAsync(199)
    expect(transport.connections[0]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(transport.connections[0]!.aborted).toBe(true)
  })

  it('two providers never share a connection', async () => {
    const transport = createMockTransport()
    function View() {
      useEventStream(URL_A, { transport })
      return null
    }
    const tokens = createMockTokens()
    render(
      <>
        <TokenProvider tokens={tokens}>
          <View />
          <View />
        </TokenProvider>
        <TokenProvider tokens={tokens}>
          <View />
        </TokenProvider>
      </>,
    )
    await settle()
    expect(transport.connections).toHaveLength(2)
  })

  it('StrictMode opens exactly one connection', async () => {
    const transport = createMockTransport()
    function View() {
      // Without a token the connection starts synchronously in the effect, so only the grace
      // period keeps StrictMode's unmount/remount from opening a second one.
      useEventStream(URL_A, { transport, tokens: false })
      return null
    }
    render(
      <StrictMode>
        <TokenProvider tokens={createMockTokens()}>
          <View />
        </TokenProvider>
      </StrictMode>,
    )
    await settle()
    expect(transport.connections).toHaveLength(1)
    expect(transport.connections[0]!.aborted).toBe(false)
  })

  it('unmounting the provider closes its streams at once and leaves a passed-in manager alone', async () => {
    const transport = createMockTransport()
    const tokens = createMockTokens()
    const disposed = vi.spyOn(tokens, 'dispose')
    function View() {
      useEventStream(URL_A, { transport })
      useToken()
      return null
    }
    const { unmount } = render(<View />, { wrapper: withProvider(tokens, 60_000) })
    await settle()
    expect(tokens.subscriberCount).toBeGreaterThan(0)
    unmount()
    await sleep(10)
    expect(transport.connections[0]!.aborted).toBe(true)
    expect(tokens.subscriberCount).toBe(0)
    expect(disposed).not.toHaveBeenCalled()
  })
})

describe('TokenProvider with fetchToken', () => {
  it('keeps one manager across re-renders with new fetchToken functions, and calls the latest one', async () => {
    const transport = createMockTransport()
    const calls: string[] = []
    const makeFetch = (label: string) => async () => {
      calls.push(label)
      return { token: `token-${label}`, expiresIn: 3600 }
    }
    function View() {
      const { status } = useEventStream(URL_A, { transport })
      const token = useToken()
      return (
        <button type="button" onClick={() => void token.refresh()}>
          {status}:{token.status}
        </button>
      )
    }
    function App({ label }: { label: string }) {
      return (
        <TokenProvider fetchToken={makeFetch(label)}>
          <View />
        </TokenProvider>
      )
    }
    const { rerender } = render(<App label="first" />)
    await settle()
    expect(calls).toEqual(['first'])
    expect(transport.latest!.tokenEquals('token-first')).toBe(true)
    rerender(<App label="second" />)
    rerender(<App label="third" />)
    await settle()
    // Same manager (no new token request), same connection.
    expect(calls).toEqual(['first'])
    expect(transport.connections).toHaveLength(1)
    await act(async () => {
      screen.getByRole('button').click()
    })
    expect(calls).toEqual(['first', 'third'])
  })

  it('disposes the manager it created on unmount (an in-flight token request is aborted)', async () => {
    let signal: AbortSignal | undefined
    const fetchToken = ({ signal: s }: { signal: AbortSignal }) => {
      signal = s
      return new Promise<never>(() => {})
    }
    const transport = createMockTransport()
    function View() {
      useEventStream(URL_A, { transport })
      return null
    }
    const { unmount } = render(
      <TokenProvider fetchToken={fetchToken}>
        <View />
      </TokenProvider>,
    )
    await settle()
    expect(signal?.aborted).toBe(false)
    unmount()
    await sleep(10)
    expect(signal?.aborted).toBe(true)
  })

  it('useToken outside a provider says how to fix it', () => {
    // React reports the render error too (console in 19, a window error event in 18): keep quiet.
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    const swallow = (event: ErrorEvent) => event.preventDefault()
    window.addEventListener('error', swallow)
    try {
      expect(() => renderHook(() => useToken())).toThrow(/inside a <TokenProvider>.*<TokenProvider fetchToken=/)
    } finally {
      window.removeEventListener('error', swallow)
      spy.mockRestore()
    }
  })

  it('useToken exposes the manager state but never the token', async () => {
    const fetchToken = async () => ({ token: 'secret-token-value', expiresIn: 60 })
    const transport = createMockTransport()
    function View() {
      useEventStream(URL_A, { transport })
      return null
    }
    const { result } = renderHook(() => useToken(), {
      wrapper: ({ children }) => (
        <TokenProvider fetchToken={fetchToken}>
          <View />
          {children}
        </TokenProvider>
      ),
    })
    await act(async () => {})
    expect(result.current.status).toBe('valid')
    expect(result.current.lifetime).toBe(60_000)
    expect(Object.keys(result.current).sort()).toEqual(['error', 'expiresAt', 'lifetime', 'refresh', 'refreshAt', 'status'])
    expect(JSON.stringify(result.current)).not.toContain('secret-token-value')
    await act(async () => {
      await expect(result.current.refresh()).resolves.toBeUndefined()
    })
  })
})

describe('batching', () => {
  /** Emits `count` events, one per macrotask, like a network burst does; returns renders during it. */
  async function burst(batch: false | 'frame' | number, count: number) {
    const transport: MockTransport = createMockTransport()
    let renders = 0
    const seen: number[] = []
    function View() {
      renders++
      const { data, state } = useEventStream(URL_A, {
        transport,
        batch,
        parse: Number,
        onEvent: (e) => seen.push(e.data),
        reduce: (n: number, e) => n + e.data,
        initialState: 0,
      })
      return (
        <p>
          {data ?? 0}:{state}
        </p>
      )
    }
    render(<View />)
    act(() => void transport.latest!.open())
    const before = renders
    for (let i = 1; i <= count; i++) {
      transport.latest!.emit({ data: String(i) })
      await new Promise<void>((resolve) => setTimeout(resolve, 0))
    }
    const during = renders - before
    const total = (count * (count + 1)) / 2
    await act(async () => {
      await sleep(typeof batch === 'number' ? batch + 20 : 60)
    })
    expect(screen.getByText(`${count}:${total}`)).toBeTruthy()
    expect(seen).toHaveLength(count)
    return during
  }

  it('renders once per event without batching', async () => {
    expect(await burst(false, 30)).toBeGreaterThanOrEqual(30)
  })

  it('batch: number caps renders and loses nothing', async () => {
    expect(await burst(1000, 30)).toBeLessThanOrEqual(1)
  })

  it("batch: 'frame' caps renders to animation frames", async () => {
    expect(await burst('frame', 30)).toBeLessThan(15)
  })

  it('status changes render at once even when batching', async () => {
    const transport = createMockTransport()
    const { result } = renderHook(() => useEventStream(URL_A, { transport, batch: 60_000 }))
    act(() => void transport.latest!.open())
    expect(result.current.status).toBe('open')
    act(() => void transport.latest!.fail('network'))
    expect(result.current.status).toBe('reconnecting')
  })
})

describe('the host through the platform only', () => {
  it("batch: 'frame' schedules its flush with platform.requestAnimationFrame", () => {
    const transport = createMockTransport()
    const frames: Array<() => void> = []
    const platform = { requestAnimationFrame: (callback: () => void) => frames.push(callback), cancelAnimationFrame: () => {} }
    const { result } = renderHook(() => useEventStream(URL_A, { transport, batch: 'frame', platform }))
    act(() => void transport.latest!.open())
    act(() => void transport.latest!.emit({ data: 'a' }).emit({ data: 'b' }))
    expect(frames).toHaveLength(1)
    act(() => frames[0]!())
    expect(result.current.data).toBe('b')
  })
})
