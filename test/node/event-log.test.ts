// The EventLog contract, run against both logs: the memory log and the Redis log on a real
// redis-server started for this file (no mock). Replay after an id, live entries from any writer,
// order with no gap and no duplicate however slowly a reader pulls, abort and close ending reads
// promptly and normally, bounded memory with stalled readers, and a constant number of Redis
// connections per log instance whatever the number of readers.
import vm from 'node:vm'
import v8 from 'node:v8'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { createMemoryEventLog, type EventLog, type EventLogEntry, type EventLogReadOptions, type StreamGapEvent } from 'use-event-stream/server'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { useRedisServer } from '../helpers/redisServer'
import { sleep, until } from '../helpers/wait'

const redis = useRedisServer()
let keySeq = 0

interface Kind {
  name: 'memory' | 'redis'
  /** A log, and a factory for another writer on the same stream (another instance for Redis). */
  make(options?: { maxLen?: number }): { log: EventLog; other(): EventLog }
}

const opened: EventLog[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()))
})
const track = (log: EventLog) => (opened.push(log), log)

const KINDS: Kind[] = [
  {
    name: 'memory',
    make: (options) => {
      const log = track(createMemoryEventLog(options))
      return { log, other: () => log }
    },
  },
  {
    name: 'redis',
    make: (options) => {
      const key = `test:log:${++keySeq}`
      return {
        log: track(createRedisEventLog({ url: redis().url, key, ...options })),
        other: () => track(createRedisEventLog({ url: redis().url, key, ...options })),
      }
    },
  },
]

/** Every retained entry (a reader with no id starts at the live tail). */
const ALL = { initial: 1_000_000 }

/**
 * Pulls from a read after `from` (an id, or read options) until `count` items arrived (then stops
 * it) or `timeout` ms passed.
 */
async function take(log: EventLog, from: string | Omit<EventLogReadOptions, 'signal'>, count: number, timeout = 5000): Promise<Array<EventLogEntry | StreamGapEvent>> {
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(), timeout)
  const out: Array<EventLogEntry | StreamGapEvent> = []
  try {
    for await (const entry of log.read({ ...(typeof from === 'string' ? { after: from } : from), signal: stop.signal })) {
      out.push(entry)
      if (out.length >= count) break
    }
  } finally {
    clearTimeout(timer)
    stop.abort()
  }
  return out
}

async function appendMany(log: EventLog, n: number, prefix = 'e'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(await log.append({ data: `${prefix}${i}` }))
  return ids
}

async function redisAdmin() {
  const admin = createClient({ url: redis().url })
  admin.on('error', () => {})
  await admin.connect()
  return admin
}

