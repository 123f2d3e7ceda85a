// The fetch transport on React Native: `expo/fetch` answers with its own response object whose
// body is a ReadableStream read through `getReader()`, there is no DOM, and the global `fetch`
// (React Native's own) buffers whole bodies, so it must never be the one called.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createEventStream, createTokenManager, fetchTokenFrom } from 'use-event-stream/core'
import { createReactNativePlatform } from 'use-event-stream/react-native'
import { useReferenceServer } from '../helpers/referenceServer'
import { createStreamingFetch } from '../helpers/streamingFetch'
import { until } from '../helpers/wait'

const appState = { currentState: 'active', addEventListener: () => ({ remove() {} }) }

describe('the fetch transport over an expo/fetch-like fetch (no DOM, body read with getReader)', () => {
  const server = useReferenceServer({ heartbeatMs: 200 })

  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('streams, resumes with Last-Event-ID after a drop and closes the request, all through platform.fetch', async () => {
    expect(typeof (globalThis as { document?: unknown }).document).toBe('undefined')
    // A global fetch that must not be used: React Native's buffers response bodies.
    const globalFetch = vi.fn(() => Promise.reject(new Error('the global fetch was called')))
    vi.stubGlobal('fetch', globalFetch)
    const streaming = createStreamingFetch()
    const platform = createReactNativePlatform({ AppState: appState, fetch: streaming.fetch })
    const tokens = createTokenManager({
      fetchToken: fetchTokenFrom(`${server().url}/auth/sse-token`, { fetch: streaming.fetch, headers: { 'x-api-key': server().apiKey } }),
      platform,
    })
    const channel = `seq-expo-${Date.now()}`
    const received: string[] = []
    const stream = createEventStream({
      url: `${server().url}/stream?channel=${channel}`,
      tokens,
      platform,
      reconnect: { initialDelay: 20, maxDelay: 50 },
      onEvent: (event) => received.push(event.raw),
    })
    expect(stream.getSnapshot().transport).toBe('fetch')
    stream.connect()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    server().publish(channel, { data: 'one' })
    server().publish(channel, { data: 'two' })
    await until(() => received.length === 2, 5000, 'two events')

    // The server drops the next connection's stream after one event; the stream reconnects with
    // the last id and gets what it missed, once.
    server().setFault({ route: 'stream', fault: 'drop-after:1', channel })
    stream.reconnect()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open again')
    for (const data of ['three', 'four', 'five']) server().publish(channel, { data })
    await until(() => received.length === 5, 5000, 'five events')
    expect(received).toEqual(['one', 'two', 'three', 'four', 'five'])
    const connections = server().counters().connections.filter((c) => c.channel === channel)
    expect(connections.length).toBeGreaterThanOrEqual(3)
    expect(connections.every((c) => c.authVia === 'header')).toBe(true)
    expect(connections.slice(1).every((c) => c.lastEventId !== undefined)).toBe(true)

    stream.close()
    tokens.dispose()
    await until(() => server().counters().open.stream === 0, 5000, 'the server to see every stream closed')
    expect(streaming.calls.filter((c) => c.url.includes('/stream')).at(-1)!.aborted).toBe(true)
    expect(globalFetch).not.toHaveBeenCalled()
  })
})
