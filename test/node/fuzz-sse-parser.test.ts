// Bad input for the fetch transport's parser: fast-check streams (random bytes, CR/LF mixes, BOMs,
// NULs, invalid UTF-8, long lines) cut into random chunks, compared event for event with a
// reference model of the WHATWG algorithm written here; then the same through the real fetch
// transport over a local server; then an endless line against maxLineLength.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventStream, createFetchTransport, type RawEvent } from 'use-event-stream/core'
import { createSseParser } from '../../src/transports/sseParser'
import { startScriptedServer, transportOptions, type ScriptedServer } from '../helpers/scriptedServer'

// ------------------------------------------------------------------------------------------------
// Reference model: WHATWG HTML §9.2.6, line based, as literal as possible. Lines are split on the
// bytes CRLF, LF or CR (none of which can occur inside a UTF-8 sequence, so decoding per line
// equals decoding the whole stream), after removing one leading BOM. A final line with no
// terminator is not a line: it is discarded with any unfinished block.

type Out = { kind: 'event'; event: RawEvent } | { kind: 'id'; id: string } | { kind: 'retry'; ms: number } | { kind: 'error' }

function splitLines(bytes: Uint8Array): { lines: Uint8Array[]; rest: Uint8Array } {
  const lines: Uint8Array[] = []
  let start = 0
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]
    if (b === 0x0a || b === 0x0d) {
      lines.push(bytes.subarray(start, i))
      i += b === 0x0d && bytes[i + 1] === 0x0a ? 2 : 1
      start = i
    } else i++
  }
  return { lines, rest: bytes.subarray(start) }
}

interface ModelOptions {
  maxLineLength?: number
  maxEventSize?: number
  lastEventId?: string
}

function model(input: Uint8Array, options: ModelOptions = {}): Out[] {
  const max = options.maxLineLength ?? Infinity
  const maxEvent = options.maxEventSize ?? Infinity
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  const body = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? input.subarray(3) : input
  const { lines, rest } = splitLines(body)
  const out: Out[] = []
  let data = ''
  let hasData = false
  let type = ''
  // undefined: the stream never had an id (none carried over, no non-empty id field yet).
  let idBuffer: string | undefined = options.lastEventId
  let lastEventId = idBuffer
  let ownId = false
  for (const bytes of lines) {
    if (bytes.length > max) return [...out, { kind: 'error' }]
    const line = decoder.decode(bytes)
    if (line === '') {
      const changed = idBuffer !== lastEventId
      lastEventId = idBuffer
      if (hasData) {
        out.push({ kind: 'event', event: { type: type || 'message', data: data.endsWith('\n') ? data.slice(0, -1) : data, lastEventId, hasOwnId: ownId } })
      } else if (changed) {
        out.push({ kind: 'id', id: lastEventId! })
      }
      ownId = false
      data = ''
      hasData = false
      type = ''
      continue
    }
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') type = value
    else if (field === 'data') {
      data += `${value}\n`
      hasData = true
      // The event's data so far, without the LF after its last line.
      if (new TextEncoder().encode(data).length - 1 > maxEvent) return [...out, { kind: 'error' }]
    } else if (field === 'id') {
      if (!value.includes('\0')) {
        ownId = true
        if (value !== '' || idBuffer !== undefined) idBuffer = value
      }
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) out.push({ kind: 'retry', ms: Number.parseInt(value, 10) })
    }
  }
  // An unterminated last line longer than the limit fails too (the parser counts a line while it
  // arrives), except a stream that is nothing but the start of a BOM: that cannot be told apart
  // from a BOM until more bytes come, and then it is discarded at the end with everything else.
  const bomPrefixOnly = lines.length === 0 && body === input && rest.length < 3 && rest.every((b, i) => b === [0xef, 0xbb, 0xbf][i])
  if (rest.length > max && !bomPrefixOnly) out.push({ kind: 'error' })
  return out
}

/** Runs the library's parser over `chunks`, recording what it reports; any throw fails the test. */
function runParser(chunks: Uint8Array[], options: ModelOptions = {}): Out[] {
  const out: Out[] = []
  const parser = createSseParser({
    ...options,
    onEvent: (event) => out.push({ kind: 'event', event }),
    onLastEventId: (id) => out.push({ kind: 'id', id }),
    onRetry: (ms) => out.push({ kind: 'retry', ms }),
    onError: (error) => {
      expect(error.kind).toBe('line-too-long')
      out.push({ kind: 'error' })
    },
  })
  for (const chunk of chunks) parser.push(chunk)
  parser.end()
  return out
}

// ------------------------------------------------------------------------------------------------
// Generators: fragments that matter to the grammar, mixed with arbitrary bytes.

