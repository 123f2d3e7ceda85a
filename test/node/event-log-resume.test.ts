// How each log answers the resume point a client presents, against the memory log and the Redis log
// on a real redis-server started for this file: no id and malformed ids start at the live tail (or
// the newest `initial` entries), an id beyond the newest entry does too, an id older than what the
// log retains is announced by one `stream-gap` event before the retained entries, and a normal id
// resumes right after it with nothing extra.
import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { createMemoryEventLog, STREAM_GAP_EVENT, type EventLog } from 'use-event-stream/server'
import { createRedisEventLog, type RedisEventLogClient } from 'use-event-stream/server/redis'
import { useRedisServer } from '../helpers/redisServer'
import { sleep, until } from '../helpers/wait'

const redis = useRedisServer()
let keySeq = 0

const opened: EventLog[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()))
})
const track = <T extends EventLog>(log: T) => (opened.push(log), log)

interface Kind {
  name: 'memory' | 'redis'
  make(options?: { maxLen?: number }): EventLog
  /** An id well-formed for this log and above anything it handed out. */
  future: string
}

const KINDS: Kind[] = [
  { name: 'memory', make: (options) => track(createMemoryEventLog(options)), future: '999999' },
  {
    name: 'redis',
    make: (options) => track(createRedisEventLog({ url: redis().url, key: `test:resume:${++keySeq}`, ...options })),
    future: `${Date.now() + 1e10}-0`,
  },
]

type Item = { id?: string; event?: string; data: string }

/**
 * Starts a read, lets it settle for 150 ms (so it has reached the live tail), appends `live`
 * entries, and collects until `count` items arrived or 5 s passed.
 */
async function readThenAppend(log: EventLog, options: { after?: string; initial?: number; gapEvent?: boolean }, live: number, count: number): Promise<{ items: Item[]; liveIds: string[] }> {
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(), 5000)
  const items: Item[] = []
  const reading = (async () => {
    for await (const item of log.read({ ...options, signal: stop.signal })) {
      items.push(item)
      if (items.length >= count) break
    }
  })()
  await sleep(150)
  const liveIds: string[] = []
  for (let i = 0; i < live; i++) liveIds.push(await log.append({ data: `live${i}` }))
  await reading
  clearTimeout(timer)
  stop.abort()
  return { items, liveIds }
}

async function appendMany(log: EventLog, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(await log.append({ data: `e${i}` }))
  return ids
}

describe.each(KINDS)('$name log: resume semantics', (kind) => {
  it('no id: the first entry yielded is the first appended after the read began', async () => {
    const log = kind.make()
    await appendMany(log, 5)
    const { items, liveIds } = await readThenAppend(log, {}, 2, 2)
    expect(items.map((e) => e.id)).toEqual(liveIds)
  })

  it('an id the log cannot parse reads like no id: live tail', async () => {
    const log = kind.make()
    await appendMany(log, 5)
    for (const bad of ['nonsense', '', '-1', '1.5', 'x-y', '99999999999999999999999-0']) {
      const { items, liveIds } = await readThenAppend(log, { after: bad }, 1, 1)
      expect(items.map((e) => e.id), `after ${JSON.stringify(bad)}`).toEqual(liveIds)
    }
  })

  it('initial: N gives a reader with no usable id the newest N retained entries, then live ones', async () => {
    const log = kind.make()
    const ids = await appendMany(log, 5)
    const { items, liveIds } = await readThenAppend(log, { initial: 2 }, 1, 3)
    expect(items.map((e) => e.id)).toEqual([...ids.slice(3), ...liveIds])
    const all = await readThenAppend(log, { after: 'garbage', initial: 50 }, 1, 7)
    expect(all.items.map((e) => e.id)).toEqual([...ids, ...liveIds, ...all.liveIds])
    expect(() => log.read({ initial: -1, signal: new AbortController().signal })).toThrow(TypeError)
  })

  it('an id newer than the newest entry is never handed out: live tail, no replay, no gap', async () => {
    const log = kind.make()
    await appendMany(log, 5)
    const { items, liveIds } = await readThenAppend(log, { after: kind.future }, 2, 2)
    expect(items.map((e) => e.id)).toEqual(liveIds)
  })

  it('an id older than the oldest retained entry yields one stream-gap event, then the retained entries', async () => {
    const log = kind.make({ maxLen: 10 })
    const ids = await appendMany(log, kind.name === 'redis' ? 1000 : 30)
    const retained = (await readThenAppend(log, { after: ids[0], gapEvent: false }, 0, ids.length)).items
    expect(retained.length).toBeLessThan(ids.length - 1)
    const oldestRetained = retained[0]!.id!
    expect(ids.slice(ids.indexOf(oldestRetained))).toEqual(retained.map((e) => e.id))

    const { items } = await readThenAppend(log, { after: ids[0] }, 0, retained.length + 1)
    expect(STREAM_GAP_EVENT).toBe('stream-gap')
    expect(items[0]).toEqual({ event: 'stream-gap', data: JSON.stringify({ lastEventId: ids[0], resumedAt: oldestRetained }) })
    expect(items[0]!.id).toBeUndefined()
    expect(items.slice(1)).toEqual(retained)
    // The memory log knows the id just before its oldest entry lost nothing: no gap. Redis does not
    // record what MAXLEN trimmed, so it reports that one case as a gap too.
    const previous = ids[ids.indexOf(oldestRetained) - 1]!
    const exact = await readThenAppend(log, { after: previous }, 0, retained.length + (kind.name === 'redis' ? 1 : 0))
    expect(exact.items.filter((e) => e.event !== STREAM_GAP_EVENT)).toEqual(retained)
    if (kind.name === 'memory') expect(exact.items).toEqual(retained)
    // The oldest retained id itself: the rest, no gap, on both.
    const inside = await readThenAppend(log, { after: oldestRetained }, 0, retained.length - 1)
    expect(inside.items).toEqual(retained.slice(1))
  })

  it('a reader that falls more than the retained length behind gets the gap event, with its last id', async () => {
    const log = kind.make({ maxLen: 10 })
    const first = await log.append({ data: 'first' })
    const second = await log.append({ data: 'second' })
    const it = log.read({ after: first, signal: AbortSignal.timeout(10_000) })[Symbol.asyncIterator]()
    expect((await it.next()).value?.id).toBe(second)
    // It stops pulling while far more than maxLen entries arrive.
    const ids = await appendMany(log, kind.name === 'redis' ? 1000 : 30)
    const items: Item[] = []
    for (let i = 0; i < 3; i++) items.push((await it.next()).value as Item)
    await it.return?.()
    const resumedAt = items[1]!.id!
    expect(ids.indexOf(resumedAt)).toBeGreaterThan(0)
    expect(items[0]).toEqual({ event: STREAM_GAP_EVENT, data: JSON.stringify({ lastEventId: second, resumedAt }) })
    expect(items[2]!.id).toBe(ids[ids.indexOf(resumedAt) + 1])
  })

  it('a normal id resumes right after it, with no gap event', async () => {
    const log = kind.make()
    const ids = await appendMany(log, 5)
    const { items, liveIds } = await readThenAppend(log, { after: ids[1] }, 1, 4)
    expect(items.map((e) => e.id)).toEqual([...ids.slice(2), ...liveIds])
    expect(items.every((e) => e.event !== STREAM_GAP_EVENT)).toBe(true)
  })
})

