/**
 * Live entries reach caught-up streams by push (formatted once, written to every such stream as
 * they are published) while replay and catch-up pull from the log; a stream without room falls back
 * to pulling and rejoins the push path once it has caught up. Every switch between the two must
 * lose nothing and repeat nothing. Checked on the memory log and on the Redis log (a real
 * redis-server), with entries appended continuously while:
 * - HTTP clients (real sockets on 127.0.0.1, `pipeSseToNode`) join at random moments, with no id or
 *   resuming from a random entry already appended, some of them pausing their reads;
 * - streams whose writes stall at random moments (a sink that holds a write until the producer has
 *   appended well past what a stream holds back) fall back to pulling and come back.
 *
 * Seeded: the seed is printed, and every failure names it. It fixes every choice (join moments,
 * resume points, payload sizes, pauses, which writes stall), not how they interleave with the
 * sockets' timing. Replay a run with
 *   SEED=1234 npx vitest run --project node test/node/event-log-fanout.test.ts
 */
import { createServer, get, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { createMemoryEventLog, pipeSseToNode, streamSse, type EventLog } from 'use-event-stream/server'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { mulberry32 } from '../helpers/random'
import { useRedisServer } from '../helpers/redisServer'
import { sleep, until } from '../helpers/wait'

const SEED = process.env.SEED !== undefined && process.env.SEED !== '' ? Number(process.env.SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0
console.log(`[event-log-fanout] SEED=${SEED} (replay: SEED=${SEED} npx vitest run --project node test/node/event-log-fanout.test.ts)`)

const redis = useRedisServer()
const servers: Server[] = []
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))))
})

/** A generator per test and log, so each test replays on its own. */
function random(salt: string): () => number {
  let h = SEED
  for (const c of salt) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return mulberry32(h)
}

/**
 * Appends `total` entries with data `<n>:<padding>`, in bursts with pauses, and records each id in
 * order. Mostly small entries, some of 8 kB, so that a stream holding back its writes fills up fast.
 */
function producer(log: EventLog, rand: () => number, total: number) {
  const ids: string[] = []
  let bytes = 0
  const done = (async () => {
    while (ids.length < total) {
      const burst = 1 + Math.floor(rand() * 20)
      for (let i = 0; i < burst && ids.length < total; i++) {
        const n = ids.length
        const data = `${n}:${rand() < 0.1 ? 'x'.repeat(8 * 1024) : 'y'}`
        ids.push(await log.append({ data }))
        bytes += data.length
      }
      await sleep(Math.floor(rand() * 6))
    }
  })()
  return { ids, done, bytes: () => bytes }
}

/** The `<n>` of every event in `text` (whole events only), and the rest; fails on a gap event. */
function parse(text: string, into: number[]): string {
  let start = 0
  for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
    const block = text.slice(start, end)
    start = end + 2
    if (block.includes('event: stream-gap')) throw new Error(`unexpected stream-gap event: ${block}`)
    const data = block.split('\n').find((line) => line.startsWith('data: '))
    if (data !== undefined) into.push(Number(data.slice(6, data.indexOf(':', 6))))
  }
  return text.slice(start)
}

/** The first way `got` is not exactly `from, from + 1, …, to`, or `undefined`. */
function mismatch(got: number[], from: number, to: number): string | undefined {
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== from + i) return `at position ${i} expected entry ${from + i}, got ${got[i]} (${got.slice(Math.max(0, i - 3), i + 3).join(',')}…)`
  }
  if (from + got.length !== to + 1) return `got entries ${from}..${from + got.length - 1}, expected through ${to}`
  return undefined
}

const logs: Array<[string, (key: string) => EventLog]> = [
  ['memory log', () => createMemoryEventLog({ maxLen: 100_000 })],
  ['Redis log', (key) => createRedisEventLog({ url: redis().url, key })],
]

