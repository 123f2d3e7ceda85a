// @vitest-environment jsdom
// After unmount (and the provider's grace period): no open connection at the server, no pending
// timer of the core, no listener left on window or document. The hook runs through TokenProvider
// against the reference server on 127.0.0.1; the platform only counts what is left behind.
import { createElement, StrictMode } from 'react'
import { act, cleanup, render } from '@testing-library/react'
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TokenProvider, fetchTokenFrom, useEventStream, useToken, type Platform } from 'use-event-stream'
import { resolvePlatform } from 'use-event-stream/core'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { CountingTarget } from '../helpers/fakePlatform'

let server: ReferenceServer
let seq = 0
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, log: () => {}, heartbeatMs: 200 })
})
afterAll(async () => {
  await server.close()
})
afterEach(() => cleanup())

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
async function until(predicate: () => boolean, timeout: number, what: string): Promise<void> {
  const started = Date.now()
  while (!predicate()) {
    if (Date.now() - started > timeout) throw new Error(`timed out waiting for ${what}`)
    await act(() => sleep(20))
  }
}

function countingPlatform() {
  const host = resolvePlatform({ fetch: (...args: Parameters<typeof fetch>) => fetch(...args) })
  const timers = new Set<unknown>()
  const window = new CountingTarget()
  const document = new CountingTarget()
  const platform: Partial<Platform> = {
    setTimeout(fn, ms) {
      const handle: unknown = host.setTimeout(() => {
        timers.delete(handle)
        fn()
      }, ms)
      timers.add(handle)
      return handle
    },
    clearTimeout(handle) {
      timers.delete(handle)
      host.clearTimeout(handle)
    },
    window,
    document,
    isOnline: () => true,
    fetch: host.fetch,
    EventSource: EventSource as never,
  }
  return { platform, timers: () => timers.size, listeners: () => window.count() + document.count() }
}

describe.each(['fetch', 'eventsource'] as const)('unmounting a useEventStream (%s) under a TokenProvider', (transport) => {
  it('leaves no connection, timer or listener behind (StrictMode, shared stream, two consumers)', async () => {
    const counting = countingPlatform()
    const channel = `seq-leak-hook-${transport}-${++seq}`
    const openAtServer = () => server.counters().connections.filter((c) => c.channel === channel && c.open).length
    let events = 0
    function Consumer() {
      const stream = useEventStream(`${server.url}/stream?channel=${channel}`, {
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
          fetchToken: fetchTokenFrom(`${server.url}/auth/sse-token?ttl=30`, { headers: { 'x-api-key': server.apiKey }, fetch: (...a) => fetch(...a) }),
          platform: counting.platform,
          gracePeriod: 50,
        },
        createElement(Consumer),
        createElement(Consumer),
      ),
    )
    const view = render(tree)
    await until(() => openAtServer() === 1 && view.container.textContent?.includes('open') === true, 5000, 'open')
    server.publish(channel, { data: 'x' })
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
