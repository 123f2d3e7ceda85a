/**
 * SSE parsing conformance (WHATWG HTML "Server-sent events", event stream interpretation) for the
 * parser behind the fetch transport. Every case is run on the whole input, byte by byte, and on
 * every split into two and (for short inputs) three chunks: the outcome must never depend on how
 * the network cut the bytes.
 */
import { describe, expect, it } from 'vitest'
import type { EventStreamError } from 'use-event-stream/core'
import { createSseParser, type SseParserOptions } from '../../src/transports/sseParser'

type Call = ['event', string, string, string | undefined, boolean | undefined] | ['id', string] | ['retry', number] | ['error', string]

const enc = new TextEncoder()
const bytes = (input: string | number[]): Uint8Array => (typeof input === 'string' ? enc.encode(input) : Uint8Array.from(input))

function run(chunks: Uint8Array[], options: Partial<SseParserOptions> = {}): Call[] {
  const calls: Call[] = []
  const parser = createSseParser({
    ...options,
    onEvent: (e) => calls.push(['event', e.type, e.data, e.lastEventId, e.hasOwnId]),
    onLastEventId: (id) => calls.push(['id', id]),
    onRetry: (ms) => calls.push(['retry', ms]),
    onError: (err) => calls.push(['error', err.kind]),
  })
  for (const chunk of chunks) parser.push(chunk)
  parser.end()
  return calls
}

/** All the ways to cut `input` we try: whole, byte by byte, every 2-split, every 3-split when short. */
function* chunkings(input: Uint8Array): Generator<Uint8Array[]> {
  const n = input.length
  yield [input]
  yield Array.from({ length: n }, (_, i) => input.subarray(i, i + 1))
  for (let a = 0; a <= n; a++) yield [input.subarray(0, a), input.subarray(a)]
  if (n > 48) return
  for (let a = 1; a < n; a++) {
    for (let b = a + 1; b < n; b++) yield [input.subarray(0, a), input.subarray(a, b), input.subarray(b)]
  }
}

/** Asserts `expected` for the unsplit input, then the same outcome for every chunking. */
function check(input: string | number[], expected: Call[], options: Partial<SseParserOptions> = {}): void {
  const data = bytes(input)
  expect(run([data], options)).toEqual(expected)
  let tried = 0
  for (const chunks of chunkings(data)) {
    const got = run(chunks, options)
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      // Name the failing cut so a regression is easy to reproduce.
      expect({ chunks: chunks.map((c) => Array.from(c)), got }).toEqual({ chunks: chunks.map((c) => Array.from(c)), got: expected })
    }
    tried++
  }
  expect(tried).toBeGreaterThan(data.length)
}

/** An event; `own`: its block had an `id` field (`hasOwnId`). */
const ev = (data: string, type = 'message', id?: string, own = false): Call => ['event', type, data, id, own]

describe('line endings', () => {
  it('accepts LF, CR and CRLF, also mixed', () => {
    check('data: a\n\n', [ev('a')])
    check('data: a\r\r', [ev('a')])
    check('data: a\r\n\r\n', [ev('a')])
    check('data: a\rdata: b\ndata: c\r\n\n', [ev('a\nb\nc')])
  })

  it('counts CR LF as one line end even when the chunk ends between them', () => {
    // Were CR and LF two line ends, the LF would be a blank line and split the event in two.
    check('data: a\r\ndata: b\r\n\r\n', [ev('a\nb')])
    expect(run([bytes('data: a\r'), bytes('\ndata: b\r'), bytes('\n\r'), bytes('\n')])).toEqual([ev('a\nb')])
  })

  it('treats CR CR as two line ends and LF CR as two', () => {
    check('data: a\r\rdata: b\n\r', [ev('a'), ev('b')])
  })
})

