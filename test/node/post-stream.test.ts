// Streams that subscribe with a request body: `method` and `body` on the fetch transport, sent
// again (with a fresh token) on every connection; the transport capability that refuses them; the
// stream key; and end to end against the reference server's POST /stream.
import { afterEach, describe, expect, it } from 'vitest'
import {
  createEventStream,
  createEventStreamWith,
  createFetchTransport,
  createStreamRegistry,
  createTokenManager,
  EventStreamError,
  fetchTokenFrom,
  resolveTransport,
  type Transport,
} from 'use-event-stream/core'
import { createMockTransport } from 'use-event-stream/testing'
import { createFakePlatform } from '../helpers/fakePlatform'
import { useReferenceServer } from '../helpers/referenceServer'
import { startScriptedServer, type ScriptedServer } from '../helpers/scriptedServer'
import { until } from '../helpers/wait'

describe('method and body: what can send them', () => {
  it("transport 'eventsource' with a body or a method other than GET throws 'invalid-request' at creation", () => {
    for (const extra of [{ body: { q: 1 } }, { method: 'POST' }, { body: () => 'x' }]) {
      let thrown: unknown
      try {
        createEventStream({ url: 'http://127.0.0.1:9/s', transport: 'eventsource', ...extra })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(EventStreamError)
      expect(thrown).toMatchObject({ kind: 'invalid-request' })
    }
    expect(() => createEventStream({ url: 'http://127.0.0.1:9/s', transport: 'eventsource', method: 'get' })).not.toThrow()
  })

  it('a transport of any name without the requestBody capability refuses them the same way', () => {
    const transport: Transport = { ...createMockTransport(), name: 'custom', capabilities: { requestBody: false } }
    expect(() => createEventStreamWith(transport, { url: 'http://127.0.0.1:9/s', body: 'x' })).toThrow(expect.objectContaining({ kind: 'invalid-request' }))
    expect(() => createEventStreamWith(createMockTransport('eventsource'), { url: 'http://127.0.0.1:9/s', method: 'POST' })).toThrow(EventStreamError)
  })

  it("'auto' picks fetch when a body or a non-GET method is set", () => {
    expect(resolveTransport({ body: { q: 1 } }).name).toBe('fetch')
    expect(resolveTransport({ method: 'POST' }).name).toBe('fetch')
    expect(resolveTransport({}).name).toBe('eventsource')
    expect(createEventStream({ url: 'http://127.0.0.1:9/s', body: 'x', platform: { fetch: globalThis.fetch } }).getSnapshot().transport).toBe('fetch')
  })

  it('the stream key includes method and body, bodies compared by value and body functions by identity', () => {
    const registry = createStreamRegistry({ create: createEventStream })
    const url = 'http://127.0.0.1:9/s'
    const byBody = (body: unknown) => registry.keyOf(url, { url, body: body as string })
    expect(byBody({ channel: 'a', types: ['x'] })).toBe(byBody({ types: ['x'], channel: 'a' }))
    expect(byBody({ channel: 'a' })).not.toBe(byBody({ channel: 'b' }))
    expect(registry.keyOf(url, { url, method: 'POST' })).not.toBe(registry.keyOf(url, { url }))
    const f = () => 'x'
    expect(byBody(f)).toBe(byBody(f))
    expect(byBody(f)).not.toBe(byBody(() => 'x'))
  })
})

describe('method and body on every connection', () => {
  it('a body function is called with the resume point of each connection', async () => {
    const transport = createMockTransport()
    const fake = createFakePlatform()
    const calls: Array<string | undefined> = []
    const stream = createEventStreamWith(transport, {
      url: 'http://127.0.0.1:9/s',
      method: 'POST',
      body: ({ lastEventId }) => {
        calls.push(lastEventId)
        return { after: lastEventId ?? null }
      },
      platform: fake.platform,
      reconnect: { initialDelay: 10 },
    })
    stream.connect()
    transport.latest!.open().emit({ data: 'a', id: '7' }).fail('network')
    await fake.advance(50)
    expect(calls).toEqual([undefined, '7'])
    expect(transport.connections.map((c) => [c.options.method, c.options.body])).toEqual([
      ['POST', { after: null }],
      ['POST', { after: '7' }],
    ])
    stream.close()
  })

  it("a body function that throws ends the stream failed with 'invalid-request', before any request", async () => {
    const transport = createMockTransport()
    const stream = createEventStreamWith(transport, {
      url: 'http://127.0.0.1:9/s',
      body: () => {
        throw new Error('no filter yet')
      },
    })
    stream.connect()
    expect(transport.connections).toHaveLength(0)
    expect(stream.getSnapshot()).toMatchObject({ status: 'failed', error: { kind: 'invalid-request' } })
  })

  let scripted: ScriptedServer | undefined
  afterEach(async () => {
    await scripted?.close()
    scripted = undefined
  })

  it('the fetch transport sends a value as JSON, a string as is, and a Content-Type header wins', async () => {
    const seen: Array<{ method: string | undefined; type: string | undefined; body: string }> = []
    scripted = await startScriptedServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        seen.push({ method: req.method, type: req.headers['content-type'], body })
        res.writeHead(204).end()
      })
    })
    const run = async (extra: { body: unknown; headers?: Record<string, string> }) => {
      const stream = createEventStreamWith(createFetchTransport(), { url: `${scripted!.url}/s`, method: 'POST', ...(extra as { body: string }) })
      stream.connect()
      await until(() => stream.getSnapshot().status === 'closed', 3000, 'a 204')
    }
    await run({ body: { channel: 'a' } })
    await run({ body: 'channel=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    await run({ body: 'plain' })
    expect(seen).toEqual([
      { method: 'POST', type: 'application/json', body: '{"channel":"a"}' },
      { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'channel=a' },
      { method: 'POST', type: 'text/plain;charset=UTF-8', body: 'plain' },
    ])
  })
})

