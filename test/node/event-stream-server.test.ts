// createEventStream end to end against the reference server on 127.0.0.1, through both transports:
// Node's fetch for the fetch transport, the `eventsource` package for the eventsource transport.
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createEventStream,
  createTokenManager,
  fetchTokenFrom,
  type EventStream,
  type EventStreamOptions,
  type TokenManager,
  type TransportName,
} from 'use-event-stream/core'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { sleep, until } from '../helpers/wait'

let server: ReferenceServer
let channelSeq = 0
const cleanups: Array<() => void> = []

beforeAll(async () => {
  server = await startReferenceServer({ port: 0, log: () => {}, retryAfter: 1, heartbeatMs: 200 })
})
afterAll(async () => {
  await server.close()
})
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function tokensFor(ttlSeconds = 30): TokenManager {
  const tokens = createTokenManager({
    fetchToken: fetchTokenFrom(`${server.url}/auth/sse-token?ttl=${ttlSeconds}`, { headers: { 'x-api-key': server.apiKey } }),
  })
  cleanups.push(() => tokens.dispose())
  return tokens
}

function open(transport: TransportName, extra: Partial<EventStreamOptions<string>> & { channel?: string; query?: string } = {}) {
  const channel = extra.channel ?? `seq-${transport}-${++channelSeq}`
  const received: string[] = []
  const statuses: string[] = []
  const errors: string[] = []
  const stream: EventStream<string> = createEventStream<string>({
    url: `${server.url}/stream?channel=${channel}${extra.query ?? ''}`,
    transport,
    tokens: extra.tokens === undefined ? tokensFor() : extra.tokens,
    platform: { EventSource: EventSource as never },
    reconnect: { initialDelay: 100, maxDelay: 400 },
    onEvent: (e) => received.push(e.id!),
    onError: (e) => errors.push(e.kind),
    ...extra,
  })
  stream.subscribe(() => {
    const s = stream.getSnapshot().status
    if (statuses.at(-1) !== s) statuses.push(s)
  })
  cleanups.push(() => stream.close())
  stream.connect()
  return { stream, channel, received, statuses, errors }
}

const connectionsOn = (channel: string) => server.counters().connections.filter((c) => c.channel === channel)
const openOn = (channel: string) => connectionsOn(channel).filter((c) => c.open).length

/** Publishes `count` events on `channel`, `interval` ms apart, and returns their ids. */
async function publish(channel: string, count: number, interval: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    ids.push(server.publish(channel, { data: `n${i}` }))
    await sleep(interval)
  }
  return ids
}

function ledger(sent: string[], received: string[]) {
  const seen = new Set<string>()
  let duplicated = 0
  for (const id of received) {
    if (seen.has(id)) duplicated++
    seen.add(id)
  }
  const lost = sent.filter((id) => !seen.has(id)).length
  return { sent: sent.length, received: received.length, lost, duplicated }
}

describe.each(['fetch', 'eventsource'] as const)('%s transport against the reference server', (transport) => {
  it('opens with a token and delivers published events in order', async () => {
    const { stream, channel, received } = open(transport)
    await until(() => stream.getSnapshot().status === 'open', 8000, 'open')
    const sent = await publish(channel, 5, 5)
    await until(() => received.length === 5, 8000, 'five events')
    expect(received).toEqual(sent)
    expect(stream.getSnapshot().transport).toBe(transport)
    const via = connectionsOn(channel)[0]!.authVia
    expect(via).toBe(transport === 'fetch' ? 'header' : 'query')
  })

  it('a dropped connection resumes from Last-Event-ID with nothing lost or duplicated', async () => {
    const { stream, channel, received } = open(transport)
    await until(() => stream.getSnapshot().status === 'open', 8000, 'open')
    server.setFault({ route: 'stream', fault: 'drop-after:3', count: 2, channel })
    // The next two connections drop after three events each.
    stream.reconnect()
    await until(() => openOn(channel) === 1 && connectionsOn(channel).length === 2, 8000, 'second connection')
    const sent = await publish(channel, 20, 15)
    await until(() => received.length >= 20, 10_000, 'all events')
    const result = ledger(sent, received)
    expect(result).toEqual({ sent: 20, received: 20, lost: 0, duplicated: 0 })
    const resumed = connectionsOn(channel).filter((c) => c.lastEventId !== undefined)
    expect(resumed.length).toBeGreaterThanOrEqual(2)
    expect(resumed[0]!.lastEventIdVia).toBe(transport === 'fetch' ? 'header' : 'query')
  })

  it('token rotations (2 s tokens, server closes at expiry) lose and duplicate nothing', async () => {
    const tokens = tokensFor(2)
    const { stream, channel, received } = open(transport, { tokens })
    await until(() => stream.getSnapshot().status === 'open', 8000, 'open')
    const sent = await publish(channel, 110, 50) // ≈ 5.5 s: at least two rotations
    await until(() => received.length >= sent.length, 8000, 'catch-up')
    const result = ledger(sent, received)
    console.log(`[${transport}] rotations=${tokens.version - 1}`, result)
    expect(tokens.version).toBeGreaterThanOrEqual(3)
    expect(result.lost).toBe(0)
    expect(result.duplicated).toBe(0)
    expect(connectionsOn(channel).length).toBeGreaterThanOrEqual(3)
  }, 20_000)

  it('close() ends the connection at the server', async () => {
    const { stream, channel } = open(transport)
    await until(() => openOn(channel) === 1, 8000, 'server connection')
    stream.close()
    await until(() => openOn(channel) === 0, 4000, 'server close')
    expect(stream.getSnapshot().status).toBe('closed')
  })

  it('204 → closed, no further requests', async () => {
    const channel = `seq-204-${transport}-${++channelSeq}`
    server.setFault({ route: 'stream', fault: 'status:204', count: 1, channel })
    const { stream } = open(transport, { channel })
    await until(() => stream.getSnapshot().status === 'closed', 8000, 'closed')
    await sleep(600)
    expect(connectionsOn(channel)).toHaveLength(0) // 204 is not a stream connection
    expect(server.counters().requests.stream.byStatus['204']).toBeGreaterThanOrEqual(1)
    expect(stream.getSnapshot().status).toBe('closed')
  })
})

