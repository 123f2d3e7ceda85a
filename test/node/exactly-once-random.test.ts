/**
 * "No event lost, none duplicated" under random schedules, on both transports: the fetch
 * transport, and the eventsource transport over SpecEventSource (a browser's EventSource: error
 * events without a status, the WHATWG last-event-id buffer). Against a server that replays after
 * `Last-Event-ID` and whose log mixes events with and without ids and id-only blocks, each
 * schedule drops and ends connections, rotates tokens (overlap or reconnect) and opens slow new
 * connections at random moments. The first event of every schedule carries an id, so the stream
 * always has a position to resume from and 0 lost / 0 duplicated is always achievable.
 *
 * Seeded: the seed is printed at the start and in every failure. Replay a run with
 *   SEED=1234 npx vitest run --project node test/node/exactly-once-random.test.ts
 * and a single schedule of it (the failure message names it) with SEED=1234 SCHEDULE=17 (add
 * TRANSPORT=fetch or TRANSPORT=eventsource to run one transport). SCHEDULES=n changes the number
 * of schedules per transport (default 500). The seed fixes each schedule's steps and waits, not
 * the network's timing, so a replayed schedule usually, not always, fails the same way.
 */
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest'
import { createEventStream, type EventSourceConstructor, type EventStream, type EventStreamOptions } from 'use-event-stream/core'
import { createMockTokens } from 'use-event-stream/testing'
import { startPositionServer, ledger, type PositionServer } from '../helpers/positionServer'
import { mulberry32 } from '../helpers/random'
import { startScriptedServer, type Handler, type ScriptedServer } from '../helpers/scriptedServer'
import { SpecEventSource } from '../helpers/specEventSource'
import { sleep, until } from '../helpers/wait'

