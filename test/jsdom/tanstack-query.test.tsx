// TanStack Query fed by the stream, against the reference server with the fetch transport:
// streamedQuery over iterateEvents (token rotation, resume, refetch, unmount), and the recipe
// where the stream writes into cached queries and a gap invalidates them.
import { act, cleanup, render, screen } from '@testing-library/react'
import { QueryClient, QueryClientProvider, experimental_streamedQuery as streamedQuery, useQuery } from '@tanstack/react-query'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, createEventStream, createTokenManager, useEventStream, type TokenManager } from 'use-event-stream'
import { iterateEvents } from 'use-event-stream/core'
import { connections, dropNextStreamAfter, openConnections, publish, streamUrl, tokenFetcher, uniqueChannel } from './helpers'
import { eventually, sleep } from '../helpers/wait'

type Seq = { n: number }
const parseSeq = (s: string) => JSON.parse(s) as Seq

const clients: QueryClient[] = []
const managers: TokenManager[] = []
afterEach(() => {
  cleanup()
  for (const client of clients.splice(0)) client.clear()
  for (const manager of managers.splice(0)) manager.dispose()
})

function newQueryClient(): QueryClient {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  clients.push(client)
  return client
}

describe('experimental_streamedQuery fed by iterateEvents', () => {
  it('keeps the latest state through token rotations and a dropped connection, resuming without loss or duplicates', async () => {
    const channel = uniqueChannel('tq-stream')
    // 2 s tokens: the manager fetches the next one 1 s before expiry, and the server ends a stream
    // when its token expires, so the stream rotates and resumes several times in the test.
    const fetchToken = tokenFetcher({ ttl: 2 })
    const tokens = createTokenManager({ fetchToken })
    managers.push(tokens)
    const queryClient = newQueryClient()
    const url = streamUrl(channel)
    type Latest = { last: number; count: number }

    function Feed() {
      const { data, status } = useQuery({
        queryKey: ['feed', channel],
        queryFn: streamedQuery({
          streamFn: ({ signal }) => iterateEvents(createEventStream({ url, tokens, parse: parseSeq, reconnect: { initialDelay: 50 } }), { signal }),
          reducer: (state: Latest, event) => ({ last: event.data.n, count: state.count + 1 }),
          initialValue: { last: 0, count: 0 },
        }),
      })
      return <p data-testid="feed">{`${status}:${data?.last ?? '-'}/${data?.count ?? '-'}`}</p>
    }

    // The first connection is dropped by the server after three events.
    await dropNextStreamAfter(channel, 3)
    render(
      <QueryClientProvider client={queryClient}>
        <TokenProvider tokens={tokens}>
          <Feed />
        </TokenProvider>
      </QueryClientProvider>,
    )
    await eventually(() => expect(openConnections(channel)).resolves.toBe(1))
    const TOTAL = 30
    for (let n = 1; n <= TOTAL; n++) {
      await publish(channel, { n })
      await act(() => sleep(120))
    }
    await eventually(() => expect(screen.getByTestId('feed').textContent).toBe(`success:${TOTAL}/${TOTAL}`), 8000)
    const seen = await connections(channel)
    expect(fetchToken.calls).toBeGreaterThanOrEqual(2)
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect(seen.slice(1).every((c) => c.lastEventId !== undefined)).toBe(true)
    expect(seen.filter((c) => c.open)).toHaveLength(1)
  })

  it('a refetch starts a new stream and closes the old one; unmounting closes the last', async () => {
    const channel = uniqueChannel('tq-refetch')
    const tokens = createTokenManager({ fetchToken: tokenFetcher() })
    managers.push(tokens)
    const queryClient = newQueryClient()
    const url = streamUrl(channel)
    let refetch: (() => Promise<unknown>) | undefined

    function Feed() {
      const query = useQuery({
        queryKey: ['feed', channel],
        queryFn: streamedQuery({
          streamFn: ({ signal }) => iterateEvents(createEventStream({ url, tokens, parse: parseSeq }), { signal }),
          reducer: (_: number, event) => event.data.n,
          initialValue: 0,
        }),
      })
      refetch = query.refetch
      return <p data-testid="feed">{`${query.status}:${query.data ?? '-'}`}</p>
    }

    const view = render(
      <QueryClientProvider client={queryClient}>
        <Feed />
      </QueryClientProvider>,
    )
    await eventually(() => expect(openConnections(channel)).resolves.toBe(1))
    await publish(channel, { n: 1 })
    await eventually(() => expect(screen.getByTestId('feed').textContent).toBe('success:1'))

    await act(async () => {
      void refetch!()
    })
    await eventually(async () => {
      const seen = await connections(channel)
      expect(seen).toHaveLength(2)
      expect(seen.map((c) => c.open)).toEqual([false, true])
    })
    await publish(channel, { n: 2 })
    await eventually(() => expect(screen.getByTestId('feed').textContent).toBe('success:2'))

    view.unmount()
    await eventually(() => expect(openConnections(channel)).resolves.toBe(0))
    await sleep(300)
    expect(await connections(channel)).toHaveLength(2)
  })
})

describe('recipe: the stream updates and invalidates cached queries', () => {
  it('events write into the cache with setQueryData; a gap invalidates, so the query refetches', async () => {
    const channel = uniqueChannel('tq-cache')
    const queryClient = newQueryClient()
    let fetches = 0
    const fetchPrice = async (): Promise<Seq> => {
      fetches++
      return { n: 100 * fetches }
    }

    function PriceUpdates() {
      useEventStream(streamUrl(channel), {
        events: { price: parseSeq },
        onEvent: (event) => queryClient.setQueryData<Seq>(['price', channel], event.data),
        onGap: () => void queryClient.invalidateQueries({ queryKey: ['price', channel] }),
      })
      return null
    }
    function Price() {
      const { data } = useQuery({ queryKey: ['price', channel], queryFn: fetchPrice, staleTime: Infinity })
      return <p data-testid="price">{data?.n ?? '-'}</p>
    }

    render(
      <QueryClientProvider client={queryClient}>
        <TokenProvider fetchToken={tokenFetcher()}>
          <PriceUpdates />
          <Price />
          <Price />
        </TokenProvider>
      </QueryClientProvider>,
    )
    await eventually(() => expect(screen.getAllByTestId('price').map((p) => p.textContent)).toEqual(['100', '100']))
    await eventually(() => expect(openConnections(channel)).resolves.toBe(1))

    await publish(channel, { n: 7 }, 'price')
    await eventually(() => expect(screen.getAllByTestId('price').map((p) => p.textContent)).toEqual(['7', '7']))
    expect(fetches).toBe(1)

    // The server's notice that it skipped events: the cache may be stale, so it is refetched.
    await publish(channel, { lastEventId: '1', resumedAt: '5' }, 'stream-gap')
    await eventually(() => expect(screen.getAllByTestId('price').map((p) => p.textContent)).toEqual(['200', '200']))
    expect(fetches).toBe(2)
  })
})