describe('fetch transport: statuses the browser EventSource cannot see', () => {
  it('401 twice → failed unauthorized after exactly one forced token refresh', async () => {
    const tokens = tokensFor()
    const channel = `seq-401-${++channelSeq}`
    server.setFault({ route: 'stream', fault: 'status:401', count: 2, channel })
    const { stream } = open('fetch', { channel, tokens })
    await until(() => stream.getSnapshot().status === 'failed', 8000, 'failed')
    expect(stream.getSnapshot().error).toMatchObject({ kind: 'unauthorized', status: 401 })
    expect(tokens.version).toBe(2) // the initial token plus one forced refresh
  })

  it('404 and a wrong Content-Type fail without retrying', async () => {
    for (const [fault, kind] of [
      ['status:404', 'http'],
      ['content-type', 'content-type'],
    ] as const) {
      const channel = `seq-f-${++channelSeq}`
      server.setFault({ route: 'stream', fault, count: 5, channel })
      const before = server.counters().requests.stream.total
      const { stream } = open('fetch', { channel })
      await until(() => stream.getSnapshot().status === 'failed', 8000, 'failed')
      expect(stream.getSnapshot().error?.kind).toBe(kind)
      await sleep(500)
      expect(server.counters().requests.stream.total - before).toBe(1)
    }
  })

  it('503 with Retry-After waits that long, then recovers', async () => {
    const channel = `seq-503-${++channelSeq}`
    server.setFault({ route: 'stream', fault: 'status:503', count: 1, channel })
    const { stream } = open('fetch', { channel })
    // Read at the moment the stream changes, not when a poll gets to run: on a loaded machine a
    // poll can come late enough to eat into the wait it measures.
    let scheduled: { at: number; retryAt: number; error: unknown } | undefined
    let reopenedAt: number | undefined
    stream.subscribe(() => {
      const snap = stream.getSnapshot()
      if (!scheduled && snap.status === 'reconnecting' && snap.error?.status === 503) scheduled = { at: Date.now(), retryAt: snap.retryAt!, error: snap.error }
      if (scheduled && reopenedAt === undefined && snap.status === 'open') reopenedAt = Date.now()
    })
    await until(() => scheduled !== undefined, 8000, 'the 503')
    expect(scheduled!.error).toMatchObject({ kind: 'http', status: 503, retryAfter: 1000 })
    // Retry-After: 1 is a floor; the jitter only adds to it (1 ms: the clock may tick between the
    // stream's read of it and this listener's).
    expect(scheduled!.retryAt - scheduled!.at).toBeGreaterThanOrEqual(999)
    await until(() => reopenedAt !== undefined, 4000, 'recovery')
    // Not before the wait was over (a timer never fires early; 1 ms for the clock's rounding).
    expect(reopenedAt!).toBeGreaterThanOrEqual(scheduled!.retryAt - 1)
  })

  it('a stalled connection is replaced after idleTimeout', async () => {
    const channel = `seq-stall-${++channelSeq}`
    server.setFault({ route: 'stream', fault: 'stall', count: 1, channel })
    const { stream, received, errors } = open('fetch', { channel, idleTimeout: 600 })
    // Recorded through onError: the snapshot's error clears as soon as the next connection opens.
    await until(() => errors.includes('idle-timeout'), 5000, 'idle timeout')
    await until(() => stream.getSnapshot().status === 'open', 5000, 'reopen')
    const sent = await publish(channel, 3, 5)
    await until(() => received.length === 3, 8000, 'three events')
    expect(received).toEqual(sent)
  })

  it('no error text or snapshot ever contains the token', async () => {
    const tokens = tokensFor()
    const channel = `seq-secret-${++channelSeq}`
    server.setFault({ route: 'stream', fault: 'status:401', count: 2, channel })
    const { stream } = open('fetch', { channel, tokens })
    await until(() => stream.getSnapshot().status === 'failed', 8000, 'failed')
    const token = await tokens.getToken()
    const error = stream.getSnapshot().error!
    const text = [JSON.stringify(stream.getSnapshot()), error.message, error.stack, String(error.cause), JSON.stringify(tokens.getSnapshot())].join('\n')
    expect(token.length).toBeGreaterThan(20)
    expect(text).not.toContain(token)
  })
})