describe('POST /stream of the reference server', () => {
  const server = useReferenceServer({ heartbeatMs: 200 })

  it('sends the body filter on every reconnect and rotation, with a fresh token, resuming where the stream was', async () => {
    const channel = `seq-post-${Date.now()}`
    // 2 s tokens: the server ends a stream when its token expires, so the stream rotates or reconnects.
    const tokens = createTokenManager({
      fetchToken: fetchTokenFrom(`${server().url}/auth/sse-token?ttl=2`, { headers: { 'x-api-key': server().apiKey } }),
    })
    const bodies: Array<string | undefined> = []
    const received: string[] = []
    const stream = createEventStream({
      url: `${server().url}/stream?channel=${channel}`,
      tokens,
      method: 'POST',
      body: ({ lastEventId }) => {
        bodies.push(lastEventId)
        return { types: ['wanted'] }
      },
      events: ['wanted', 'other'],
      reconnect: { initialDelay: 50 },
      onEvent: (event) => received.push(`${event.type}:${event.raw}`),
    })
    expect(stream.getSnapshot().transport).toBe('fetch')
    stream.connect()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    const publish = (type: string, n: number) => server().publish(channel, { type, data: String(n) })
    for (let n = 1; n <= 12; n++) {
      await publish(n % 3 === 0 ? 'other' : 'wanted', n)
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    await until(() => received.length >= 8, 5000, 'the wanted events')
    expect(received).toEqual([1, 2, 4, 5, 7, 8, 10, 11].map((n) => `wanted:${n}`))
    const conns = server().counters().connections.filter((c) => c.channel === channel)
    expect(conns.length).toBeGreaterThanOrEqual(2)
    expect(conns.every((c) => c.method === 'POST' && c.types?.join() === 'wanted')).toBe(true)
    expect(conns.slice(1).every((c) => c.lastEventId !== undefined)).toBe(true)
    // Every connection had a token of its own, and none was refused.
    expect(server().counters().tokenMints).toBeGreaterThanOrEqual(conns.length)
    expect(server().counters().requests.stream.byStatus['401']).toBeUndefined()
    expect(bodies.length).toBe(conns.length)
    expect(bodies.slice(1).every((id) => id !== undefined)).toBe(true)
    stream.close()
    tokens.dispose()
  })
})