describe.each(KINDS)('$name event log', (kind) => {
  it('append() resolves to ordered ids; read({ initial }) yields the newest retained entries, then live ones, in order', async () => {
    const { log } = kind.make()
    const first = await log.append({ event: 'note', data: 'one' })
    const second = await log.append({ data: 'two\nlines' })
    const stop = new AbortController()
    const seen: Array<EventLogEntry | StreamGapEvent> = []
    const reading = (async () => {
      for await (const entry of log.read({ ...ALL, signal: stop.signal })) seen.push(entry)
    })()
    await until(() => seen.length === 2, 5000, 'replayed entries')
    const third = await log.append({ data: 'three' })
    await until(() => seen.length === 3, 5000, 'live entry')
    stop.abort()
    await reading
    expect(seen).toEqual([
      { id: first, event: 'note', data: 'one' },
      { id: second, data: 'two\nlines' },
      { id: third, data: 'three' },
    ])
  })

  it('read({ after }) resumes after that id', async () => {
    const { log } = kind.make()
    const ids = await appendMany(log, 5)
    expect((await take(log, ids[1]!, 3)).map((e) => e.id)).toEqual(ids.slice(2))
    // The newest id: nothing to replay, the next append arrives.
    const live = take(log, ids[4]!, 1)
    await sleep(50)
    const next = await log.append({ data: 'next' })
    expect((await live).map((e) => e.id)).toEqual([next])
  })

  it('with gapEvent: false, an after id already trimmed away reads from the oldest retained entry, with no gap after it', async () => {
    const { log } = kind.make({ maxLen: 10 })
    const ids = await appendMany(log, kind.name === 'redis' ? 1000 : 30)
    // Redis trims whole nodes (MAXLEN ~): ask it what it kept. The memory log keeps exactly 10.
    const all = await take(log, ALL, ids.length, 1000)
    expect(all.length).toBeLessThan(ids.length)
    expect(all.length).toBeGreaterThanOrEqual(10)
    if (kind.name === 'memory') expect(all.length).toBe(10)
    const retained = ids.slice(ids.length - all.length)
    expect(all.map((e) => e.id)).toEqual(retained)
    expect((await take(log, { after: ids[0]!, gapEvent: false }, retained.length)).map((e) => e.id)).toEqual(retained)
  })

  it('entries appended by another writer on the same stream reach every reader, in order', async () => {
    const { log, other } = kind.make()
    const writer = other()
    const before = await appendMany(writer, 3, 'old')
    const readers = [take(log, before[0]!, 12), take(log, before[0]!, 12), take(writer, before[0]!, 12)]
    await sleep(50)
    const after = await appendMany(writer, 10, 'new')
    const want = [...before.slice(1), ...after]
    for (const got of await Promise.all(readers)) expect(got.map((e) => e.id)).toEqual(want)
  })

  it('a slow consumer gets every entry in order, none twice, after 3000 arrived while it paused', async () => {
    const { log, other } = kind.make()
    const xranges = async () => {
      if (kind.name !== 'redis') return 0
      const admin = await redisAdmin()
      const stats = String(await admin.sendCommand(['INFO', 'commandstats']))
      await admin.close()
      return Number(/cmdstat_xrange:calls=(\d+)/.exec(stats)?.[1] ?? 0)
    }
    const xrangesBefore = await xranges()
    const writer = other()
    const start = await writer.append({ data: 'start' })
    const stop = new AbortController()
    const seen: string[] = []
    let writing = true
    const reading = (async () => {
      for await (const entry of log.read({ after: start, signal: stop.signal })) {
        seen.push(entry.data)
        // Stops pulling after the first entry until all 3000 are written: far behind the window.
        while (seen.length === 1 && writing) await sleep(20)
        if (seen.length % 500 === 0) await sleep(20)
      }
    })()
    const written: string[] = []
    for (let i = 0; i < 3000; i++) {
      written.push(`s${i}`)
      await writer.append({ data: `s${i}` })
    }
    writing = false
    await until(() => seen.length >= 3000, 15_000, 'the slow reader to catch up')
    stop.abort()
    await reading
    expect(seen).toEqual(written)
    // On Redis it fell more than the shared window (1000 entries) behind and caught up by XRANGE.
    if (kind.name === 'redis') expect(await xranges()).toBeGreaterThan(xrangesBefore)
  })

  it('abort while waiting for new entries ends the read normally within 500 ms', async () => {
    const { log } = kind.make()
    await log.append({ data: 'only' })
    for (const after of [undefined, 'garbage']) {
      const stop = new AbortController()
      const seen: string[] = []
      const reading = (async () => {
        for await (const entry of log.read({ after, initial: 1, signal: stop.signal })) seen.push(entry.data)
        return 'ended'
      })()
      await until(() => seen.length === 1, 5000, 'the retained entry')
      await sleep(100) // now waiting: nothing new
      const t0 = performance.now()
      stop.abort()
      await expect(reading).resolves.toBe('ended')
      expect(performance.now() - t0).toBeLessThan(500)
    }
    // Aborted before the first pull: nothing at all.
    const aborted = new AbortController()
    aborted.abort()
    expect(await take(log, ALL, 1).then(() => 'ok')).toBe('ok')
    const none: unknown[] = []
    for await (const entry of log.read({ signal: aborted.signal })) none.push(entry)
    expect(none).toEqual([])
  })

  it('close() ends every active read normally, and append() then rejects', async () => {
    const { log } = kind.make()
    await log.append({ data: 'x' })
    const reads = Array.from({ length: 5 }, () =>
      (async () => {
        const seen: string[] = []
        for await (const entry of log.read({ initial: 1, signal: new AbortController().signal })) seen.push(entry.data)
        return seen
      })(),
    )
    await sleep(200)
    const t0 = performance.now()
    await log.close()
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 5 }, () => ['x']))
    expect(performance.now() - t0).toBeLessThan(500)
    await expect(log.append({ data: 'late' })).rejects.toThrow(/closed/)
    await log.close() // idempotent
  })

  it('bad input is a TypeError and appends nothing', async () => {
    const { log } = kind.make()
    for (const bad of [{ data: 1 }, { data: undefined }, { event: 'a\nb', data: 'x' }, { event: '', data: 'x' }, null]) {
      await expect(log.append(bad as never)).rejects.toBeInstanceOf(TypeError)
    }
    const id = await log.append({ data: 'good' })
    expect((await take(log, ALL, 1)).map((e) => e.id)).toEqual([id])
    expect((await take(log, ALL, 2, 300)).length).toBe(1)
  })
})

