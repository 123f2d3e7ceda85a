// The React bindings in a real Chromium against the reference server, through both transports:
// the browser's own EventSource (token in the query string) and fetch (Authorization header).
import { createRoot, type Root } from 'react-dom/client'
import { flushSync } from 'react-dom'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, useEventStream, type StreamEvent } from 'use-event-stream'
import { connections, openConnections, publish, streamUrl, tokenFetcher, uniqueChannel } from '../jsdom/helpers'
import { eventually, sleep } from '../helpers/wait'

let root: Root | undefined
let host: HTMLElement | undefined

function mount(element: React.ReactNode): void {
  host = document.createElement('div')
  document.body.appendChild(host)
  root = createRoot(host)
  flushSync(() => root!.render(element))
}

afterEach(() => {
  root?.unmount()
  host?.remove()
  root = undefined
})

const text = () => host!.querySelector('[data-testid="view"]')!.textContent

describe.each(['eventsource', 'fetch'] as const)('transport %s in Chromium', (transport) => {
  it('streams events with a token from the provider', async () => {
    expect(typeof EventSource).toBe('function')
    const channel = uniqueChannel(`browser-${transport}`)
    function View() {
      const { status, data } = useEventStream(streamUrl(channel), { transport, parse: (s) => JSON.parse(s) as { n: number } })
      return <p data-testid="view">{`${status}:${data?.n ?? '-'}`}</p>
    }
    mount(
      <TokenProvider fetchToken={tokenFetcher()}>
        <View />
      </TokenProvider>,
    )
    await eventually(() => expect(text()).toBe('open:-'))
    await publish(channel, { n: 1 })
    await publish(channel, { n: 2 })
    await eventually(() => expect(text()).toBe('open:2'))
    const seen = await connections(channel)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.authVia).toBe(transport === 'eventsource' ? 'query' : 'header')
  })

  it('rotates 2 s tokens without losing or repeating events, and unmount closes the connection', async () => {
    const channel = uniqueChannel(`browser-rotate-${transport}`)
    const ids: string[] = []
    function View() {
      const { status } = useEventStream(streamUrl(channel), { transport, onEvent: (e: StreamEvent<string>) => ids.push(e.id!) })
      return <p data-testid="view">{status}</p>
    }
    const fetchToken = tokenFetcher({ ttl: 2 })
    mount(
      <TokenProvider fetchToken={fetchToken} gracePeriod={100}>
        <View />
      </TokenProvider>,
    )
    await eventually(() => expect(text()).toBe('open'))
    const published: string[] = []
    for (let n = 1; n <= 30; n++) {
      published.push(await publish(channel, { n }))
      await sleep(100)
    }
    await eventually(() => expect(ids).toHaveLength(30))
    await sleep(200)
    expect(ids).toEqual(published)
    expect(fetchToken.calls).toBeGreaterThanOrEqual(2)
    expect((await connections(channel)).length).toBeGreaterThanOrEqual(2)

    root!.unmount()
    root = undefined
    await eventually(async () => expect(await openConnections(channel)).toBe(0), 3000)
  }, 15_000)
})
