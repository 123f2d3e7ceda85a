// The React bindings end to end: real HTTP to the reference server with the fetch transport.
// Every test uses its own `seq-*` channel and reads the server's connection list for it.
import { StrictMode, useEffect, useState } from 'react'
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, useEventStream, useToken, type StreamEvent } from 'use-event-stream'
import { connections, openConnections, publish, streamUrl, tokenFetcher, uniqueChannel } from './helpers'
import { eventually, sleep } from '../helpers/wait'

afterEach(() => {
  cleanup()
})

type Seq = { n: number }
const parseSeq = (s: string) => JSON.parse(s) as Seq

describe('useEventStream against the reference server', () => {
  it('StrictMode opens exactly one connection, with the token in the Authorization header', async () => {
    const channel = uniqueChannel('strict')
    const fetchToken = tokenFetcher()
    function View() {
      const { status, data } = useEventStream(streamUrl(channel), { transport: 'fetch', parse: parseSeq })
      return <p data-testid="view">{`${status}:${data?.n ?? '-'}`}</p>
    }
    render(
      <StrictMode>
        <TokenProvider fetchToken={fetchToken}>
          <View />
        </TokenProvider>
      </StrictMode>,
    )
    await eventually(() => expect(screen.getByTestId('view').textContent).toBe('open:-'))
    await publish(channel, { n: 1 })
    await eventually(() => expect(screen.getByTestId('view').textContent).toBe('open:1'))
    const seen = await connections(channel)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.authVia).toBe('header')
    expect(fetchToken.calls).toBe(1)
  })

  it('100 components on one stream make one connection, all see each event, and unmounting closes it after the grace period', async () => {
    const channel = uniqueChannel('hundred')
    const url = streamUrl(channel)
    let received = 0
    // When the client gives up the connection (the server notices a closed socket only on its next
    // write, a heartbeat 1 s later: too late to tell the grace period from none)...
    let abortedAt: number | undefined
    const platform = {
      fetch: ((input, init) => {
        init?.signal?.addEventListener('abort', () => void (abortedAt ??= Date.now()))
        return fetch(input, init)
      }) as typeof fetch,
    }
    // ...and when the last component was leaving: this effect is declared before the hook, so
    // React cleans it up just before the hook lets go of the stream.
    let lastLeftAt = 0
    function Item({ i }: { i: number }) {
      useEffect(() => () => void (lastLeftAt = Date.now()), [])
      const { data } = useEventStream(url, { transport: 'fetch', parse: parseSeq, onEvent: () => received++, platform })
      return <li data-testid="item">{`${i}:${data?.n ?? '-'}`}</li>
    }
    function App() {
      const [shown, setShown] = useState(true)
      return (
        <TokenProvider fetchToken={tokenFetcher()} gracePeriod={300}>
          <button type="button" onClick={() => setShown(false)}>
            hide
          </button>
          <ul>{shown && Array.from({ length: 100 }, (_, i) => <Item key={i} i={i} />)}</ul>
        </TokenProvider>
      )
    }
    render(<App />)
    await eventually(async () => expect(await openConnections(channel)).toBe(1))
    await publish(channel, { n: 7 })
    await eventually(() => expect(screen.getAllByTestId('item').every((el) => el.textContent!.endsWith(':7'))).toBe(true))
    expect(received).toBe(100)
    expect(await connections(channel)).toHaveLength(1)

    act(() => screen.getByRole('button').click())
    // The connection is kept for the grace period (a quick remount would reuse it). A timer never
    // fires early, so however loaded the machine, the abort comes 300 ms or more after the last
    // component left, as timers count: Node's timer clock and `Date.now()` round to the
    // millisecond apart, so `Date.now()` may read one less (seen: 299).
    await eventually(() => expect(abortedAt).toBeDefined(), 3000)
    expect(lastLeftAt).toBeGreaterThan(0)
    expect(abortedAt! - lastLeftAt).toBeGreaterThanOrEqual(299)
    // Then the server sees the client leave.
    await eventually(async () => expect(await openConnections(channel)).toBe(0), 3000)
    expect((await connections(channel))[0]!.endReason).toBe('client')
  })

  it('token rotation (2 s tokens) under the provider loses and duplicates nothing', async () => {
    const channel = uniqueChannel('rotation')
    const fetchToken = tokenFetcher({ ttl: 2 })
    const ids: string[] = []
    let view: { state: number[]; status: string } = { state: [], status: 'idle' }
    function View() {
      const result = useEventStream(streamUrl(channel), {
        transport: 'fetch',
        parse: parseSeq,
        onEvent: (event: StreamEvent<Seq>) => ids.push(event.id!),
        reduce: (list: number[], event) => [...list, event.data.n],
        initialState: [] as number[],
      })
      view = { state: result.state, status: result.status }
      return null
    }
    render(
      <TokenProvider fetchToken={fetchToken}>
        <View />
      </TokenProvider>,
    )
    await eventually(() => expect(view.status).toBe('open'))
    // ~4.4 s of events every 100 ms spans two token lifetimes (each refreshed 1 s before expiry).
    const published: string[] = []
    for (let n = 1; n <= 44; n++) {
      published.push(await publish(channel, { n }))
      await sleep(100)
    }
    await eventually(() => expect(ids).toHaveLength(44))
    await sleep(200)
    expect(ids).toEqual(published)
    expect(view.state).toEqual(Array.from({ length: 44 }, (_, i) => i + 1))
    expect(fetchToken.calls).toBeGreaterThanOrEqual(3)
    const seen = await connections(channel)
    expect(seen.length).toBeGreaterThanOrEqual(3)
    // No connection was cut by an expired token: each was replaced before its token ran out.
    expect(seen.filter((c) => c.endReason === 'token-expired')).toHaveLength(0)
  }, 15_000)

  it('a null url or enabled: false makes no request; enabling connects', async () => {
    const channel = uniqueChannel('idle')
    const fetchToken = tokenFetcher()
    let setUrl!: (url: string | null) => void
    let setEnabled!: (enabled: boolean) => void
    function View() {
      const [url, setU] = useState<string | null>(null)
      const [enabled, setE] = useState(true)
      setUrl = setU
      setEnabled = setE
      const { status } = useEventStream(url, { transport: 'fetch', enabled })
      return <p data-testid="view">{status}</p>
    }
    render(
      <TokenProvider fetchToken={fetchToken}>
        <View />
      </TokenProvider>,
    )
    expect(screen.getByTestId('view').textContent).toBe('idle')
    act(() => {
      setEnabled(false)
      setUrl(streamUrl(channel))
    })
    await sleep(200)
    expect(screen.getByTestId('view').textContent).toBe('idle')
    expect(fetchToken.calls).toBe(0)
    expect(await connections(channel)).toHaveLength(0)
    act(() => setEnabled(true))
    await eventually(() => expect(screen.getByTestId('view').textContent).toBe('open'))
    expect(await connections(channel)).toHaveLength(1)
  })

  it('changing the url reconnects; changing onEvent does not', async () => {
    const first = uniqueChannel('url-a')
    const second = uniqueChannel('url-b')
    const log: string[] = []
    let setChannel!: (channel: string) => void
    let setLabel!: (label: string) => void
    function View() {
      const [channel, setC] = useState(first)
      const [label, setL] = useState('one')
      setChannel = setC
      setLabel = setL
      const { status } = useEventStream(streamUrl(channel), { transport: 'fetch', onEvent: (e) => log.push(`${label}:${e.data}`) })
      return <p data-testid="view">{status}</p>
    }
    render(
      <TokenProvider fetchToken={tokenFetcher()} gracePeriod={0}>
        <View />
      </TokenProvider>,
    )
    await eventually(async () => expect(await openConnections(first)).toBe(1))
    act(() => setLabel('two'))
    await publish(first, 'x')
    await eventually(() => expect(log).toEqual(['two:x']))
    expect(await connections(first)).toHaveLength(1)

    act(() => setChannel(second))
    await eventually(async () => expect(await openConnections(second)).toBe(1))
    await eventually(async () => expect(await openConnections(first)).toBe(0))
    await publish(second, 'y')
    await eventually(() => expect(log).toEqual(['two:x', 'two:y']))
  })

  it('useToken follows the provider’s manager', async () => {
    const channel = uniqueChannel('token')
    function View() {
      useEventStream(streamUrl(channel), { transport: 'fetch' })
      const { status, lifetime } = useToken()
      return <p data-testid="view">{`${status}:${lifetime ?? '-'}`}</p>
    }
    render(
      <TokenProvider fetchToken={tokenFetcher({ ttl: 30 })}>
        <View />
      </TokenProvider>,
    )
    await eventually(() => expect(screen.getByTestId('view').textContent).toBe('valid:30000'))
  })
})

