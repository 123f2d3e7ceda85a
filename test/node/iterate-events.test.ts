// Async iteration over a core stream: against a real HTTP server on 127.0.0.1 with the fetch
// transport (Node, no DOM), and on the virtual clock for what must be left behind after a stop.
import { afterEach, describe, expect, it } from 'vitest'
import {
  createEventStream,
  createEventStreamWith,
  createTokenManager,
  EventStreamError,
  fetchTokenFrom,
  iterateEvents,
  type StreamEvent,
} from 'use-event-stream/core'
import { createMockTransport } from 'use-event-stream/testing'
import { createCountingPlatform } from '../helpers/countingPlatform'
import { createFakePlatform } from '../helpers/fakePlatform'
import { ledger, startReplayServer, type ReplayServer } from '../helpers/replayServer'
import { sleep, until } from '../helpers/wait'

let server: ReplayServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

function fetchStream(s: ReplayServer, counting: ReturnType<typeof createCountingPlatform>) {
  const tokens = createTokenManager({ fetchToken: fetchTokenFrom(s.tokenUrl), platform: counting.platform, refreshLeadTime: 0 })
  const stream = createEventStream({ url: s.streamUrl, transport: 'fetch', tokens, platform: counting.platform, reconnect: { initialDelay: 20, maxDelay: 50 } })
  return { tokens, stream }
}

describe('iterateEvents over the fetch transport and a real server', () => {
  it('yields every event once, in order, across dropped connections and token rotations; break closes the stream it opened', async () => {
    // Tokens live 1 s and are refreshed 0.6 s before expiry: a rotation every 0.4 s or so.
    server = await startReplayServer({ idEvery: 3, tokenAnswer: () => ({ status: 200, expiresIn: 1 }) })
    const s = server
    const counting = createCountingPlatform()
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(s.tokenUrl), platform: counting.platform, refreshLeadTime: 600 })
    const stream = createEventStream({ url: s.streamUrl, transport: 'fetch', tokens, platform: counting.platform, reconnect: { initialDelay: 20, maxDelay: 50 } })
    const received: string[] = []
    const TOTAL = 120
    const producer = (async () => {
      await until(() => s.openStreams > 0, 5000, 'first connection')
      for (let i = 1; i <= TOTAL; i++) {
        s.publish()
        if (i % 40 === 0) s.endStreams()
        await sleep(15)
      }
    })()
    for await (const event of iterateEvents(stream)) {
      received.push(event.data)
      if (received.length >= TOTAL - 5 && Number(event.data) === TOTAL) break
      if (received.length > TOTAL * 2) throw new Error('more events than were published')
    }
    await producer
    expect(ledger(received, TOTAL)).toEqual({ lost: 0, duplicated: 0, first: 1 })
    expect(received.map(Number)).toEqual([...received.map(Number)].sort((a, b) => a - b))
    expect(s.tokenRequests).toBeGreaterThan(2)
    expect(s.streamRequests.length).toBeGreaterThan(3)
    expect(stream.getSnapshot().status).toBe('closed')
    await until(() => s.openStreams === 0, 3000, 'server connection closed')
    tokens.dispose()
    expect({ timers: counting.timers(), listeners: counting.listeners() }).toEqual({ timers: 0, listeners: 0 })
  })

  it('ends when the stream is closed, after yielding what it had received', async () => {
    server = await startReplayServer()
    const s = server
    const counting = createCountingPlatform()
    const { stream, tokens } = fetchStream(s, counting)
    const received: string[] = []
    const done = (async () => {
      for await (const event of iterateEvents(stream, { bufferSize: 10 })) received.push(event.data)
      return 'ended'
    })()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    s.publish()
    s.publish()
    await until(() => stream.getSnapshot().eventCount === 2, 5000, 'two events')
    stream.close()
    expect(await done).toBe('ended')
    expect(received).toEqual(['1', '2'])
    tokens.dispose()
  })

  it('throws the stream’s EventStreamError when the stream fails', async () => {
    server = await startReplayServer({ authorize: () => 404 })
    const counting = createCountingPlatform()
    const { stream, tokens } = fetchStream(server, counting)
    const outcome = await (async () => {
      for await (const _ of iterateEvents(stream)) void _
      return 'ended'
    })().catch((error: unknown) => error)
    expect(outcome).toBeInstanceOf(EventStreamError)
    expect(outcome).toMatchObject({ kind: 'http', status: 404 })
    expect(outcome).toBe(stream.getSnapshot().error)
    tokens.dispose()
    expect(counting.timers()).toBe(0)
  })

  it('signal.abort() ends the loop and closes the stream it opened: no connection, timer or listener left', async () => {
    server = await startReplayServer()
    const s = server
    const counting = createCountingPlatform()
    const { stream, tokens } = fetchStream(s, counting)
    const controller = new AbortController()
    const received: string[] = []
    const done = (async () => {
      for await (const event of iterateEvents(stream, { signal: controller.signal })) received.push(event.data)
      return 'ended'
    })()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    s.publish()
    await until(() => received.length === 1, 5000, 'one event')
    controller.abort()
    expect(await done).toBe('ended')
    expect(stream.getSnapshot().status).toBe('closed')
    await until(() => s.openStreams === 0, 3000, 'server connection closed')
    tokens.dispose()
    expect({ timers: counting.timers(), listeners: counting.listeners() }).toEqual({ timers: 0, listeners: 0 })
  })

  it('leaves a stream it did not open running after break', async () => {
    server = await startReplayServer()
    const s = server
    const counting = createCountingPlatform()
    const { stream, tokens } = fetchStream(s, counting)
    stream.connect()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    const iterator = iterateEvents(stream)
    const first = iterator.next()
    s.publish()
    expect((await first).value?.data).toBe('1')
    await iterator.return!()
    expect(stream.getSnapshot().status).toBe('open')
    expect(s.openStreams).toBe(1)
    stream.close()
    tokens.dispose()
  })
})