describe('redis log: replays stay off the connection that appends', () => {
  /** A given client that records the commands sent through it (the log's append connection). */
  function recording(url: string): { client: RedisEventLogClient; commands: string[]; real: { close(): Promise<unknown> } } {
    const real = createClient({ url })
    real.on('error', () => {})
    const commands: string[] = []
    const client: RedisEventLogClient = {
      get isOpen() {
        return real.isOpen
      },
      get isReady() {
        return real.isReady
      },
      connect: () => real.connect(),
      duplicate: () => real.duplicate() as unknown as RedisEventLogClient,
      sendCommand: (args) => {
        commands.push(args[0]!.toUpperCase())
        return real.sendCommand(args)
      },
      on: (event, listener) => real.on(event, listener),
      close: () => real.close(),
      destroy: () => real.destroy(),
    }
    return { client, commands, real }
  }

  it('XRANGE, XREVRANGE and XINFO never go through the append connection', async () => {
    const { client, commands, real } = recording(redis().url)
    const log = track(createRedisEventLog({ client, key: `test:resume:${++keySeq}`, maxLen: 10 }))
    const ids = await appendMany(log, 500)
    await readThenAppend(log, { after: ids[0] }, 1, 3)
    await readThenAppend(log, { after: ids[400] }, 1, 3)
    await readThenAppend(log, { initial: 3 }, 1, 4)
    await readThenAppend(log, { after: `${Date.now() + 1e10}-0` }, 1, 1)
    expect(new Set(commands)).toEqual(new Set(['XADD']))
    await log.close()
    await real.close()
  })

  it('append p99 stays under 100 ms while 100 id-less and 100 malformed-id readers connect to a 20k-entry log', async () => {
    const key = `test:resume:${++keySeq}`
    const log = track(createRedisEventLog({ url: redis().url, key, maxLen: 20_000 }))
    const admin = createClient({ url: redis().url })
    await admin.connect()
    // Fill directly, pipelined: the fill is not what is measured.
    for (let i = 0; i < 20_000; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => admin.sendCommand(['XADD', key, '*', 'data', `fill${i + j}`])))
    }
    await admin.close()
    await log.append({ data: 'warm' })
    const stop = new AbortController()
    // Readers connect while the appends run, so each starts wherever the tail is then: what they
    // must all get is the last one.
    let sawLast = 0
    const readers = Array.from({ length: 200 }, (_, i) =>
      (async () => {
        for await (const entry of log.read({ after: i % 2 ? 'not-an-id' : undefined, signal: stop.signal })) if (entry.data === 'm199') sawLast++
      })(),
    )
    const latencies: number[] = []
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now()
      await log.append({ data: `m${i}` })
      latencies.push(performance.now() - t0)
    }
    await until(() => sawLast === 200, 15_000, 'every reader to get the last entry')
    stop.abort()
    await Promise.all(readers)
    latencies.sort((a, b) => a - b)
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!
    console.log(`[event-log-resume] append p50 ${latencies[100]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms with 200 id-less/malformed readers on a 20k-entry log`)
    expect(p99).toBeLessThan(100)
  })
})
