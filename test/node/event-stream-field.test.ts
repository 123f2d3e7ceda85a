// Promises the stream makes under conditions real apps meet: a token endpoint that blips while the
// stream recovers from a 401, many streams rejected at once, "sign in again", partial ids under
// rotation, hanging rotation candidates, huge server delays, hidden and paused pages, throwing
// callbacks. Against a real HTTP server on 127.0.0.1 where the network matters, on a virtual clock
// where only the schedule does.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createEventStream, createTokenManager, EventStreamError, fetchTokenFrom, type EventStream, type EventStreamOptions, type TokenManager } from 'use-event-stream/core'
import { createMockTokens, createMockTransport } from 'use-event-stream/testing'
import { createFakePlatform } from '../helpers/fakePlatform'
import { ledger, startReplayServer, type ReplayServer } from '../helpers/replayServer'
import { sleep, until } from '../helpers/wait'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  vi.unstubAllGlobals()
})

async function replayServer(options: Parameters<typeof startReplayServer>[0]): Promise<ReplayServer> {
  const server = await startReplayServer(options)
  cleanups.push(() => server.close())
  return server
}

function managerFor(server: ReplayServer, retry = { initialDelay: 50, maxDelay: 200 }): TokenManager {
  const tokens = createTokenManager({ fetchToken: fetchTokenFrom(server.tokenUrl), retry })
  cleanups.push(() => tokens.dispose())
  return tokens
}

function streamFor(server: ReplayServer, extra: Partial<EventStreamOptions<string>> = {}) {
  const received: string[] = []
  const errors: EventStreamError[] = []
  const stream = createEventStream<string>({
    url: server.streamUrl,
    transport: 'fetch',
    reconnect: { initialDelay: 50, maxDelay: 200 },
    onEvent: (e) => received.push(e.data),
    onError: (e) => errors.push(e),
    ...extra,
  })
  cleanups.push(() => stream.close())
  return { stream, received, errors }
}

const status = (stream: EventStream<any>) => stream.getSnapshot().status

