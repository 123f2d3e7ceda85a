// The reference server on the Redis log (`redisUrl`). Two instances share ids and replay: an event
// appended through one is replayed by the other after the client's Last-Event-ID.
// Fan-out: 200 concurrent clients (the library's createEventStream, fetch
// transport) on one reference-server instance whose channel log is a Redis stream, 50 events
// appended by another process's writer: every client gets all 50 in order, and Redis sees the same
// handful of connections with 200 clients as with 1 (one blocking reader per log, one command
// connection per instance), never one per client or per replay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { createEventStream, createTokenManager, fetchTokenFrom, type EventStream } from 'use-event-stream/core'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { useRedisServer } from '../helpers/redisServer'
import { until } from '../helpers/wait'

const redis = useRedisServer()
let server: ReferenceServer
let admin: ReturnType<typeof createClient>

beforeAll(async () => {
  server = await startReferenceServer({ log: () => {}, redisUrl: redis().url, redisKeyPrefix: 'fanout:', clocks: false, heartbeatMs: 1000 })
  admin = createClient({ url: redis().url })
  admin.on('error', () => {})
  await admin.connect()
})
afterAll(async () => {
  await server?.close()
  await admin?.close()
})

describe('two instances on one Redis', () => {
  it('share ids, replay and live events: a client resumes on the other instance by Last-Event-ID', async () => {
    const other = await startReferenceServer({ log: () => {}, redisUrl: redis().url, redisKeyPrefix: 'fanout:', clocks: false, secret: server.state.secret })
    try {
      const ids: string[] = []
      for (let i = 0; i < 4; i++) ids.push(await server.append('seq-shared', { type: 'note', data: { i } }))
      expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true)
      expect(() => server.publish('seq-shared', { data: 'x' })).toThrow(/append/)
      // A token from the first instance, a stream from the second, resuming after the first event.
      const token = await server.mintToken()
      const response = await fetch(`${other.url}/stream?channel=seq-shared`, { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': ids[0]! } })
      expect(response.status).toBe(200)
      const live = await server.append('seq-shared', { data: 'live' })
      const reader = response.body!.getReader()
      let text = ''
      while ((text.match(/^id: /gm) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value)
      await reader.cancel()
      expect([...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1])).toEqual([...ids.slice(1), live])
      expect(text).toContain('event: note\ndata: {"i":1}')
      await until(() => other.counters().connections.some((c) => !c.open), 3000, 'the connection to end')
      expect(other.counters().connections.map((c) => [c.lastEventIdVia, c.replayed, c.eventsSent])).toEqual([['header', 3, 4]])
    } finally {
      await other.close()
    }
  })
})

describe('Redis unreachable', () => {
  it('a new stream gets 503 with Retry-After within about 2 s; the server stays up and closes', async () => {
    const down = await startReferenceServer({ log: () => {}, redisUrl: 'redis://127.0.0.1:1', clocks: false })
    try {
      const token = await down.mintToken()
      const t0 = Date.now()
      const response = await fetch(`${down.url}/stream?channel=seq`, { headers: { Authorization: `Bearer ${token}` } })
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('1')
      expect(await response.json()).toMatchObject({ error: 'unavailable' })
      expect(Date.now() - t0).toBeLessThan(4000)
      expect((await fetch(`${down.url}/health`)).status).toBe(200)
    } finally {
      await down.close()
    }
  })
})

/** Connections Redis has open, other than the admin's own. */
async function redisConnections(): Promise<number> {
  return String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length - 1
}

describe('Redis log fan-out', () => {
  it('200 clients on one instance get all 50 events in order over a constant handful of Redis connections', { timeout: 60_000 }, async () => {
    const channel = 'seq-fanout'
    const producer = createRedisEventLog({ url: redis().url, key: `fanout:${channel}` })
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${server.url}/auth/sse-token`, { headers: { 'x-api-key': server.apiKey } }) })
    const streams: Array<{ stream: EventStream<string>; ids: string[] }> = []
    const openClients = (n: number) => {
      for (let i = 0; i < n; i++) {
        const ids: string[] = []
        const stream = createEventStream<string>({ url: `${server.url}/stream?channel=${channel}`, transport: 'fetch', tokens, onEvent: (e) => void ids.push(e.id!) })
        stream.connect()
        streams.push({ stream, ids })
      }
    }
    const openAtServer = () => server.counters().open.stream
    try {
      // One client and one event first: the instance's log and the producer are connected now.
      openClients(1)
      // Open at the client: the server has taken its starting point (live only, no replay) by then.
      await until(() => streams[0]!.stream.getSnapshot().status === 'open', 10_000, 'the first client')
      const warmup = await producer.append({ data: 'warm-up' })
      await until(() => streams[0]!.ids.length === 1, 5000, 'the warm-up event')
      expect(streams[0]!.ids).toEqual([warmup])
      const withOne = await redisConnections()

      openClients(199)
      await until(() => openAtServer() === 200 && streams.every((s) => s.stream.getSnapshot().status === 'open'), 20_000, '200 open clients')
      const ids: string[] = []
      for (let i = 0; i < 50; i++) ids.push(await producer.append({ data: String(i) }))
      await until(() => streams.every((s) => s.ids.length >= (s === streams[0] ? 51 : 50)), 20_000, 'every client to get 50 events')
      const withMany = await redisConnections()

      streams.forEach((s, i) => expect({ client: i, ids: s === streams[0] ? s.ids.slice(1) : s.ids }).toEqual({ client: i, ids }))
      console.log(`[fan-out] Redis connections (all processes, admin excluded): ${withOne} with 1 client, ${withMany} with 200 clients`)
      // The instance: appends, replays and 1 blocking reader for the channel; the producer: 1.
      expect(withMany).toBe(withOne)
      expect(withMany).toBeLessThanOrEqual(4)
    } finally {
      for (const s of streams) s.stream.close()
      tokens.dispose()
      await producer.close()
    }
  })
})