const SEED = process.env.SEED !== undefined && process.env.SEED !== '' ? Number(process.env.SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0
const ONLY_SCHEDULE = process.env.SCHEDULE !== undefined && process.env.SCHEDULE !== '' ? Number(process.env.SCHEDULE) : undefined
const ONLY_TRANSPORT = process.env.TRANSPORT
const SCHEDULES = Number(process.env.SCHEDULES ?? 500)
/** A run stops after this many failed schedules per transport (MAX_FAILURES=n to change): enough to see the pattern, and bounded in time. */
const MAX_FAILURES = Number(process.env.MAX_FAILURES ?? 25)
console.log(`[exactly-once-random] SEED=${SEED} (replay: SEED=${SEED} npx vitest run --project node test/node/exactly-once-random.test.ts)`)

type TransportCase = 'fetch' | 'eventsource'
type Mode = 'mixed' | 'all-ids'

/** A schedule's own generator: a function of the run's seed, the transport and the schedule's number. */
function scheduleRandom(transport: TransportCase, mode: Mode, index: number): () => number {
  let h = SEED ^ 0x9e3779b9
  for (const part of [transport === 'fetch' ? 1 : 2, mode === 'mixed' ? 1 : 2, index]) {
    h = Math.imul(h ^ part, 0x85ebca6b) >>> 0
    h = (h ^ (h >>> 13)) >>> 0
    h = Math.imul(h, 0xc2b2ae35) >>> 0
    h = (h ^ (h >>> 16)) >>> 0
  }
  return mulberry32(h)
}

function streamOptions(transport: TransportCase): Pick<EventStreamOptions<string>, 'transport' | 'platform'> {
  return transport === 'fetch' ? { transport: 'fetch' } : { transport: 'eventsource', platform: { EventSource: SpecEventSource as EventSourceConstructor } }
}

interface Outcome {
  index: number
  rotation: 'overlap' | 'reconnect'
  lost: number
  duplicated: number
  /** First sequence number received (1 unless the first event was lost). */
  first: number
  /** The final event never arrived within 5 s (a stalled stream). */
  stalled: boolean
  lastEventId: string | undefined
  serverLastId: string | undefined
  trace: string[]
  /** The server's log: `3` an event without id, `4#e9` one with id e9, `[e10]` an id-only block. */
  log: string[]
  received: string[]
  requests: string[]
}

/** `until` polling every 2 ms (its default pause of 20 ms would dominate a schedule's time). */
const soon = (predicate: () => boolean, timeout: number, what: string) => until(predicate, timeout, what, () => sleep(2))

const failed = (o: Outcome) => o.lost > 0 || o.duplicated > 0 || o.first !== 1 || o.stalled || o.lastEventId !== o.serverLastId

/** One schedule: a fresh stream, 20–60 random steps, a final event with an id, then the ledger. */
async function runSchedule(server: PositionServer, transport: TransportCase, mode: Mode, index: number): Promise<Outcome> {
  const random = scheduleRandom(transport, mode, index)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
  await server.reset()
  const rotation = pick(['overlap', 'reconnect'] as const)
  const tokens = createMockTokens()
  const received: string[] = []
  const trace: string[] = []
  const stream: EventStream<string> = createEventStream<string>({
    url: server.streamUrl,
    ...streamOptions(transport),
    tokens,
    rotation,
    reconnect: { initialDelay: 5, maxDelay: 20 },
    onEvent: (event) => received.push(event.data),
  })
  let stalled = false
  try {
    stream.connect()
    await soon(() => stream.getSnapshot().status === 'open', 5000, `the first open (SEED=${SEED} SCHEDULE=${index} TRANSPORT=${transport})`)
    server.publish({ id: true })
    trace.push('pub#')
    await soon(() => received.length > 0, 5000, `the first event (SEED=${SEED} SCHEDULE=${index} TRANSPORT=${transport})`)

    const steps = between(20, 60)
    for (let i = 0; i < steps; i++) {
      const r = random()
      if (r < 0.48) {
        const withId = mode === 'all-ids' || random() < 1 / 3
        trace.push(`pub${withId ? '#' : ''}`)
        server.publish({ id: withId })
      } else if (r < 0.58) {
        if (mode === 'all-ids') {
          trace.push('pub#')
          server.publish({ id: true })
        } else {
          trace.push('idonly')
          server.idOnly()
        }
      } else if (r < 0.64) {
        trace.push('drop')
        server.dropAll()
      } else if (r < 0.7) {
        trace.push('end')
        server.endAll()
      } else if (r < 0.81) {
        trace.push('rotate')
        tokens.rotate()
      } else if (r < 0.87) {
        const ms = between(20, 150)
        trace.push(`slow${ms}+rotate`)
        server.delayNextOpens(1, ms)
        tokens.rotate()
      } else {
        const ms = between(0, 15)
        trace.push(`wait${ms}`)
        await sleep(ms)
      }
      // One turn of the event loop between steps, so sockets and timers interleave with them.
      await new Promise((resolve) => setImmediate(resolve))
    }

    const last = server.publish({ id: true })
    trace.push('pub# (final)')
    try {
      await soon(() => received.includes(String(last)), 5000, 'the final event')
    } catch {
      stalled = true
    }
    // A slow connection still held by the server would replay after the final event: let it, so
    // duplicates it brings are counted. Then a moment for bytes in flight.
    await soon(() => server.heldStreams === 0, 1000, 'held streams').catch(() => {})
    await sleep(10)
  } finally {
    stream.close()
    tokens.dispose()
  }
  const { lost, duplicated, first } = ledger(received, server.published)
  return {
    index,
    rotation,
    lost,
    duplicated,
    first,
    stalled,
    lastEventId: stream.getSnapshot().lastEventId,
    serverLastId: server.lastId,
    trace,
    log: server.steps.map((step) => (step.kind === 'id' ? `[${step.id}]` : step.id === undefined ? `${step.seq}` : `${step.seq}#${step.id}`)),
    received,
    requests: server.streamRequests.map((r) => `${r.token ?? '-'}@${r.lastEventId ?? '-'}${r.resumed ? '' : '(unknown)'}${r.delayedMs ? `+${r.delayedMs}ms` : ''}`),
  }
}

function describeOutcome(transport: TransportCase, mode: Mode, o: Outcome): string {
  return [
    `SEED=${SEED} SCHEDULE=${o.index} TRANSPORT=${transport} (${mode}, rotation: '${o.rotation}'): lost ${o.lost}, duplicated ${o.duplicated}` +
      (o.first !== 1 ? `, first received ${o.first}` : '') +
      (o.stalled ? ', the final event never arrived' : '') +
      (o.lastEventId !== o.serverLastId ? `, lastEventId ${JSON.stringify(o.lastEventId)} instead of ${JSON.stringify(o.serverLastId)}` : ''),
    `  steps:    ${o.trace.join(' ')}`,
    `  log:      ${o.log.join(' ')}`,
    `  received: ${o.received.join(' ')}`,
    `  requests: ${o.requests.join(' ')} (token@Last-Event-ID, +held ms)`,
  ].join('\n')
}

/** Runs `count` schedules (or only SCHEDULE) and fails with a summary of every failed one. */
async function runSchedules(transport: TransportCase, mode: Mode, count: number, expect: ExpectStatic): Promise<void> {
  const server = await startPositionServer()
  const started = performance.now()
  const failures: Outcome[] = []
  let ran = 0
  try {
    const indexes = ONLY_SCHEDULE !== undefined ? [ONLY_SCHEDULE] : Array.from({ length: count }, (_, i) => i)
    for (const index of indexes) {
      const outcome = await runSchedule(server, transport, mode, index)
      ran++
      if (failed(outcome)) failures.push(outcome)
      // A stalled schedule costs 5 s: a few are enough to see it.
      if (failures.length >= MAX_FAILURES || failures.filter((o) => o.stalled).length >= 5) break
    }
  } finally {
    await server.close()
  }
  const total = (key: 'lost' | 'duplicated') => failures.reduce((sum, o) => sum + o[key], 0)
  const summary =
    `[exactly-once-random] SEED=${SEED} ${transport} ${mode}: ${ran} schedules in ${Math.round(performance.now() - started)} ms, ` +
    `${failures.length} failed${ran < count && ONLY_SCHEDULE === undefined ? ' (stopped early)' : ''}: lost ${total('lost')}, duplicated ${total('duplicated')}, ` +
    `stalled ${failures.filter((o) => o.stalled).length}, wrong lastEventId ${failures.filter((o) => o.lastEventId !== o.serverLastId).length}`
  console.log(summary)
  // Stalls and losses first: rarer than duplicates, and the more telling.
  const details = [...failures]
    .sort((x, y) => Number(y.stalled) - Number(x.stalled) || y.lost - x.lost || x.index - y.index)
    .slice(0, 5)
    .map((o) => describeOutcome(transport, mode, o))
    .join('\n')
  expect(failures.length, `${summary}\n${details}`).toBe(0)
}

const transports: TransportCase[] = (['fetch', 'eventsource'] as const).filter((t) => ONLY_TRANSPORT === undefined || ONLY_TRANSPORT === t)

/* ---------------------------------------------------------------------------------------------
 * SpecEventSource: the browser semantics the eventsource runs rely on
 * -------------------------------------------------------------------------------------------*/

describe('SpecEventSource (a browser EventSource for Node)', () => {
  let server: ScriptedServer
  let route: Handler
  const requests: Array<{ lastEventId: string | undefined; accept: string | undefined; closed: Promise<void> }> = []
  beforeAll(async () => {
    server = await startScriptedServer((req, res) => {
      requests.push({
        lastEventId: req.headers['last-event-id'] as string | undefined,
        accept: req.headers.accept,
        closed: new Promise((resolve) => res.on('close', () => resolve())),
      })
      route(req, res)
    })
  })
  afterAll(() => server.close())

  const sse = (...chunks: Array<string | Uint8Array>): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
    for (const chunk of chunks) res.write(chunk)
  }

  /** Records open, message events (data and lastEventId) and errors (with readyState) of one object. */
  function record(source: SpecEventSource) {
    const log: string[] = []
    const events: Array<{ data: string; lastEventId: string }> = []
    const errors: Event[] = []
    source.onopen = () => log.push('open')
    source.onmessage = (ev: MessageEvent) => {
      log.push(`message ${ev.data}`)
      events.push({ data: ev.data, lastEventId: ev.lastEventId })
    }
    source.onerror = (ev: Event) => {
      log.push(`error ${source.readyState}`)
      errors.push(ev)
    }
    return { log, events, errors }
  }

  it('keeps the last-event-id buffer per spec: an id-only block moves the next event’s lastEventId, an id-less event reports the last id, an empty id clears it, an id with NUL is ignored', async () => {
    requests.length = 0
    route = sse('\uFEFFdata: a\n\n', 'id: 1\ndata: b\r\n\r\n', 'data: c\r\rid: 5\n\n', 'data: d\n\nid: x\0y\ndata: e\n\n', 'id\ndata: f\n\n', 'event: other\ndata: g\n\n', 'data: h\ndata\n: comment\ndata:  i\n\n')
    const source = new SpecEventSource(`${server.url}/s`)
    const { events } = record(source)
    const others: string[] = []
    source.addEventListener('other', (ev) => others.push(`${(ev as MessageEvent).data}@${(ev as MessageEvent).lastEventId}`))
    await until(() => events.length === 7, 2000, 'seven message events')
    source.close()
    expect(events).toEqual([
      { data: 'a', lastEventId: '' },
      { data: 'b', lastEventId: '1' },
      { data: 'c', lastEventId: '1' },
      // `id: 5` alone dispatched nothing but moved the buffer.
      { data: 'd', lastEventId: '5' },
      { data: 'e', lastEventId: '5' },
      { data: 'f', lastEventId: '' },
      { data: 'h\n\n i', lastEventId: '' },
    ])
    expect(others).toEqual(['g@'])
    expect(requests[0]!.lastEventId).toBeUndefined()
    expect(requests[0]!.accept).toBe('text/event-stream')
  })

  it('parses lines split anywhere: CR, LF and CRLF across chunks, UTF-8 split inside a character', async () => {
    const euro = new TextEncoder().encode('data: €\r')
    route = sse('data: x\r', '\ndata: y\r', 'data: z\n', '\n', euro.slice(0, 7), euro.slice(7), '\n\n', 'id: 2\r\n\r\n', 'data: after\n\n')
    const source = new SpecEventSource(`${server.url}/s`)
    const { events } = record(source)
    await until(() => events.length === 3, 2000, 'three message events')
    source.close()
    expect(events).toEqual([
      { data: 'x\ny\nz', lastEventId: '' },
      { data: '€', lastEventId: '' },
      { data: 'after', lastEventId: '2' },
    ])
  })

  it('hides statuses: a non-200 or a wrong content type closes it (CLOSED, then a plain error event) and it does not retry', async () => {
    for (const answer of [
      (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(503, { 'retry-after': '1' }).end('busy'),
      (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'text/plain' }).end('data: no\n\n'),
      (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(204).end(),
    ]) {
      requests.length = 0
      route = answer
      const source = new SpecEventSource(`${server.url}/s`)
      const { log, errors } = record(source)
      await until(() => errors.length > 0, 2000, 'an error event')
      await sleep(50)
      expect(log).toEqual(['error 2'])
      expect(source.readyState).toBe(SpecEventSource.CLOSED)
      expect(errors[0]!.constructor).toBe(Event)
      expect(Object.keys(errors[0]!)).toEqual([])
      expect('status' in errors[0]! || 'code' in errors[0]! || 'message' in errors[0]!).toBe(false)
      expect(requests).toHaveLength(1)
    }
  })

  it('on a clean end or a dropped connection: CONNECTING, a plain error, then its own reconnect with Last-Event-ID (moved by an id-only block, UTF-8) after retry:', async () => {
    requests.length = 0
    let n = 0
    route = (req, res) => {
      n++
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      if (n === 1) res.end('retry: 20\nid: 7\ndata: a\n\nid: 8\n\ndata: half\n')
      else if (n === 2) res.write('data: b\n\nid: é9\n\n', () => setTimeout(() => res.destroy(), 5))
      else res.write('data: c\n\n')
    }
    const source = new SpecEventSource(`${server.url}/s`)
    const { log, events, errors } = record(source)
    await until(() => events.length === 3, 3000, 'three message events over three connections')
    source.close()
    expect(log).toEqual(['open', 'message a', 'error 0', 'open', 'message b', 'error 0', 'open', 'message c'])
    expect(events.map((e) => e.lastEventId)).toEqual(['7', '8', 'é9'])
    // Sent as UTF-8 bytes (Node reads a header's bytes as latin1).
    expect(requests.map((r) => r.lastEventId && Buffer.from(r.lastEventId, 'latin1').toString('utf8'))).toEqual([undefined, '8', 'é9'])
    expect(errors.every((e) => e.constructor === Event && Object.keys(e).length === 0)).toBe(true)
  })

  it('close() aborts the request, and nothing is dispatched after it', async () => {
    requests.length = 0
    route = sse('data: one\n\n')
    const source = new SpecEventSource(`${server.url}/s`)
    const { log, events } = record(source)
    await until(() => events.length === 1, 2000, 'one event')
    source.close()
    await requests[0]!.closed
    await sleep(30)
    expect(source.readyState).toBe(SpecEventSource.CLOSED)
    expect(log).toEqual(['open', 'message one'])
  })
})

/* ---------------------------------------------------------------------------------------------
 * Random schedules
 * -------------------------------------------------------------------------------------------*/

// The two transports run side by side (each with its own server, its schedules one after the
// other): the machine mostly waits on sockets and timers, so this halves the time.
describe.concurrent(`exactly once under random schedules (SEED=${SEED})`, () => {
  for (const transport of transports) {
    it(`${transport}: ids on some events, id-only blocks, drops, clean ends, rotations and slow new connections: 0 lost, 0 duplicated (${SCHEDULES} schedules)`, async ({ expect }) => {
      await runSchedules(transport, 'mixed', SCHEDULES, expect)
    }, Math.max(115_000, SCHEDULES * 250))
  }
})

// If this fails, suspect the harness (server, SpecEventSource, ledger) before the stream: with an
// id on every event, resuming needs no counting at all.
describe.concurrent(`harness check: ids on every event, no id-only blocks (SEED=${SEED})`, () => {
  for (const transport of transports) {
    it(`${transport}: 0 lost, 0 duplicated (25 schedules)`, async ({ expect }) => {
      await runSchedules(transport, 'all-ids', 25, expect)
    }, 60_000)
  }
})
