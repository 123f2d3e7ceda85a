// The Redis logs created from one client share their connections: one blocking XREAD over every
// key, one replay connection, and the client's own for appends. An app with 500 channels holds 3
// Redis connections per instance, not 1,000, and every channel's readers still get their entries.
// A real redis-server for this file, counted with CLIENT LIST.
import { describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import type { EventLog } from 'use-event-stream/server'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { useRedisServer } from '../helpers/redisServer'
import { until } from '../helpers/wait'

const redis = useRedisServer()

describe('redis logs from one client', () => {
  it('500 keys with a reader each use at most 3 connections, and each reader gets its own key’s entries', async () => {
    const admin = createClient({ url: redis().url })
    await admin.connect()
    const count = async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length - 1
    const baseline = await count()
    const client = createClient({ url: redis().url })
    client.on('error', () => {})
    const logs: EventLog[] = Array.from({ length: 500 }, (_, i) => createRedisEventLog({ client, key: `shared:${i}` }))
    const stop = new AbortController()
    const got: string[][] = logs.map(() => [])
    const readers = logs.map((log, i) =>
      (async () => {
        for await (const entry of log.read({ signal: stop.signal })) got[i]!.push(entry.data)
      })(),
    )
    try {
      // Every reader is following once its key's status says so; then one entry per key.
      await until(async () => (await Promise.all(logs.map((l) => l.append({ data: 'probe' })))) && got.every((g) => g.length > 0), 15_000, 'every reader to follow')
      for (const g of got) g.length = 0
      await Promise.all(logs.map((log, i) => log.append({ data: `for-${i}` })))
      await until(() => got.every((g, i) => g.includes(`for-${i}`)), 15_000, 'every reader to get its entry')
      got.forEach((g, i) => expect(g.filter((d) => d !== 'probe')).toEqual([`for-${i}`]))
      const used = (await count()) - baseline
      console.log(`[event-log-shared] Redis connections for 500 keys with a reader each, from one client: ${used}`)
      expect(used).toBeLessThanOrEqual(3)
    } finally {
      stop.abort()
      await Promise.all(readers)
      await Promise.all(logs.map((log) => log.close()))
      await client.close()
      await admin.close()
    }
  })

  it('a log for a key added while the blocking reader waits gets its entries promptly', async () => {
    const client = createClient({ url: redis().url })
    client.on('error', () => {})
    const first = createRedisEventLog({ client, key: 'late:0' })
    const stop = new AbortController()
    try {
      const seen: string[] = []
      const reading = (async () => {
        for await (const entry of first.read({ signal: stop.signal })) seen.push(entry.data)
      })()
      await until(async () => (await first.append({ data: 'x' }), seen.length > 0), 5000, 'the first key to follow')
      const late = createRedisEventLog({ client, key: 'late:1' })
      const lateSeen: string[] = []
      const lateReading = (async () => {
        for await (const entry of late.read({ signal: stop.signal })) lateSeen.push(entry.data)
      })()
      const t0 = performance.now()
      await until(async () => (await late.append({ data: 'y' }), lateSeen.length > 0), 5000, 'the late key to follow')
      // The blocking reader waits up to 10 s per XREAD: the new key must not wait for it to time out.
      expect(performance.now() - t0).toBeLessThan(2000)
      stop.abort()
      await Promise.all([reading, lateReading])
      await late.close()
    } finally {
      stop.abort()
      await first.close()
      await client.close()
    }
  })
})