describe.each(logs)(`%s: exactly once across the switch between replay, push and catch-up (SEED=${SEED})`, (name, makeLog) => {
  it('HTTP clients joining at random moments, with no id or resuming from an entry, some pausing their reads, get every entry after their point once, in order', async () => {
    const rand = random(`http ${name}`)
    const log = makeLog(`fanout-http:${SEED}`)
    const server = createServer((req, res) => {
      pipeSseToNode(res, ({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), { request: req, heartbeatMs: 0 }).catch(() => {})
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port

    const total = 2500
    const feed = producer(log, random(`http producer ${name}`), total)
    type Client = { index: number; kind: 'live' | 'resume'; from: number; got: number[]; pauses: number; close: () => void }
    const clients: Client[] = []
    const joining: Promise<void>[] = []
    for (let index = 0; index < 30; index++) {
      // A moment during the production (after so many entries), and a way of joining.
      const at = Math.floor(rand() * total * 0.8)
      const resume = rand() < 0.5
      const pauses = rand() < 0.3 ? 1 + Math.floor(rand() * 3) : 0
      const pick = rand()
      const pauseFor = random(`http pauses ${name} ${index}`)
      joining.push(
        (async () => {
          await until(() => feed.ids.length >= at, 20_000, `entry ${at} to be appended`)
          const appended = feed.ids.length
          const client: Client = { index, kind: resume && appended > 0 ? 'resume' : 'live', from: appended, got: [], pauses, close: () => {} }
          const headers: Record<string, string> = {}
          if (client.kind === 'resume') {
            const after = Math.floor(pick * appended)
            headers['Last-Event-ID'] = feed.ids[after]!
            client.from = after + 1
          }
          clients.push(client)
          const req = get({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
            res.setEncoding('utf8')
            let rest = ''
            let paused = 0
            res.on('data', (chunk: string) => {
              rest = parse(rest + chunk, client.got)
              // A client that stops reading for a while: its stream fills up meanwhile.
              if (paused < client.pauses && client.got.length > 50 * (paused + 1)) {
                paused++
                res.pause()
                setTimeout(() => res.resume(), 100 + Math.floor(pauseFor() * 300))
              }
            })
            res.on('error', () => {})
          })
          req.on('error', () => {})
          client.close = () => req.destroy()
        })(),
      )
    }
    try {
      await Promise.all(joining)
      await feed.done
      const last = total - 1
      const complete = (c: Client) => c.got.length > 0 && c.got[c.got.length - 1]! >= last
      await until(() => clients.every(complete), 30_000, `every client to get entry ${last} (SEED=${SEED})`).catch(() => {})
      for (const c of clients) {
        const context = `SEED=${SEED} ${name} client ${c.index} (${c.kind}${c.pauses ? `, ${c.pauses} pauses` : ''})`
        if (c.kind === 'resume') {
          expect(mismatch(c.got, c.from, last), context).toBeUndefined()
        } else {
          // The live tail: nothing appended before it connected, then every entry once, in order.
          expect(c.got.length, `${context}: no entries`).toBeGreaterThan(0)
          expect(c.got[0]!, `${context}: replayed entries appended before it connected`).toBeGreaterThanOrEqual(c.from)
          expect(mismatch(c.got, c.got[0]!, last), context).toBeUndefined()
        }
      }
      console.log(`[event-log-fanout] ${name}: ${clients.length} HTTP clients (${clients.filter((c) => c.kind === 'resume').length} resuming, ${clients.filter((c) => c.pauses).length} pausing) got ${clients.reduce((s, c) => s + c.got.length, 0)} entries, each exactly once`)
    } finally {
      for (const c of clients) c.close()
      await log.close()
    }
  }, 60_000)

  it('streams whose writes stall at random moments fall back to pulling and rejoin the push path, losing and repeating nothing', async () => {
    const rand = random(`stall ${name}`)
    const log = makeLog(`fanout-stall:${SEED}`)
    const total = 3000
    const feed = producer(log, random(`stall producer ${name}`), total)
    const stop = new AbortController()
    type Stream = { index: number; got: number[]; stalls: number; writes: number; streaming: Promise<void> }
    const streams: Stream[] = []
    for (let index = 0; index < 12; index++) {
      const stream: Stream = { index, got: [], stalls: 0, writes: 0, streaming: Promise.resolve() }
      const stallNow = random(`stall ${name} ${index}`)
      let rest = ''
      const sink = {
        write: (chunk: string): void | Promise<void> => {
          stream.writes++
          rest = parse(rest + chunk, stream.got)
          if (stream.stalls >= 4 || stallNow() > 0.02) return
          stream.stalls++
          // Held until the producer has appended far more than a stream holds back (64 kB): the
          // log's pushes are refused meanwhile and the stream has to catch up by pulling.
          const target = feed.bytes() + 256 * 1024
          return (async () => {
            for (let i = 0; i < 1000 && feed.bytes() < target && feed.ids.length < total; i++) await sleep(5)
          })()
        },
      }
      // Every stream resumes from the first entry, so each must get all of them.
      const first = (async () => {
        await until(() => feed.ids.length > 0, 5000, 'the first entry')
        await sleep(Math.floor(rand() * 300))
      })()
      stream.streaming = first.then(() => streamSse(({ signal }) => log.read({ after: feed.ids[0], signal }), sink, { signal: stop.signal, heartbeatMs: 0 }))
      streams.push(stream)
    }
    try {
      await feed.done
      const last = total - 1
      await until(() => streams.every((s) => s.got[s.got.length - 1] === last), 30_000, `every stream to get entry ${last} (SEED=${SEED})`).catch(() => {})
      for (const s of streams) expect(mismatch(s.got, 1, last), `SEED=${SEED} ${name} stream ${s.index} (${s.stalls} stalls)`).toBeUndefined()
      // The run did stall streams past what they hold back, or it proved nothing about the fallback.
      expect(streams.reduce((sum, s) => sum + s.stalls, 0), `SEED=${SEED}: no stream stalled`).toBeGreaterThan(0)
      console.log(`[event-log-fanout] ${name}: ${streams.length} streams, ${streams.reduce((sum, s) => sum + s.stalls, 0)} stalls, ${streams.reduce((sum, s) => sum + s.writes, 0)} writes for ${streams.length * last} entries: each exactly once`)
    } finally {
      stop.abort()
      await Promise.all(streams.map((s) => s.streaming))
      await log.close()
    }
  }, 60_000)
})