describe('401 recovery and the token manager', () => {
  it('a token the stream server rejected is never used again, even when the token endpoint blips during the recovery', async () => {
    // tok-1 is rejected by the stream server; the refresh it triggers gets a 503 once; tok-2 works.
    const server = await replayServer({
      authorize: (token) => (token === 'tok-1' ? 401 : token ? 200 : 401),
      tokenAnswer: (n) => (n === 2 ? { status: 503 } : { status: 200 }),
    })
    const { stream, errors } = streamFor(server, { tokens: managerFor(server) })
    stream.connect()
    await until(() => status(stream) === 'open' || status(stream) === 'failed', 5000, 'open or failed')
    expect(status(stream)).toBe('open')
    expect(server.streamRequests.filter((r) => r.token === 'tok-1')).toHaveLength(1)
    expect(server.streamRequests.at(-1)!.token).toBe('tok-2')
    // The 503 is a token error the stream recovered from, not a second "unauthorized".
    const kinds = errors.map((e) => e.kind)
    expect(kinds[0]).toBe('unauthorized')
    expect(kinds.slice(1).length).toBeGreaterThan(0)
    expect(kinds.slice(1).every((kind) => kind === 'token')).toBe(true)
  })

  it('only the stream server’s 401/403 count toward "refresh once, then fail"', async () => {
    const server = await replayServer({
      authorize: (token) => (token ? 401 : 401),
      tokenAnswer: (n) => (n === 2 || n === 3 ? { status: 503 } : { status: 200 }),
    })
    const { stream, errors } = streamFor(server, { tokens: managerFor(server) })
    stream.connect()
    await until(() => status(stream) === 'failed', 5000, 'failed')
    expect(stream.getSnapshot().error?.kind).toBe('unauthorized')
    // Two tokens, each rejected once: tok-1, then (after two 503s) tok-2.
    expect(server.streamRequests.map((r) => r.token)).toEqual(['tok-1', 'tok-2'])
    // The 503s were seen as token errors, and did not count toward the two refusals.
    expect(errors.filter((e) => e.kind === 'token').length).toBeGreaterThanOrEqual(1)
    expect(errors.filter((e) => e.kind === 'unauthorized')).toHaveLength(2)
  })

  it('five streams rejected at once cause one refresh and one reconnect each', async () => {
    const server = await replayServer({ authorize: (token) => (token === 'tok-1' ? 401 : token ? 200 : 401) })
    const tokens = managerFor(server)
    await tokens.getToken()
    const streams = Array.from({ length: 5 }, () => streamFor(server, { tokens }).stream)
    for (const s of streams) s.connect()
    await until(() => streams.every((s) => status(s) === 'open'), 5000, 'all open')
    // Time for any extra request to show.
    await sleep(100)
    // The initial token and one refresh; per stream, the refused request and one reconnect.
    expect(server.tokenRequests).toBe(2)
    expect(server.streamRequests.map((r) => r.token).sort()).toEqual([...Array(5).fill('tok-1'), ...Array(5).fill('tok-2')])
  })

  it('streams ended by a refused token come back by themselves after "sign in again"; a stream that starts meanwhile too', async () => {
    let signedIn = false
    const server = await replayServer({ tokenAnswer: () => (signedIn ? { status: 200 } : { status: 401 }) })
    const tokens = managerFor(server)
    const first = streamFor(server, { tokens })
    first.stream.connect()
    await until(() => status(first.stream) === 'failed', 5000, 'first failed')
    expect(first.stream.getSnapshot().error?.kind).toBe('unauthorized')
    const late = streamFor(server, { tokens })
    late.stream.connect()
    await until(() => status(late.stream) === 'failed', 5000, 'late failed')
    const requestsWhileRefused = server.tokenRequests

    signedIn = true
    await tokens.refresh()
    await until(() => status(first.stream) === 'open' && status(late.stream) === 'open', 5000, 'both open again')
    expect(server.tokenRequests).toBe(requestsWhileRefused + 1)
    // close() is the user's: such a stream stays closed.
    first.stream.close()
    signedIn = false
    await tokens.refresh().catch(() => {})
    signedIn = true
    await tokens.refresh()
    await sleep(100)
    expect(status(first.stream)).toBe('closed')
  })

  it('a new token ends a token-caused backoff at once', async () => {
    let up = false
    const server = await replayServer({ tokenAnswer: () => (up ? { status: 200 } : { status: 500 }) })
    const tokens = managerFor(server, { initialDelay: 300, maxDelay: 300 })
    // The stream's own backoff is long: only the token's arrival can explain a quick reconnect.
    const { stream } = streamFor(server, { tokens, reconnect: { initialDelay: 30_000, maxDelay: 30_000 }, platform: { random: () => 0.99 } })
    const unsubscribe = tokens.subscribe(() => {})
    cleanups.push(unsubscribe)
    stream.connect()
    await until(() => stream.getSnapshot().error?.kind === 'token' && status(stream) === 'reconnecting', 5000, 'token backoff')
    // The stream waits for the token manager (its next try), not for its own 30 s backoff.
    expect(stream.getSnapshot().retryAt).toBe(tokens.getSnapshot().refreshAt)
    expect(stream.getSnapshot().attempt).toBe(0)
    up = true
    await until(() => status(stream) === 'open', 5000, 'open after the token arrived')
  })
})

describe('overlap rotation against a server that replays after Last-Event-ID', () => {
  async function rotateWhileStreaming(idEvery: number) {
    // Headers held for 30 ms: events published meanwhile reach both connections of an overlap.
    const server = await replayServer({ idEvery, headerDelayMs: 30 })
    const tokens = managerFor(server)
    const { stream, received } = streamFor(server, { tokens, rotation: 'overlap' })
    stream.connect()
    await until(() => status(stream) === 'open', 5000, 'open')
    for (let i = 0; i < 10; i++) server.publish()
    await until(() => received.length > 0, 2000, 'first event')
    for (let rotation = 0; rotation < 4; rotation++) {
      const refreshed = tokens.refresh()
      for (let i = 0; i < 20; i++) {
        server.publish()
        await sleep(3)
      }
      await refreshed
      await until(() => server.streamRequests.at(-1)!.token === `tok-${rotation + 2}` && status(stream) === 'open', 5000, `rotation ${rotation + 1}`)
    }
    for (let i = 0; i < 10; i++) server.publish()
    await until(() => received.at(-1) === String(server.published), 5000, 'last event')
    return { server, received }
  }

  it('ids on every 3rd event: 0 lost, 0 duplicated across 4 rotations', async () => {
    const { server, received } = await rotateWhileStreaming(3)
    expect(server.streamRequests.length).toBe(5)
    expect(ledger(received, server.published)).toMatchObject({ lost: 0, duplicated: 0 })
  })

  it('with no ids at all a new token keeps the connection until it ends (nothing to resume from): 0 lost, 0 duplicated', async () => {
    const server = await replayServer({ idEvery: 0 })
    const tokens = managerFor(server)
    const { stream, received } = streamFor(server, { tokens, rotation: 'overlap' })
    stream.connect()
    await until(() => status(stream) === 'open', 5000, 'open')
    for (let rotation = 0; rotation < 4; rotation++) {
      await tokens.refresh()
      for (let i = 0; i < 20; i++) {
        server.publish()
        await sleep(2)
      }
    }
    await until(() => received.at(-1) === String(server.published), 5000, 'every event')
    expect(server.streamRequests).toHaveLength(1)
    expect(ledger(received, server.published)).toMatchObject({ lost: 0, duplicated: 0, first: 1 })
    // The server ends the stream: the next connection uses the newest token.
    server.endStreams()
    await until(() => server.streamRequests.length === 2 && status(stream) === 'open', 5000, 'reconnected')
    expect(server.streamRequests[1]!.token).toBe('tok-5')
  })
})