describe('iterateEvents with a consumer slower than the stream', () => {
  it("onOverflow 'error' (default): yields the buffered events, then throws an 'overflow' EventStreamError and closes the stream it opened", async () => {
    const transport = createMockTransport()
    const fake = createFakePlatform()
    const stream = createEventStreamWith(transport, { url: 'http://127.0.0.1:9/s', platform: fake.platform })
    const iterator = iterateEvents(stream, { bufferSize: 3 })
    const first = iterator.next()
    await fake.advance(0)
    transport.latest!.open()
    for (let i = 1; i <= 5; i++) transport.latest!.emit({ data: String(i), id: String(i) })
    expect((await first).value?.data).toBe('1')
    expect(stream.getSnapshot().status).toBe('closed')
    const rest: string[] = []
    const error = await (async () => {
      for (let guard = 0; guard < 10; guard++) {
        const step = await iterator.next()
        if (step.done) return 'ended'
        rest.push(step.value.data)
      }
      return 'too many'
    })().catch((e: unknown) => e)
    expect(rest).toEqual(['2', '3', '4'])
    expect(error).toBeInstanceOf(EventStreamError)
    expect(error).toMatchObject({ kind: 'overflow' })
    expect(fake.pendingTimers()).toBe(0)
  })

  it("onOverflow 'drop-oldest': keeps the newest bufferSize events and calls onGap once, in order, before the event after the gap", async () => {
    const transport = createMockTransport()
    const fake = createFakePlatform()
    const stream = createEventStreamWith(transport, { url: 'http://127.0.0.1:9/s', platform: fake.platform })
    const log: string[] = []
    const iterator = iterateEvents(stream, {
      bufferSize: 2,
      onOverflow: 'drop-oldest',
      onGap: (gap) => log.push(`gap ${gap.lastEventId}→${gap.resumedAt} (${gap.dropped})`),
    })
    const first = iterator.next()
    await fake.advance(0)
    transport.latest!.open()
    for (let i = 1; i <= 6; i++) transport.latest!.emit({ data: String(i), id: String(i) })
    log.push((await first).value!.data)
    for (let i = 0; i < 2; i++) log.push((await iterator.next()).value!.data)
    expect(log).toEqual(['1', 'gap 1→5 (3)', '5', '6'])
    expect(stream.getSnapshot().status).toBe('open')
    await iterator.return!()
    expect(stream.getSnapshot().status).toBe('closed')
  })

  it('signal.abort() while the stream waits to reconnect leaves no timer behind', async () => {
    const transport = createMockTransport()
    const fake = createFakePlatform()
    const stream = createEventStreamWith(transport, { url: 'http://127.0.0.1:9/s', platform: fake.platform, reconnect: { initialDelay: 10_000 } })
    const controller = new AbortController()
    const seen: StreamEvent[] = []
    const done = (async () => {
      for await (const event of iterateEvents(stream, { signal: controller.signal })) seen.push(event)
      return 'ended'
    })()
    await fake.advance(0)
    transport.latest!.open().emit({ data: 'a', id: '1' }).fail('network')
    await fake.advance(0)
    expect(stream.getSnapshot().status).toBe('reconnecting')
    expect(fake.pendingTimers()).toBeGreaterThan(0)
    controller.abort()
    expect(await done).toBe('ended')
    expect(seen.map((e) => e.data)).toEqual(['a'])
    expect({ status: stream.getSnapshot().status, timers: fake.pendingTimers(), listeners: fake.window.count() + fake.document.count() }).toEqual({
      status: 'closed',
      timers: 0,
      listeners: 0,
    })
  })

  it('an already aborted signal yields nothing and opens nothing', async () => {
    const transport = createMockTransport()
    const stream = createEventStreamWith(transport, { url: 'http://127.0.0.1:9/s' })
    const iterator = iterateEvents(stream, { signal: AbortSignal.abort() })
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(transport.connections).toHaveLength(0)
    expect(stream.getSnapshot().status).toBe('idle')
  })
})