describe('byte order mark', () => {
  it('strips one leading BOM, also when split across chunks', () => {
    check('\uFEFFdata: a\n\n', [ev('a')])
    expect(run([bytes([0xef]), bytes([0xbb]), bytes([0xbf]), bytes('data: a\n\n')])).toEqual([ev('a')])
  })

  it('keeps a second BOM, which makes the first field name unknown', () => {
    check('\uFEFF\uFEFFdata: a\n\ndata: b\n\n', [ev('b')])
  })

  it('keeps a BOM that does not start the stream', () => {
    check('data: a\n\n\uFEFFdata: b\n\n', [ev('a')])
    // In a value it is content.
    check('data: \uFEFFx\n\n', [ev('\uFEFFx')])
  })

  it('does not drop bytes held while checking for a BOM', () => {
    // EF BB followed by "d" is no BOM: the line becomes an unknown field ("\uFFFDdata").
    check([0xef, 0xbb, ...bytes('data: a\n\ndata: b\n\n')], [ev('b')])
    expect(run([bytes([0xef]), bytes('\n\n')])).toEqual([])
  })
})

describe('comments and fields', () => {
  it('ignores comment lines (heartbeats) entirely', () => {
    check(': heartbeat\n\n:\n\n', [])
    check(':data: a\n\ndata: b\n: inside\n\n', [ev('b')])
  })

  it('reads a line without a colon as a field with an empty value', () => {
    check('data\n\n', [ev('')])
    check('data\ndata\n\n', [ev('\n')])
    check('event\ndata: a\n\n', [ev('a')])
    check('id: 1\nid\ndata: a\n\n', [ev('a', 'message', '', true)])
  })

  it('removes exactly one space after the colon', () => {
    check('data:a\n\n', [ev('a')])
    check('data: a\n\n', [ev('a')])
    check('data:  a \n\n', [ev(' a ')])
    check('data:\ta\n\n', [ev('\ta')])
  })

  it('splits at the first colon only', () => {
    check('data: a: b:c\n\n', [ev('a: b:c')])
  })

  it('ignores unknown fields, and field names are case-sensitive and exact', () => {
    check('foo: bar\ndata: a\n\n', [ev('a')])
    check('Data: a\n\n', [])
    check('data : a\n\n', [])
    check(' data: a\n\n', [])
  })
})

describe('data and dispatch', () => {
  it('joins data lines with LF', () => {
    check('data: a\ndata: b\ndata: c\n\n', [ev('a\nb\nc')])
    check('data: a\ndata:\n\n', [ev('a\n')])
    check('data:\n\n', [ev('')])
  })

  it('dispatches nothing for blank lines without data (keep-alives)', () => {
    // Trap 1 of fetch-event-source: it dispatches an empty message for every blank line.
    check('\n\n\n\r\n\r', [])
    check('data: a\n\n\n\n\ndata: b\n\n', [ev('a'), ev('b')])
  })

  it('uses the event field as type and resets it after each dispatch', () => {
    check('event: tick\ndata: 1\n\ndata: 2\n\n', [ev('1', 'tick'), ev('2')])
    // Also after a block without data.
    check('event: tick\n\ndata: 2\n\n', [ev('2')])
    check('event: a\nevent: b\ndata: x\n\n', [ev('x', 'b')])
  })

  it('discards an unfinished final block and an unterminated final line', () => {
    check('data: a\n\ndata: b\n', [ev('a')])
    check('data: a\n\ndata: b', [ev('a')])
    check('data: a\n\ndata: b\r', [ev('a')])
  })

  it('emits nothing after end()', () => {
    const calls: Call[] = []
    const parser = createSseParser({ onEvent: (e) => calls.push(['event', e.type, e.data, e.lastEventId, e.hasOwnId]) })
    parser.push(bytes('data: a\n'))
    parser.end()
    parser.push(bytes('\n'))
    expect(calls).toEqual([])
  })
})