describe('schedules (virtual clock, mock transport)', () => {
  function setup(extra: Partial<EventStreamOptions<string>> = {}) {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const stream = createEventStream<string>({ url: 'http://127.0.0.1:9/stream', transport, platform: clock.platform, ...extra })
    cleanups.push(() => stream.close())
    return { clock, transport, stream }
  }

  it('a rotation candidate that never opens is abandoned; the next rotation still happens', async () => {
    const tokens = createMockTokens()
    const { clock, transport, stream } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: 'a', id: '1' }).emit({ data: 'a2' })
    tokens.rotate()
    await clock.advance(0)
    const hung = transport.connections[1]!
    expect(hung.active).toBe(true)
    await clock.advance(60_000)
    expect(hung.aborted).toBe(true)
    expect(transport.connections[0]!.active).toBe(true)
    // The old connection goes on, and nothing it delivers is taken for a replay.
    transport.connections[0]!.emit({ data: 'b' })
    expect(stream.getSnapshot().data).toBe('b')
    tokens.rotate()
    await clock.advance(0)
    expect(transport.connections).toHaveLength(3)
    transport.connections[2]!.open()
    expect(transport.connections[0]!.aborted).toBe(true)
    expect(status(stream)).toBe('open')
  })

  it('losing the current connection while a candidate is pending never leaves "open" without a connection', async () => {
    const tokens = createMockTokens()
    const { clock, transport, stream } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: 'a', id: '1' })
    tokens.rotate()
    await clock.advance(0)
    transport.connections[0]!.end()
    expect(status(stream)).not.toBe('open')
    await clock.advance(60_000)
    const live = transport.connections.filter((c) => c.active)
    expect(live.length).toBe(1)
    live[0]!.open()
    expect(status(stream)).toBe('open')
  })

  it('a token arriving while the last rotation is still replaying waits: nothing it replays is delivered twice', async () => {
    const tokens = createMockTokens()
    const seen: string[] = []
    const { clock, transport, stream } = setup({ tokens, onEvent: (e) => seen.push(e.data) })
    stream.connect()
    await clock.advance(0)
    const first = transport.latest!.open().emit({ data: 'e1', id: '1' })
    tokens.rotate()
    await clock.advance(0)
    first.emit({ data: 'e2', id: '2' }).emit({ data: 'e3', id: '3' })
    const second = transport.connections[1]!.open()
    // The new connection replays after id 1: e2 (dropped)…
    second.emit({ data: 'e2', id: '2' })
    // …and before it has replayed e3, the next token arrives.
    tokens.rotate()
    await clock.advance(0)
    second.emit({ data: 'e3', id: '3' }).emit({ data: 'e4', id: '4' })
    expect(seen).toEqual(['e1', 'e2', 'e3', 'e4'])
  })

  it('the ids seen during an overlap are bounded', async () => {
    const tokens = createMockTokens()
    const { clock, transport, stream } = setup({ tokens })
    stream.connect()
    await clock.advance(0)
    const first = transport.latest!.open()
    first.emit({ data: '0', id: '0' })
    tokens.rotate()
    await clock.advance(0)
    // A candidate stuck behind a connection limit while the old connection streams on.
    for (let i = 1; i <= 20_000; i++) first.emit({ data: String(i), id: String(i) })
    expect(transport.connections[1]!.aborted).toBe(true)
    expect(stream.getSnapshot().eventCount).toBe(20_001)
  })

  it('a Retry-After or retry: beyond 2^31-1 ms is capped at one hour, never an immediate reconnect loop', async () => {
    const { clock, transport, stream } = setup({ reconnect: { initialDelay: 1000, maxDelay: 1000 } })
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('http', { status: 503, retryAfter: 2 ** 31 * 10 })
    await clock.advance(1000)
    expect(transport.connections).toHaveLength(1)
    const retryAt = (stream.getSnapshot() as { retryAt?: number }).retryAt!
    expect(retryAt - clock.platform.now()).toBeLessThanOrEqual(3_600_000)
    await clock.advance(3_600_000 + 1000)
    expect(transport.connections).toHaveLength(2)
    transport.latest!.open().retry(2 ** 32)
    transport.latest!.fail('network')
    await clock.advance(10_000)
    expect(transport.connections).toHaveLength(2)
    await clock.advance(3_600_000)
    expect(transport.connections).toHaveLength(3)
  })

  it("'auto' picks fetch when headers are given; 'eventsource' with headers is an error at creation", () => {
    const clock = createFakePlatform()
    const platform = { ...clock.platform, EventSource: class {} as never, fetch: (async () => new Response()) as typeof fetch }
    const auto = createEventStream({ url: 'http://127.0.0.1:9/', headers: { 'x-tenant': 'a' }, platform })
    expect(auto.getSnapshot().transport).toBe('fetch')
    expect(createEventStream({ url: 'http://127.0.0.1:9/', platform }).getSnapshot().transport).toBe('eventsource')
    expect(() => createEventStream({ url: 'http://127.0.0.1:9/', transport: 'eventsource', headers: { 'x-tenant': 'a' }, platform })).toThrow(/headers/)
    try {
      createEventStream({ url: 'http://127.0.0.1:9/', transport: 'eventsource', headers: { 'x-tenant': 'a' }, platform })
    } catch (error) {
      expect(error).toBeInstanceOf(EventStreamError)
      expect((error as EventStreamError).kind).toBe('invalid-request')
    }
  })

  it('a paused stream holds no token subscription; the hidden timer starts when the page is already hidden', async () => {
    const tokens = createMockTokens()
    const clock = createFakePlatform()
    clock.document.visibilityState = 'hidden'
    const transport = createMockTransport()
    const stream = createEventStream<string>({ url: 'http://127.0.0.1:9/stream', transport, platform: clock.platform, tokens, pauseWhenHidden: 5000 })
    cleanups.push(() => stream.close())
    stream.connect()
    await clock.advance(0)
    transport.latest!.open()
    expect(tokens.subscriberCount).toBe(1)
    await clock.advance(5000)
    expect(status(stream)).toBe('paused')
    expect(tokens.subscriberCount).toBe(0)
    clock.setHidden(false)
    await clock.advance(0)
    expect(status(stream)).toBe('reconnecting')
    expect(tokens.subscriberCount).toBe(1)
    clock.setOnline(false)
    expect(status(stream)).toBe('paused')
    expect(tokens.subscriberCount).toBe(0)
  })

  it('a throwing onEvent, onError or listener breaks nothing and is reported asynchronously', async () => {
    const reported: unknown[] = []
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error))
    const seen: string[] = []
    const { clock, transport, stream } = setup({
      onEvent: (e) => {
        if (e.data === 'bad') throw new Error('onEvent bug')
      },
      onError: () => {
        throw new Error('onError bug')
      },
    })
    stream.subscribe(() => {
      throw new Error('listener bug')
    })
    stream.subscribe(() => seen.push(stream.getSnapshot().status))
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ data: 'bad' }).emit({ data: 'good' })
    expect(stream.getSnapshot().data).toBe('good')
    expect(stream.getSnapshot().eventCount).toBe(2)
    transport.latest!.fail('network')
    await clock.advance(60_000)
    transport.latest!.open()
    expect(seen).toContain('reconnecting')
    expect(seen.at(-1)).toBe('open')
    const messages = reported.map((e) => (e as Error).message)
    expect(messages).toContain('onEvent bug')
    expect(messages).toContain('onError bug')
    expect(messages).toContain('listener bug')
  })
})