const enc = (s: string) => Array.from(new TextEncoder().encode(s))
const fragment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...['data:', 'data: ', 'event:', 'event: ', 'id:', 'id: ', 'retry:', 'retry: ', ':', ': ', 'dat', 'data', 'id', 'retry'].map(enc)) },
  { weight: 6, arbitrary: fc.constantFrom(enc('\n'), enc('\r'), enc('\r\n'), enc('\n\n'), enc('\r\r'), enc('\r\n\r\n'), enc('\n\r')) },
  { weight: 4, arbitrary: fc.constantFrom(enc('x'), enc(' '), enc('  '), enc('1'), enc('42'), enc('007'), enc('1a'), enc('-1'), enc('é'), enc('€'), enc('😀'), enc('message'), enc('tick')) },
  // BOMs anywhere (only the first byte-order mark of the stream is special), NULs, invalid UTF-8.
  { weight: 2, arbitrary: fc.constantFrom([0xef, 0xbb, 0xbf], [0x00], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xef, 0xbb]) },
  { weight: 2, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 400 }).map((n) => Array<number>(n).fill(0x61)) },
)
const streamBytes = fc
  .tuple(fc.boolean(), fc.array(fragment, { maxLength: 40 }))
  .map(([bom, parts]) => Uint8Array.from([...(bom ? [0xef, 0xbb, 0xbf] : []), ...parts.flat()]))

/** Streams made mostly of data lines (ASCII and multibyte values), for the maxEventSize property. */
const dataHeavyBytes = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(fc.constantFrom('data:', 'data: ', 'data'), fc.oneof(fc.string({ maxLength: 24 }), fc.constantFrom('é', '😀', '€€', '')), fc.constantFrom('\n', '\r', '\r\n'))
          .map(([field, value, end]) => enc(field + value + end)),
      },
      { weight: 1, arbitrary: fc.constantFrom(enc('\n'), enc('\r\n'), enc('event: t\n'), enc('id: 1\n'), enc(': hb\n')) },
      { weight: 1, arbitrary: fragment },
    ),
    { maxLength: 30 },
  )
  .map((parts) => Uint8Array.from(parts.flat()))