describe('last event id', () => {
  it('carries the id to later events until changed', () => {
    check('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n', [ev('a', 'message', '1', true), ev('b', 'message', '1'), ev('c', 'message', '2', true)])
  })

  it('starts from the id of the previous connection', () => {
    check('data: a\n\n', [ev('a', 'message', '41')], { lastEventId: '41' })
    check('id: 42\ndata: a\n\n', [ev('a', 'message', '42', true)], { lastEventId: '41' })
  })

  it('reports an id-only block through onLastEventId, once, and not for repeated blank lines', () => {
    check('id: 7\n\n\n\n', [['id', '7']])
    check('id: 7\n\nid: 7\n\n', [['id', '7']])
    check('id: 7\n\ndata: a\n\n', [['id', '7'], ev('a', 'message', '7')])
  })

  it('an empty id field clears the id: later events report \'\', not undefined', () => {
    check('id: 1\ndata: a\n\nid\ndata: b\n\ndata: c\n\n', [ev('a', 'message', '1', true), ev('b', 'message', '', true), ev('c', 'message', '')])
    check('id: 1\ndata: a\n\nid:\n\ndata: b\n\n', [ev('a', 'message', '1', true), ['id', ''], ev('b', 'message', '')])
    check('id:\n\n', [['id', '']], { lastEventId: '3' })
    check('id:\ndata: a\n\n', [ev('a', 'message', '', true)], { lastEventId: '3' })
    // Cleared on an earlier connection: the stream hands the parser '' and events keep it.
    check('data: a\n\n', [ev('a', 'message', '')], { lastEventId: '' })
  })

  it('a stream that never had an id reports undefined, even after an empty id field', () => {
    check('data: a\n\nid:\n\nid\ndata: b\n\n', [ev('a'), ev('b', 'message', undefined, true)])
  })

  it('hasOwnId is true exactly for blocks with a (valid) id field', () => {
    check('id: 5\ndata: a\n\ndata: b\n\nid: 5\ndata: c\n\nid: x\u0000y\ndata: d\n\n', [
      ev('a', 'message', '5', true),
      ev('b', 'message', '5'),
      // The same id again is still the block's own.
      ev('c', 'message', '5', true),
      // An id with NUL is ignored, as if the field were absent.
      ev('d', 'message', '5'),
    ])
    // An id-only block in between does not make the next data block's id its own.
    check('id: 6\n\ndata: a\n\n', [['id', '6'], ev('a', 'message', '6')])
  })

  it('ignores an id containing NUL', () => {
    check('id: 1\n\nid: a\u0000b\ndata: x\n\n', [['id', '1'], ev('x', 'message', '1')])
  })

  it('moves only when a block is dispatched, never for an unfinished one', () => {
    // Trap 7 of fetch-event-source: it reports ids of blocks that never end.
    check('id: 9\ndata: a\n', [])
    check('id: 9\n', [])
    check('data: a\n\nid: 9\n', [ev('a')])
  })

  it('keeps non-ASCII ids intact', () => {
    check('id: événement-😀\ndata: a\n\n', [ev('a', 'message', 'événement-😀', true)])
  })
})

describe('retry', () => {
  it('accepts only ASCII digits, applied as soon as the line is read', () => {
    check('retry: 1500\n', [['retry', 1500]])
    check('retry: 0\ndata: a\n\n', [['retry', 0], ev('a')])
    check('retry: 007\n', [['retry', 7]])
  })

  it('ignores retry values that are not only ASCII digits', () => {
    for (const value of ['15a', '-1', '1.5', '', ' 100', '1e3', '١٢', '+5']) {
      check(`retry: ${value}\ndata: a\n\n`, [ev('a')])
    }
  })

  it('ignores an unterminated retry line at the end', () => {
    check('retry: 100', [])
  })
})

describe('decoding', () => {
  it('decodes multibyte characters split across chunks', () => {
    check('data: é€😀\n\n', [ev('é€😀')])
  })

  it('replaces invalid UTF-8 with U+FFFD', () => {
    check([...bytes('data: '), 0xff, 0x61, 0xe2, 0x82, 0x0a, 0x0a], [ev('\uFFFDa\uFFFD')])
    // A truncated sequence ends at the line end, never swallows it.
    check([...bytes('data: '), 0xf0, 0x9f, 0x0a, ...bytes('data: b\n\n')], [ev('\uFFFD\nb')])
  })
})