describe('option checks', () => {
  it('createMemoryEventLog and createRedisEventLog reject bad options with a TypeError', () => {
    for (const maxLen of [0, -1, 1.5, Number.NaN]) {
      expect(() => createMemoryEventLog({ maxLen })).toThrow(TypeError)
      expect(() => createRedisEventLog({ key: 'k', maxLen })).toThrow(TypeError)
    }
    expect(() => createRedisEventLog({ key: '' })).toThrow(TypeError)
    expect(() => createRedisEventLog({} as never)).toThrow(TypeError)
    const client = createClient()
    expect(() => createRedisEventLog({ key: 'k', url: 'redis://127.0.0.1:1', client })).toThrow(/url or client/)
  })
})

describe('redis event log: connections and memory', () => {
  it('one blocking reader per log instance: 100 readers, replaying and live, use 3 connections (appends, replays, blocking reader)', async () => {
    const admin = await redisAdmin()
    try {
      const count = async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length - 1
      const baseline = await count()
      const key = `test:log:${++keySeq}`
      const log = track(createRedisEventLog({ url: redis().url, key }))
      const ids = await appendMany(log, 20, 'r')
      // Replays from every starting point (XRANGE on the command connection), then live entries.
      const readers = Array.from({ length: 100 }, (_, i) => take(log, i % 2 ? ids[i % 20]! : ALL, 20 + 30 - (i % 2 ? (i % 20) + 1 : 0), 10_000))
      await sleep(300)
      const live = await appendMany(log, 30, 'live')
      const results = await Promise.all(readers)
      const all = [...ids, ...live]
      results.forEach((got, i) => expect(got.map((e) => e.id)).toEqual(i % 2 ? all.slice((i % 20) + 1) : all))
      expect(await count()).toBe(baseline + 3)
    } finally {
      await admin.close()
    }
  })

  it('Redis unreachable: a read waits, ends within 500 ms of abort, and close() returns', async () => {
    const log = createRedisEventLog({ url: 'redis://127.0.0.1:1', key: 'unreachable' })
    const stop = new AbortController()
    const reading = (async () => {
      for await (const _ of log.read({ signal: stop.signal })) throw new Error('no entry can arrive')
      return 'ended'
    })()
    await sleep(300)
    const t0 = performance.now()
    stop.abort()
    await expect(reading).resolves.toBe('ended')
    expect(performance.now() - t0).toBeLessThan(500)
    await log.close()
  })

  it('a client it is given: connected if needed, duplicated for the blocking reader, never closed by close()', async () => {
    const admin = await redisAdmin()
    try {
      const client = createClient({ url: redis().url })
      client.on('error', () => {})
      const log = createRedisEventLog({ client, key: `test:log:${++keySeq}` })
      expect(client.isOpen).toBe(false) // lazy: nothing before the first use
      const id = await log.append({ data: 'given' })
      expect((await take(log, ALL, 1)).map((e) => e.id)).toEqual([id])
      await log.close()
      expect(client.isOpen).toBe(true)
      expect(await client.ping()).toBe('PONG')
      await client.close()
    } finally {
      await admin.close()
    }
  })

  it('stalled readers do not make memory grow: 40 MB appended while two readers never pull', async () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const key = `test:log:${++keySeq}`
    const log = track(createRedisEventLog({ url: redis().url, key, maxLen: 100_000 }))
    const writer = track(createRedisEventLog({ url: redis().url, key }))
    const start = await writer.append({ data: 'start' })
    // Two readers take one entry and then stop pulling (their iterators stay open), one keeps up.
    const stalled = [0, 1].map(() => log.read({ initial: 1, signal: new AbortController().signal })[Symbol.asyncIterator]())
    for (const it of stalled) expect((await it.next()).value?.data).toBe('start')
    let kept = 0
    const stop = new AbortController()
    const fast = (async () => {
      for await (const _ of log.read({ after: start, signal: stop.signal })) kept++
    })()
    const payload = 'x'.repeat(1000)
    const appendBatch = () => Promise.all(Array.from({ length: 100 }, () => writer.append({ data: payload })))
    // Warm-up: the window fills, the clients' buffers and compiled code settle.
    for (let i = 0; i < 2000; i += 100) await appendBatch()
    await until(() => kept >= 2000, 20_000, 'the fast reader (warm-up)')
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 40_000; i += 100) await appendBatch()
    await until(() => kept >= 42_000, 30_000, 'the fast reader')
    gc()
    const grown = process.memoryUsage().heapUsed - before
    console.log(`[event-log] heap growth with 2 stalled readers after 40,000 × 1 kB entries: ${(grown / 1e6).toFixed(2)} MB`)
    // Buffering per reader would hold 40 MB for each stalled one.
    expect(grown).toBeLessThan(15e6)
    // The stalled readers are still at their place: the next entry each gets is the second one.
    for (const it of stalled) {
      expect((await it.next()).value?.data).toBe(payload)
      await it.return?.()
    }
    stop.abort()
    await fast
  })
})
