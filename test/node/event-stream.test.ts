// State-machine rules of createEventStream, driven through the library's mock transport and mock
// tokens on a virtual clock. The same rules are exercised end to end against the reference server in
// event-stream-server.test.ts; that no token reaches an error or a snapshot needs real transports
// (they build the URLs and messages) and is checked in security-token.test.ts.
import { describe, expect, it } from 'vitest'
import { createEventStream, type EventStreamError } from 'use-event-stream/core'
import { createMockTokens, createMockTransport } from 'use-event-stream/testing'
import { createFakePlatform } from '../helpers/fakePlatform'

function setup(extra: Parameters<typeof createEventStream<string>>[0] extends infer O ? Partial<O> : never = {}) {
  const clock = createFakePlatform()
  const transport = createMockTransport()
  const seen: string[] = []
  const stream = createEventStream<string>({
    url: 'http://127.0.0.1:9/stream',
    transport,
    platform: clock.platform,
    onEvent: (e) => seen.push(e.data),
    ...extra,
  })
  return { clock, transport, stream, seen }
}

describe('createEventStream state machine', () => {
  it('connects, opens, delivers events and tracks the last event id', async () => {
    const { transport, stream, seen, clock } = setup()
    expect(stream.getSnapshot().status).toBe('idle')
    stream.connect()
    await clock.advance(0)
    expect(stream.getSnapshot().status).toBe('connecting')
    transport.latest!.open().emit({ data: 'a', id: '1' }).emit({ data: 'b' })
    const snap = stream.getSnapshot()
    expect(snap.status).toBe('open')
    expect(seen).toEqual(['a', 'b'])
    expect(snap.data).toBe('b')
    // The id carries over to events without their own id, as the spec says.
    expect(snap.lastEventId).toBe('1')
    expect(snap.lastEvent).toMatchObject({ type: 'message', data: 'b', id: '1' })
    expect(snap.eventCount).toBe(2)
  })

  it('delivers only the requested event types but still tracks their ids', async () => {
    const { transport, stream, seen, clock } = setup({ events: ['tick'] })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ type: 'tick', data: 't1', id: '1' }).emit({ type: 'other', data: 'x', id: '2' })
    expect(seen).toEqual(['t1'])
    expect(stream.getSnapshot().lastEventId).toBe('2')
  })

  it('an id-only block updates lastEventId without an event', async () => {
    const { transport, stream, seen, clock } = setup()
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().id('42')
    expect(seen).toEqual([])
    expect(stream.getSnapshot().lastEventId).toBe('42')
    expect(stream.getSnapshot().eventCount).toBe(0)
  })

  it('a snapshot is a new object only when something changed', async () => {
    const { transport, stream, clock } = setup()
    let notifications = 0
    stream.subscribe(() => notifications++)
    stream.connect()
    await clock.advance(0)
    transport.latest!.open()
    const before = stream.getSnapshot()
    const n = notifications
    transport.latest!.heartbeat().heartbeat()
    expect(stream.getSnapshot()).toBe(before)
    expect(notifications).toBe(n)
  })

  it('reconnects after a network error with full-jitter backoff and resumes from the last id', async () => {
    const { transport, stream, clock } = setup({ reconnect: { initialDelay: 1000, maxDelay: 8000 } })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: 'a', id: '7' }).fail('network')
    const snap = stream.getSnapshot()
    expect(snap.status).toBe('reconnecting')
    expect(snap.attempt).toBe(1)
    expect(snap.error?.kind).toBe('network')
    // random() is 0.5 in the fake platform: half of the first cap (1000 ms).
    expect(snap.retryAt).toBe(clock.platform.now() + 500)
    await clock.advance(499)
    expect(transport.connections).toHaveLength(1)
    await clock.advance(1)
    expect(transport.connections).toHaveLength(2)
    expect(transport.connections[1]!.lastEventId).toBe('7')
  })

  it('backoff caps grow exponentially up to maxDelay; the attempt counter resets after a stable open', async () => {
    const { transport, stream, clock } = setup({ reconnect: { initialDelay: 1000, maxDelay: 4000, stableAfter: 5000 } })
    stream.connect()
    await clock.advance(0)
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      transport.latest!.fail('network')
      const snap = stream.getSnapshot()
      waits.push(snap.retryAt! - clock.platform.now())
      await clock.advance(snap.retryAt! - clock.platform.now())
    }
    expect(waits).toEqual([500, 1000, 2000, 2000, 2000])
    transport.latest!.open()
    expect(stream.getSnapshot().attempt).toBe(5)
    await clock.advance(5000)
    expect(stream.getSnapshot().attempt).toBe(0)
  })

  it("adds the jitter on top of the server's retry:, so clients told the same retry still spread", async () => {
    const delays: number[] = []
    for (const r of [0, 0.5, 0.999]) {
      const clock = createFakePlatform({ random: () => r })
      const transport = createMockTransport()
      const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform })
      stream.connect()
      await clock.advance(0)
      transport.latest!.open().retry(3000).fail('network')
      delays.push(stream.getSnapshot().retryAt! - clock.platform.now())
    }
    // Never sooner than retry:, spread over the first backoff window (1000 ms) above it.
    expect(delays).toEqual([3000, 3500, 3999])
  })

  it('429 and 503 wait for Retry-After; other 5xx retry; other 4xx fail', async () => {
    const { transport, stream, clock } = setup()
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('http', { status: 429, retryAfter: 7000 })
    expect(stream.getSnapshot().status).toBe('reconnecting')
    // Retry-After plus the attempt's jitter (random() is 0.5: half of the 1000 ms cap).
    expect(stream.getSnapshot().retryAt! - clock.platform.now()).toBe(7500)
    await clock.advance(7500)
    transport.latest!.fail('http', { status: 503, retryAfter: 2000 })
    expect(stream.getSnapshot().retryAt! - clock.platform.now()).toBe(2000 + 1000)
    await clock.advance(3000)
    transport.latest!.fail('http', { status: 500 })
    expect(stream.getSnapshot().status).toBe('reconnecting')
    await clock.advance(60_000)
    transport.latest!.fail('http', { status: 404 })
    const snap = stream.getSnapshot()
    expect(snap.status).toBe('failed')
    expect(snap.error).toMatchObject({ kind: 'http', status: 404 })
    await clock.advance(120_000)
    expect(transport.connections).toHaveLength(4)
    expect(clock.pendingTimers()).toBe(0)
  })

  it('a wrong Content-Type and an oversized line fail without retrying', async () => {
    for (const kind of ['content-type', 'line-too-long'] as const) {
      const { transport, stream, clock } = setup()
      stream.connect()
      await clock.advance(0)
      transport.latest!.fail(kind)
      expect(stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind } })
      await clock.advance(60_000)
      expect(transport.connections).toHaveLength(1)
    }
  })

  it('204 closes the stream with no further requests', async () => {
    const { transport, stream, clock } = setup()
    stream.connect()
    await clock.advance(0)
    transport.latest!.noContent()
    expect(stream.getSnapshot().status).toBe('closed')
    await clock.advance(120_000)
    expect(transport.connections).toHaveLength(1)
    expect(clock.pendingTimers()).toBe(0)
  })

  it('a clean close after a stable connection reconnects within the first window; a quick close backs off', async () => {
    const { transport, stream, clock } = setup({ reconnect: { stableAfter: 1000 } })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: 'x', id: '3' })
    await clock.advance(2000)
    transport.latest!.end()
    expect(stream.getSnapshot().attempt).toBe(0)
    await clock.advance(499)
    expect(transport.connections).toHaveLength(1)
    await clock.advance(1)
    expect(transport.connections).toHaveLength(2)
    expect(transport.connections[1]!.lastEventId).toBe('3')
    transport.latest!.open().end()
    expect(stream.getSnapshot().status).toBe('reconnecting')
    expect(stream.getSnapshot().attempt).toBe(1)
  })

  it('reconnect: false fails on the first error and closes on a clean end; maxAttempts gives up with kind max-attempts', async () => {
    const a = setup({ reconnect: false })
    a.stream.connect()
    await a.clock.advance(0)
    a.transport.latest!.fail('network')
    expect(a.stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'network' } })
    a.stream.connect()
    await a.clock.advance(0)
    a.transport.latest!.open().end()
    await a.clock.advance(60_000)
    expect(a.stream.getSnapshot().status).toBe('closed')
    expect(a.transport.connections).toHaveLength(2)

    const b = setup({ reconnect: { maxAttempts: 2 } })
    b.stream.connect()
    await b.clock.advance(0)
    for (let i = 0; i < 3; i++) {
      b.transport.latest!.fail('network')
      await b.clock.advance(60_000)
    }
    expect(b.stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'max-attempts' } })
    expect(b.transport.connections).toHaveLength(3)
  })

  it('a throwing parse reports a parse error to onError, leaves the open snapshot without an error, and the stream goes on', async () => {
    const errors: EventStreamError[] = []
    const { transport, stream, clock } = setup({ parse: (s: string) => JSON.parse(s), onError: (e) => errors.push(e) })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: '{bad', id: '1' })
    let snap = stream.getSnapshot()
    expect(snap.status).toBe('open')
    expect(errors.map((e) => e.kind)).toEqual(['parse'])
    expect(snap.error).toBeUndefined()
    expect(snap.lastEventId).toBe('1')
    transport.latest!.emit({ data: '{"ok":true}', id: '2' })
    snap = stream.getSnapshot()
    expect(snap.data).toEqual({ ok: true })
    expect(snap.eventCount).toBe(1)
  })

  it('the idle watchdog reconnects when nothing arrives; heartbeats keep it alive', async () => {
    const { transport, stream, clock } = setup({ idleTimeout: 10_000 })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open()
    for (let i = 0; i < 5; i++) {
      await clock.advance(9000)
      transport.latest!.heartbeat()
    }
    expect(transport.connections).toHaveLength(1)
    await clock.advance(10_000)
    expect(stream.getSnapshot()).toMatchObject({ status: 'reconnecting', error: { kind: 'idle-timeout' } })
    expect(transport.connections[0]!.aborted).toBe(true)
  })

  it('offline pauses, online reconnects at once', async () => {
    const { transport, stream, clock } = setup()
    stream.connect()
    await clock.advance(0)
    transport.latest!.open()
    clock.setOnline(false)
    expect(stream.getSnapshot().status).toBe('paused')
    expect(transport.connections[0]!.aborted).toBe(true)
    await clock.advance(60_000)
    expect(transport.connections).toHaveLength(1)
    clock.setOnline(true)
    await clock.advance(0)
    expect(transport.connections).toHaveLength(2)
  })

  it('stays connected while hidden by default; pauseWhenHidden pauses and resumes', async () => {
    const a = setup()
    a.stream.connect()
    await a.clock.advance(0)
    a.transport.latest!.open()
    a.clock.setHidden(true)
    await a.clock.advance(600_000)
    expect(a.stream.getSnapshot().status).toBe('open')

    const b = setup({ pauseWhenHidden: 30_000 })
    b.stream.connect()
    await b.clock.advance(0)
    b.transport.latest!.open()
    b.clock.setHidden(true)
    await b.clock.advance(29_000)
    expect(b.stream.getSnapshot().status).toBe('open')
    await b.clock.advance(1000)
    expect(b.stream.getSnapshot().status).toBe('paused')
    b.clock.setHidden(false)
    await b.clock.advance(0)
    expect(b.transport.connections).toHaveLength(2)
  })

  it('close() leaves no timer, listener or connection behind', async () => {
    const tokens = createMockTokens()
    const { transport, stream, clock } = setup({ tokens, idleTimeout: 5000, pauseWhenHidden: 1000 })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open()
    expect(clock.window.count()).toBeGreaterThan(0)
    stream.close()
    expect(stream.getSnapshot().status).toBe('closed')
    expect(transport.connections[0]!.aborted).toBe(true)
    expect(clock.pendingTimers()).toBe(0)
    expect(clock.window.count()).toBe(0)
    expect(clock.document.count()).toBe(0)
    expect(tokens.subscriberCount).toBe(0)
    // and during a backoff wait
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('network')
    expect(clock.pendingTimers()).toBe(1)
    stream.close()
    expect(clock.pendingTimers()).toBe(0)
  })
})

