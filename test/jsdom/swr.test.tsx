// SWR's useSWRSubscription fed by a core stream, against the reference server with the fetch
// transport: the recipe of docs/swr.md, as written there.
import { act, cleanup, render, screen } from '@testing-library/react'
import { SWRConfig } from 'swr'
import useSWRSubscription, { type SWRSubscriptionOptions } from 'swr/subscription'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, EventStreamError, type TokenManager } from 'use-event-stream'
import { connections, dropNextStreamAfter, openConnections, publish, streamUrl, tokenFetcher, uniqueChannel } from './helpers'
import { eventually, sleep } from '../helpers/wait'

type Seq = { n: number }

const managers: TokenManager[] = []
afterEach(() => {
  cleanup()
  for (const manager of managers.splice(0)) manager.dispose()
})

/** The recipe: one stream per subscribed key; SWR shares it among the components using the key. */
function subscribeTo(tokens: TokenManager) {
  return (url: string, { next }: SWRSubscriptionOptions<Seq, EventStreamError>) => {
    const stream = createEventStream({
      url,
      tokens,
      parse: (s) => JSON.parse(s) as Seq,
      reconnect: { initialDelay: 50 },
      onEvent: (event) => next(null, event.data),
    })
    const unsubscribe = stream.subscribe(() => {
      const snapshot = stream.getSnapshot()
      if (snapshot.status === 'failed') next(snapshot.error)
    })
    stream.connect()
    return () => {
      unsubscribe()
      stream.close()
    }
  }
}

function App({ children }: { children: React.ReactNode }) {
  // A cache of its own per test: SWR's default cache is global.
  return <SWRConfig value={{ provider: () => new Map() }}>{children}</SWRConfig>
}

describe('useSWRSubscription fed by the stream', () => {
  it('components using one key share one connection, show the latest event across a resumed connection, and unmounting closes it', async () => {
    const channel = uniqueChannel('swr')
    const tokens = createTokenManager({ fetchToken: tokenFetcher() })
    managers.push(tokens)
    const subscribe = subscribeTo(tokens)
    const url = streamUrl(channel)
    function Price({ id }: { id: string }) {
      const { data } = useSWRSubscription(url, subscribe)
      return <p data-testid={id}>{data?.n ?? '-'}</p>
    }
    // The first connection is dropped by the server after two events.
    await dropNextStreamAfter(channel, 2)
    const view = render(
      <App>
        <Price id="a" />
        <Price id="b" />
      </App>,
    )
    await eventually(() => expect(openConnections(channel)).resolves.toBe(1))
    for (let n = 1; n <= 5; n++) {
      await publish(channel, { n })
      await act(() => sleep(60))
    }
    await eventually(() => expect([screen.getByTestId('a').textContent, screen.getByTestId('b').textContent]).toEqual(['5', '5']))
    const seen = await connections(channel)
    expect(seen).toHaveLength(2)
    expect(seen[1]!.lastEventId).toBeDefined()
    view.unmount()
    await eventually(() => expect(openConnections(channel)).resolves.toBe(0))
  })

  it("a failed stream is SWR's error: the typed EventStreamError", async () => {
    const tokens = createTokenManager({ fetchToken: tokenFetcher() })
    managers.push(tokens)
    const subscribe = subscribeTo(tokens)
    // The reference server answers 404 for an unknown channel: not retried, the stream fails.
    const url = streamUrl('no-such-channel')
    let error: unknown
    function Price() {
      const result = useSWRSubscription(url, subscribe)
      error = result.error
      return <p data-testid="state">{result.error ? `${result.error.kind} ${result.error.status}` : 'waiting'}</p>
    }
    render(
      <App>
        <Price />
      </App>,
    )
    await eventually(() => expect(screen.getByTestId('state').textContent).toBe('http 404'))
    expect(error).toBeInstanceOf(EventStreamError)
  })
})