/** Random cut points → chunks (some empty, some single bytes). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = Array.from(new Set(cuts.map((c) => Math.floor(c * (bytes.length + 1))))).sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const p of points) {
    chunks.push(bytes.subarray(start, Math.max(start, p)))
    start = Math.max(start, p)
  }
  chunks.push(bytes.subarray(start))
  return chunks
}
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { maxLength: 12 })

const stats: Array<{ name: string; cases: number; ms: number }> = []
function runProperty<T>(name: string, arb: fc.Arbitrary<T>, numRuns: number, predicate: (value: T) => void): void {
  const started = performance.now()
  fc.assert(fc.property(arb, predicate), { numRuns, seed: Number(process.env.FUZZ_SEED ?? 20_240_601) })
  stats.push({ name, cases: numRuns, ms: Math.round(performance.now() - started) })
}

afterAll(() => {
  const total = stats.reduce((n, s) => n + s.cases, 0)
  for (const s of stats) console.log(`[fuzz] ${s.name}: ${s.cases} cases in ${s.ms} ms`)
  console.log(`[fuzz] total ${total} generated cases`)
})

describe('createSseParser against a reference model of the WHATWG algorithm', () => {
  it('the model itself gets the spec examples right', () => {
    const text = 'data: YHOO\ndata: +2\ndata: 10\n\n: test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n'
    const events = model(new TextEncoder().encode(text)).flatMap((o) => (o.kind === 'event' ? [o.event] : []))
    expect(events).toEqual([
      { type: 'message', data: 'YHOO\n+2\n10', lastEventId: undefined, hasOwnId: false },
      { type: 'message', data: 'first event', lastEventId: '1', hasOwnId: true },
      // The spec's example: the empty id field resets the last event id to the empty string.
      { type: 'message', data: 'second event', lastEventId: '', hasOwnId: true },
      { type: 'message', data: ' third event', lastEventId: '', hasOwnId: false },
    ])
    expect(model(new TextEncoder().encode('data\n\ndata\ndata\n\ndata:'))).toEqual([
      { kind: 'event', event: { type: 'message', data: '', lastEventId: undefined, hasOwnId: false } },
      { kind: 'event', event: { type: 'message', data: '\n', lastEventId: undefined, hasOwnId: false } },
    ])
  })

  it('whole input in one chunk: same events, ids, retries', () => {
    runProperty('one chunk', streamBytes, 4000, (bytes) => {
      expect(runParser([bytes])).toEqual(model(bytes))
    })
  })

  it('random chunkings (including empty and single-byte chunks) change nothing', () => {
    runProperty('random chunking', fc.tuple(streamBytes, cuts), 4000, ([bytes, at]) => {
      expect(runParser(chunked(bytes, at))).toEqual(model(bytes))
    })
  })

  it('byte by byte, with a carried-over last event id', () => {
    runProperty('byte by byte + lastEventId', fc.tuple(streamBytes, fc.constantFrom(undefined, '7', 'é', '')), 1000, ([bytes, lastEventId]) => {
      const chunks = Array.from(bytes, (b) => Uint8Array.of(b))
      expect(runParser(chunks, { lastEventId })).toEqual(model(bytes, { lastEventId }))
    })
  })

  it('with a small maxLineLength: what precedes the long line is dispatched, then exactly one line-too-long error', () => {
    runProperty('maxLineLength', fc.tuple(streamBytes, cuts, fc.integer({ min: 0, max: 48 })), 2000, ([bytes, at, maxLineLength]) => {
      expect(runParser(chunked(bytes, at), { maxLineLength })).toEqual(model(bytes, { maxLineLength }))
    })
  })

  it('with a small maxEventSize: what precedes the big event is dispatched, then exactly one line-too-long error', () => {
    let limited = 0
    runProperty('maxEventSize', fc.tuple(dataHeavyBytes, cuts, fc.integer({ min: 0, max: 64 })), 2000, ([bytes, at, maxEventSize]) => {
      const out = runParser(chunked(bytes, at), { maxEventSize })
      expect(out).toEqual(model(bytes, { maxEventSize }))
      if (out.at(-1)?.kind === 'error') limited++
    })
    // The property means something only if many generated streams do reach the limit.
    expect(limited).toBeGreaterThan(200)
  })

  it('uniformly random bytes never throw', () => {
    runProperty('random bytes', fc.tuple(fc.uint8Array({ maxLength: 2000 }), cuts), 1000, ([bytes, at]) => {
      expect(runParser(chunked(bytes, at))).toEqual(model(bytes))
    })
  })
})

describe('an endless line', () => {
  it('50 MiB without a newline fails with line-too-long right after maxLineLength, without buffering it', () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x78)
    const errors: string[] = []
    let fed = 0
    const parser = createSseParser({ maxLineLength: 1_048_576, onEvent: () => {}, onError: (e) => errors.push(e.kind) })
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
    const started = performance.now()
    for (let i = 0; i < 800 && errors.length === 0; i++) {
      parser.push(chunk)
      fed += chunk.length
    }
    // The rest of the 50 MiB is ignored once the parser has stopped.
    for (let i = 0; i < 800 - fed / chunk.length; i++) parser.push(chunk)
    const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore
    console.log(`[fuzz] endless line: line-too-long after ${(fed / 1_048_576).toFixed(2)} MiB of 50 MiB, ${Math.round(performance.now() - started)} ms, memory +${(grown / 1_048_576).toFixed(1)} MiB`)
    expect(errors).toEqual(['line-too-long'])
    expect(fed).toBeLessThanOrEqual(1_048_576 + chunk.length)
    // Buffering the line would hold 50 MiB; one line's worth plus slack is all that may stay.
    expect(grown).toBeLessThan(16 * 1_048_576)
  })
})

// ------------------------------------------------------------------------------------------------
// Through the real fetch transport over HTTP on 127.0.0.1: the server writes each case in its
// chunks (one write per chunk, each on its own turn), the transport parses what arrives.

let server: ScriptedServer
let base: string
const cases = new Map<string, Uint8Array[]>()
let endlessBytesWritten = 0
let endlessClosed = false
let endlessEventBytesWritten = 0
let endlessEventClosed = false

beforeAll(async () => {
  server = await startScriptedServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/endless') {
      // 50 MiB without a newline, respecting backpressure, until the client hangs up.
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.once('close', () => (endlessClosed = true))
      const block = Buffer.alloc(64 * 1024, 0x78)
      for (let i = 0; i < 800 && !res.destroyed; i++) {
        endlessBytesWritten += block.length
        if (!res.write(block)) await new Promise((r) => res.once('drain', r).once('close', r))
      }
      return void res.end()
    }
    if (url.pathname === '/endless-event') {
      // 50 MiB of short data lines and never a blank line, respecting backpressure, until the client hangs up.
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.once('close', () => (endlessEventClosed = true))
      const block = Buffer.from(`data: ${'y'.repeat(1017)}\n`.repeat(64))
      for (let i = 0; i < 800 && !res.destroyed; i++) {
        endlessEventBytesWritten += block.length
        if (!res.write(block)) await new Promise((r) => res.once('drain', r).once('close', r))
      }
      return void res.end()
    }
    const chunks = cases.get(url.searchParams.get('case') ?? '')
    if (!chunks) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    for (const chunk of chunks) {
      if (chunk.length === 0) continue
      res.write(chunk)
      await new Promise((r) => setImmediate(r))
    }
    res.end()
  })
  base = server.url
})

afterAll(() => server.close())

function viaTransport(key: string, maxLineLength = 1_048_576): Promise<Out[]> {
  return new Promise((resolve, reject) => {
    const out: Out[] = []
    const timer = setTimeout(() => reject(new Error(`case ${key} hung`)), 5000)
    const done = () => {
      clearTimeout(timer)
      resolve(out)
    }
    createFetchTransport().connect(transportOptions(`${base}/stream?case=${key}`, { maxLineLength }), {
      onOpen() {},
      onActivity() {},
      onEvent: (event) => out.push({ kind: 'event', event }),
      onLastEventId: (id) => out.push({ kind: 'id', id }),
      onRetry: (ms) => out.push({ kind: 'retry', ms }),
      onError(error) {
        if (error.kind === 'line-too-long') out.push({ kind: 'error' })
        else out.push({ kind: 'error', unexpected: error.kind } as Out)
        done()
      },
      onClose: done,
    })
  })
}

describe('the fetch transport over HTTP', () => {
  it('generated streams in generated chunks: same results as the model', async () => {
    const started = performance.now()
    const samples = fc.sample(fc.tuple(streamBytes, cuts, fc.constantFrom(Infinity, Infinity, 16)), { numRuns: 150, seed: 7 })
    for (let i = 0; i < samples.length; i++) {
      const [bytes, at, max] = samples[i]!
      const key = String(i)
      cases.set(key, chunked(bytes, at))
      const maxLineLength = Number.isFinite(max) ? max : 1_048_576
      expect({ i, out: await viaTransport(key, maxLineLength) }).toEqual({ i, out: model(bytes, { maxLineLength }) })
    }
    stats.push({ name: 'fetch transport over HTTP', cases: samples.length, ms: Math.round(performance.now() - started) })
  })

  it('an endless line through createEventStream (default maxLineLength 1 MiB) ends failed/line-too-long early', async () => {
    const stream = createEventStream({ url: `${base}/endless`, transport: 'fetch', reconnect: false })
    const started = Date.now()
    stream.connect()
    for (let i = 0; i < 400 && stream.getSnapshot().status !== 'failed'; i++) await new Promise((r) => setTimeout(r, 25))
    const snap = stream.getSnapshot()
    for (let i = 0; i < 100 && !endlessClosed; i++) await new Promise((r) => setTimeout(r, 10))
    console.log(`[fuzz] endless line over HTTP: ${snap.status}/${snap.error?.kind} after ${Date.now() - started} ms; server wrote ${(endlessBytesWritten / 1_048_576).toFixed(1)} MiB of 50 MiB before the client hung up`)
    expect(snap.status).toBe('failed')
    expect(snap.error?.kind).toBe('line-too-long')
    expect(endlessClosed).toBe(true)
    // 1 MiB of line plus what sits in socket buffers, far from 50 MiB.
    expect(endlessBytesWritten).toBeLessThan(12 * 1_048_576)
    stream.close()
  })

  it('an endless event (short data lines, no blank line) through createEventStream (default maxEventSize 4 MiB) ends failed/line-too-long early', async () => {
    const stream = createEventStream({ url: `${base}/endless-event`, transport: 'fetch', reconnect: false })
    const started = Date.now()
    stream.connect()
    for (let i = 0; i < 400 && stream.getSnapshot().status !== 'failed'; i++) await new Promise((r) => setTimeout(r, 25))
    const snap = stream.getSnapshot()
    for (let i = 0; i < 100 && !endlessEventClosed; i++) await new Promise((r) => setTimeout(r, 10))
    console.log(`[fuzz] endless event over HTTP: ${snap.status}/${snap.error?.kind} after ${Date.now() - started} ms; server wrote ${(endlessEventBytesWritten / 1_048_576).toFixed(1)} MiB of 50 MiB before the client hung up`)
    expect(snap.status).toBe('failed')
    expect(snap.error?.kind).toBe('line-too-long')
    expect(snap.error?.message).toContain('maxEventSize')
    expect(endlessEventClosed).toBe(true)
    // 4 MiB of event plus what sits in socket buffers, far from 50 MiB.
    expect(endlessEventBytesWritten).toBeLessThan(16 * 1_048_576)
    stream.close()
  })
})