describe('createEventStream with a token manager', () => {
  it('401 → one forced refresh and reconnect; a second 401 in a row → failed unauthorized', async () => {
    const tokens = createMockTokens()
    const { transport, stream, clock } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    const rejected = tokens.token!
    expect(transport.latest!.tokenEquals(rejected)).toBe(true)
    transport.latest!.fail('unauthorized', { status: 401 })
    await clock.advance(0)
    // The rejected token's version: only a newer token is used from here on.
    expect(tokens.requests.at(-1)).toMatchObject({ newerThan: 1 })
    expect(transport.connections).toHaveLength(2)
    expect(transport.latest!.tokenEquals(tokens.token!)).toBe(true)
    expect(tokens.token).not.toBe(rejected)
    transport.latest!.fail('unauthorized', { status: 401 })
    await clock.advance(60_000)
    expect(stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'unauthorized', status: 401 } })
    expect(transport.connections).toHaveLength(2)
  })

  it('an auth failure after a successful open starts the count again', async () => {
    const tokens = createMockTokens()
    const { transport, stream, clock } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('unauthorized', { status: 401 })
    await clock.advance(0)
    transport.latest!.open().fail('unauthorized', { status: 403 })
    await clock.advance(0)
    expect(stream.getSnapshot().status).not.toBe('failed')
    expect(transport.connections).toHaveLength(3)
  })

  it('a terminal token failure ends the stream failed; a transient one backs off', async () => {
    // No token yet, and the first request for one fails on the network.
    const tokens = createMockTokens({ initial: 'pending' })
    tokens.fail('network')
    const { transport, stream, clock } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    expect(stream.getSnapshot()).toMatchObject({ status: 'reconnecting', error: { kind: 'token' } })
    expect(transport.connections).toHaveLength(0)
    tokens.unauthorize()
    await clock.advance(0)
    expect(stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'unauthorized' } })
    await clock.advance(600_000)
    expect(transport.connections).toHaveLength(0)
  })

  it("a terminal token failure ends an open stream whatever the rotation policy (even 'none')", async () => {
    for (const rotation of ['overlap', 'reconnect', 'none'] as const) {
      const tokens = createMockTokens()
      const { transport, stream, clock } = setup({ tokens, rotation })
      stream.connect()
      await clock.advance(0)
      const connection = transport.latest!.open()
      tokens.unauthorize()
      expect(stream.getSnapshot(), rotation).toMatchObject({ status: 'failed', error: { kind: 'unauthorized' } })
      expect(connection.aborted, rotation).toBe(true)
    }
  })

  it("rotation 'overlap' switches connections without losing or duplicating events", async () => {
    const tokens = createMockTokens()
    const { transport, stream, clock, seen } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    const first = transport.latest!
    first.open().emit({ data: 'e1', id: '1' }).emit({ data: 'e2', id: '2' })
    const next = tokens.rotate()
    await clock.advance(0)
    expect(transport.connections).toHaveLength(2)
    const second = transport.connections[1]!
    expect(second.tokenEquals(next)).toBe(true)
    expect(second.lastEventId).toBe('2')
    // The old connection keeps delivering until the new one opens.
    first.emit({ data: 'e3', id: '3' })
    second.open()
    expect(first.aborted).toBe(true)
    // The server replays after id 2: e3 again (dropped), then e4.
    second.emit({ data: 'e3', id: '3' }).emit({ data: 'e4', id: '4' }).emit({ data: 'e5', id: '5' })
    expect(seen).toEqual(['e1', 'e2', 'e3', 'e4', 'e5'])
    expect(stream.getSnapshot().status).toBe('open')
    expect(stream.getSnapshot().openCount).toBe(2)
  })

  it("rotation 'overlap': a failing candidate keeps the working connection", async () => {
    const tokens = createMockTokens()
    const { transport, stream, clock, seen } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    const first = transport.latest!.open().emit({ data: 'resume point', id: '0' })
    tokens.rotate()
    await clock.advance(0)
    transport.connections[1]!.fail('network')
    first.emit({ data: 'still here', id: '1' })
    expect(seen).toEqual(['resume point', 'still here'])
    expect(stream.getSnapshot().status).toBe('open')
  })

  it("rotation 'reconnect' reopens with the new token; 'none' keeps the connection", async () => {
    const t1 = createMockTokens()
    const a = setup({ tokens: t1, rotation: 'reconnect' })
    a.stream.connect()
    await a.clock.advance(0)
    a.transport.latest!.open().emit({ data: 'x', id: '9' })
    const next = t1.rotate()
    await a.clock.advance(0)
    expect(a.transport.connections[0]!.aborted).toBe(true)
    expect(a.transport.connections[1]!.tokenEquals(next)).toBe(true)
    expect(a.transport.connections[1]!.lastEventId).toBe('9')

    const t2 = createMockTokens()
    const b = setup({ tokens: t2, rotation: 'none' })
    b.stream.connect()
    await b.clock.advance(0)
    b.transport.latest!.open()
    t2.rotate()
    await b.clock.advance(0)
    expect(b.transport.connections).toHaveLength(1)
    expect(b.transport.connections[0]!.aborted).toBe(false)
  })
})

describe('the host through the platform only', () => {
  it('a relative url resolves against platform.location, not a global', async () => {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const stream = createEventStream({ url: '/api/stream?channel=a', transport, platform: { ...clock.platform, location: { href: 'https://app.example.test/page' } } })
    stream.connect()
    await clock.advance(0)
    expect(transport.latest!.url.href).toBe('https://app.example.test/api/stream?channel=a')
    stream.close()
  })
})
