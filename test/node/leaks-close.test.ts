// After close(): no open connection at the server, no pending timer, no listener left on window or
// document, whatever state the stream was in (open, backing off, paused offline, hidden, waiting
// for a token). Real timers and a real server; the platform only counts what the core leaves behind.
import { afterEach, describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, fetchTokenFrom, type EventStreamOptions } from 'use-event-stream/core'
import { createCountingPlatform } from '../helpers/countingPlatform'
import { useReferenceServer } from '../helpers/referenceServer'
import { sleep, until } from '../helpers/wait'

const server = useReferenceServer({ heartbeatMs: 200 })
let seq = 0
afterEach(() => server().resetCounters())

function setup(transport: 'fetch' | 'eventsource', extra: Partial<EventStreamOptions<string>> = {}, tokenQuery = 'ttl=30') {
  const counting = createCountingPlatform()
  const channel = `seq-leak-${transport}-${++seq}`
  const tokens = createTokenManager({
    fetchToken: fetchTokenFrom(`${server().url}/auth/sse-token?${tokenQuery}`, { headers: { 'x-api-key': server().apiKey } }),
    platform: counting.platform,
  })
  const stream = createEventStream({
    url: `${server().url}/stream?channel=${channel}`,
    transport,
    tokens,
    platform: counting.platform,
    reconnect: { initialDelay: 5000, maxDelay: 5000 },
    idleTimeout: 10_000,
    pauseWhenHidden: 60_000,
    ...extra,
  })
  const openAtServer = () => server().counters().connections.filter((c) => c.channel === channel && c.open).length
  return { ...counting, channel, tokens, stream, openAtServer }
}

async function expectNothingLeft(s: ReturnType<typeof setup>, label: string, options: { tokenRequestInFlight?: boolean } = {}) {
  s.stream.close()
  // The server notices the socket closing on its next turn.
  await until(() => s.openAtServer() === 0, 3000, `${label}: server connection closed`)
  if (options.tokenRequestInFlight) {
    // The token manager (shared, not the stream's to dispose) finishes its request so the answer
    // is cached; the request's timeout timer is the one thing alive, and only until it answers.
    expect({ status: s.tokens.getSnapshot().status, timers: s.timers() }).toEqual({ status: 'loading', timers: 1 })
    await until(() => s.tokens.getSnapshot().status !== 'loading', 5000, `${label}: token request settled`)
  }
  expect({ label, status: s.stream.getSnapshot().status, timers: s.timers(), listeners: s.listeners(), open: s.openAtServer() }).toEqual({
    label,
    status: 'closed',
    timers: 0,
    listeners: 0,
    open: 0,
  })
  s.tokens.dispose()
  expect(s.timers()).toBe(0)
}

describe.each(['fetch', 'eventsource'] as const)('close() with the %s transport', (transport) => {
  it('while open (idle watchdog, stability timer, token refresh timer, listeners all armed)', async () => {
    const s = setup(transport)
    s.stream.connect()
    await until(() => s.stream.getSnapshot().status === 'open' && s.openAtServer() === 1, 5000, 'open')
    // Guard against a vacuous pass: things were armed.
    expect(s.timers()).toBeGreaterThanOrEqual(2)
    expect(s.listeners()).toBeGreaterThanOrEqual(4)
    await expectNothingLeft(s, 'open')
  })

  it('while backing off after a 500 (retry timer pending)', async () => {
    const s = setup(transport)
    server().setFault({ route: 'stream', fault: 'status:500', count: 5, channel: s.channel })
    s.stream.connect()
    await until(() => s.stream.getSnapshot().status === 'reconnecting' && s.stream.getSnapshot().retryAt !== undefined, 5000, 'reconnecting')
    expect(s.timers()).toBeGreaterThanOrEqual(1)
    await expectNothingLeft(s, 'reconnecting')
  })

  it('while paused offline', async () => {
    const s = setup(transport)
    s.stream.connect()
    await until(() => s.stream.getSnapshot().status === 'open', 5000, 'open')
    s.setOnline(false)
    expect(s.stream.getSnapshot().status).toBe('paused')
    await expectNothingLeft(s, 'paused')
  })

  it('while hidden (pause timer pending)', async () => {
    const s = setup(transport)
    s.stream.connect()
    await until(() => s.stream.getSnapshot().status === 'open', 5000, 'open')
    s.document.visibilityState = 'hidden'
    s.document.dispatch('visibilitychange')
    await expectNothingLeft(s, 'hidden')
  })

  it('while the token request is still in flight', async () => {
    const s = setup(transport, {}, 'ttl=30&fault=delay:3000')
    s.stream.connect()
    // The server holds the token request for 3 s.
    await until(() => s.tokens.getSnapshot().status === 'loading', 2000, 'the token request')
    await expectNothingLeft(s, 'token in flight', { tokenRequestInFlight: true })
    // The late token answer must not open anything.
    await sleep(200)
    expect(s.openAtServer()).toBe(0)
  })

  it('after a token rotation with overlap (old and new connections both released)', async () => {
    const s = setup(transport, {}, 'ttl=2')
    s.stream.connect()
    await until(() => s.tokens.version >= 2 && s.stream.getSnapshot().status === 'open', 5000, 'a rotation')
    await sleep(100)
    await expectNothingLeft(s, 'rotated')
  })
})
