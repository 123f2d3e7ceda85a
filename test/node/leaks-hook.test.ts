// @vitest-environment jsdom
// After unmount (and the provider's grace period): no open connection at the server, no pending
// timer of the core, no listener left on window or document. The hook runs through TokenProvider
// against the reference server on 127.0.0.1; the platform only counts what is left behind.
//
// The React layer's own timers (the registry's grace timer, the provider's deferred dispose, the
// `batch` flush) run on the same platform, so the count sees them too.
import { createElement, StrictMode } from 'react'
import { act, cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, fetchTokenFrom, useEventStream, useToken } from 'use-event-stream'
import { createCountingPlatform } from '../helpers/countingPlatform'
import { useReferenceServer } from '../helpers/referenceServer'
import { sleep, until as poll } from '../helpers/wait'

const server = useReferenceServer({ heartbeatMs: 200 })
let seq = 0
afterEach(() => cleanup())

// Each pause runs inside act() so the React updates it lets through are flushed.
const until = (predicate: () => boolean, timeout: number, what: string) => poll(predicate, timeout, what, () => act(() => sleep(20)))

describe.each(['fetch', 'eventsource'] as const)('unmounting a useEventStream (%s) under a TokenProvider', (transport) => {
  it('leaves no connection, core timer or listener behind (StrictMode, shared stream, two consumers)', async () => {
    const counting = createCountingPlatform({ fetch: (...args: Parameters<typeof fetch>) => fetch(...args) })
    const channel = `seq-leak-hook-${transport}-${++seq}`
    const openAtServer = () => server().counters().connections.filter((c) => c.channel === channel && c.open).length
    let events = 0
    function Consumer() {
      const stream = useEventStream(`${server().url}/stream?channel=${channel}`, {
        transport,
        platform: counting.platform,
        idleTimeout: 10_000,
        pauseWhenHidden: 60_000,
        onEvent: () => void events++,
      })
      const token = useToken()
      return createElement('p', null, `${stream.status} ${token.status}`)
    }
    const tree = createElement(
      StrictMode,
      null,
      createElement(
        TokenProvider,
        {
          fetchToken: fetchTokenFrom(`${server().url}/auth/sse-token?ttl=30`, { headers: { 'x-api-key': server().apiKey }, fetch: (...a) => fetch(...a) }),
          platform: counting.platform,
          gracePeriod: 50,
        },
        createElement(Consumer),
        createElement(Consumer),
      ),
    )
    const view = render(tree)
    await until(() => openAtServer() === 1 && view.container.textContent?.includes('open') === true, 5000, 'open')
    server().publish(channel, { data: 'x' })
    await until(() => events === 2, 3000, 'the event in both consumers')
    expect(openAtServer()).toBe(1) // shared: one connection for two hooks, even in StrictMode
    expect(counting.timers()).toBeGreaterThanOrEqual(2)
    expect(counting.listeners()).toBeGreaterThanOrEqual(4)

    view.unmount()
    // The provider's grace period (50 ms), then the server sees the socket close.
    await until(() => openAtServer() === 0, 3000, 'server connection closed')
    await act(() => sleep(100))
    expect({ timers: counting.timers(), listeners: counting.listeners(), open: openAtServer() }).toEqual({ timers: 0, listeners: 0, open: 0 })
  })
})