describe('render counts under a burst (real network)', () => {
  async function burst(batch: false | number) {
    const channel = uniqueChannel(`burst-${batch}`)
    let renders = 0
    let last = { state: 0, status: 'idle' }
    function View() {
      renders++
      const { state, status } = useEventStream(streamUrl(channel), { transport: 'fetch', batch, reduce: (n: number) => n + 1, initialState: 0 })
      last = { state, status }
      return null
    }
    render(
      <TokenProvider fetchToken={tokenFetcher()}>
        <View />
      </TokenProvider>,
    )
    await eventually(() => expect(last.status).toBe('open'))
    const before = renders
    const started = Date.now()
    for (let n = 1; n <= 120; n++) await publish(channel, { n })
    await eventually(() => expect(last.state).toBe(120))
    return { renders: renders - before, elapsed: Date.now() - started }
  }

  it('batching caps re-renders without losing events', async () => {
    const plain = await burst(false)
    const batched = await burst(100)
    // Without batching, nearly every network chunk renders; with 100 ms batches, one per window.
    expect(plain.renders).toBeGreaterThan(20)
    expect(batched.renders).toBeLessThanOrEqual(Math.ceil(batched.elapsed / 100) + 2)
    expect(batched.renders).toBeLessThan(plain.renders)
  })
})