describe('maxLineLength', () => {
  it('accepts a line of exactly maxLineLength bytes and rejects one byte more', () => {
    check('data: 1234\n\n', [ev('1234')], { maxLineLength: 10 })
    check('data: 12345\n\n', [['error', 'line-too-long']], { maxLineLength: 10 })
  })

  it('dispatches what came before the long line, and nothing after, whatever the chunking', () => {
    check('data: a\n\ndata: 0123456789\n\ndata: b\n\n', [ev('a'), ['error', 'line-too-long']], { maxLineLength: 10 })
    check('data: a\n\ndata: b\ndata: 0123456789', [ev('a'), ['error', 'line-too-long']], { maxLineLength: 10 })
  })

  it('fails while the line is still arriving instead of buffering it', () => {
    const calls: Call[] = []
    const parser = createSseParser({
      maxLineLength: 4096,
      onEvent: () => calls.push(['event', '', '', undefined, undefined]),
      onError: (err) => calls.push(['error', err.kind]),
    })
    const kilobyte = new Uint8Array(1024).fill(0x61)
    let pushed = 0
    while (calls.length === 0 && pushed < 100) {
      parser.push(kilobyte)
      pushed++
    }
    // 4 KiB still fit, the fifth KiB does not: no line end was ever sent.
    expect(pushed).toBe(5)
    expect(calls).toEqual([['error', 'line-too-long']])
    parser.push(bytes('\n\ndata: late\n\n'))
    parser.end()
    expect(calls).toHaveLength(1)
  })

  it('counts bytes, not characters, and excludes the line terminator and BOM', () => {
    check('\uFEFFdata:é\r\n\r\n', [ev('é')], { maxLineLength: 7 })
    check('data:é\n\n', [['error', 'line-too-long']], { maxLineLength: 6 })
  })
})

describe('maxEventSize', () => {
  it('bounds the data of one block, not only each line', () => {
    // The data of one event is its data lines joined by LF: "12\n3" is 4 bytes.
    check('data: 12\ndata: 3\n\n', [ev('12\n3')], { maxEventSize: 4 })
    check('data: 12\ndata: 34\n\n', [['error', 'line-too-long']], { maxEventSize: 4 })
    // Each block starts from zero, and only data lines count.
    check('data: 1234\n\nevent: long-type-name\nid: long-id-value\ndata: 5678\n\n', [ev('1234'), ev('5678', 'long-type-name', 'long-id-value', true)], { maxEventSize: 4 })
  })

  it('counts bytes, not characters', () => {
    check('data: é\ndata: é\n\n', [ev('é\né')], { maxEventSize: 5 })
    check('data: é\ndata: é\n\n', [['error', 'line-too-long']], { maxEventSize: 4 })
  })

  it('dispatches the events before the oversized one, and nothing after', () => {
    check('data: a\n\ndata: 12\ndata: 34\n\ndata: b\n\n', [ev('a'), ['error', 'line-too-long']], { maxEventSize: 4 })
  })

  it('endless short data lines without a blank line fail once the block passes maxEventSize, saying it was the event', () => {
    const errors: EventStreamError[] = []
    const parser = createSseParser({ maxLineLength: 64, maxEventSize: 4096, onEvent: () => {}, onError: (err) => errors.push(err) })
    const line = bytes(`data: ${'x'.repeat(57)}\n`) // 64 bytes with its LF: every line is within maxLineLength
    let pushed = 0
    while (errors.length === 0 && pushed < 10_000) {
      parser.push(line)
      pushed++
    }
    // 4096 bytes of data is 71 lines of 57 bytes plus 70 LFs (4117): the 71st line is over.
    expect(pushed).toBe(71)
    expect(errors.map((e) => e.kind)).toEqual(['line-too-long'])
    expect(errors[0]!.message).toContain('maxEventSize')
    expect(errors[0]!.message).toMatch(/event/i)
    expect(errors[0]!.message).not.toMatch(/^Line/)
    parser.push(bytes('\n'))
    parser.end()
    expect(errors).toHaveLength(1)
  })
})

describe('a realistic stream', () => {
  it('parses a mix of everything', () => {
    const input = '\uFEFF: welcome\nretry: 2000\n\nid: 1\nevent: tick\ndata: {"n":1}\n\n: hb\n\nid: 2\ndata: line1\ndata: line2\n\nid: 3\n\ndata: tail'
    check(input, [['retry', 2000], ev('{"n":1}', 'tick', '1', true), ev('line1\nline2', 'message', '2', true), ['id', '3']])
  })
})
