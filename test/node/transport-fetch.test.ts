/**
 * The fetch transport over real HTTP on 127.0.0.1. A scripted `node:http` server controls bytes,
 * statuses and chunk boundaries exactly; the reference server checks the real backend (tokens
 * from POST /auth/sse-token, its fault injection). Each trap of `@microsoft/fetch-event-source`
 * 2.0.1 that this transport avoids has a test named after it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { type EventStreamError, type RawEvent, type TransportConnectOptions, type TransportHandlers } from 'use-event-stream/core'
import { resolvePlatform } from '../../src/core/platform'
import { createFetchTransport } from '../../src/transports/fetchTransport'
import { connectionsOf, mintSseToken } from '../helpers/referenceClient'
import { refusedUrl, startScriptedServer, transportOptions, type Handler, type ScriptedServer } from '../helpers/scriptedServer'
import { sleep, until } from '../helpers/wait'

/* ---------------------------------------------------------------------------------------------
 * Scripted server
 * -------------------------------------------------------------------------------------------*/

interface SeenRequest {
  url: string
  headers: IncomingMessage['headers']
  /** Resolves when the server side of this request is closed (by either end). */
  closed: Promise<void>
}

let server: ScriptedServer
let baseUrl: string
let route: Handler
let seen: SeenRequest[] = []

beforeAll(async () => {
  server = await startScriptedServer((req, res) => {
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()))
    seen.push({ url: req.url ?? '', headers: req.headers, closed })
    // No keep-alive: afterEach kills leftover sockets, and a pooled dead one would fail the
    // next test's request with "other side closed".
    res.setHeader('connection', 'close')
    route(req, res)
  })
  baseUrl = server.url
})

afterAll(() => server.close())

afterEach(async () => {
  seen = []
  await server.reset()
})

const sse = (res: ServerResponse, status = 200, contentType = 'text/event-stream') => {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' })
  res.flushHeaders()
}

/* ---------------------------------------------------------------------------------------------
 * A recording harness around one connect
 * -------------------------------------------------------------------------------------------*/

type Log = Array<
  | ['open']
  | ['event', RawEvent]
  | ['id', string]
  | ['retry', number]
  | ['activity']
  | ['error', EventStreamError]
  | ['close', { noContent: boolean }]
>

function connect(overrides: Partial<TransportConnectOptions> = {}, hooks: Partial<TransportHandlers> = {}) {
  const log: Log = []
  let resolveEnd!: (entry: Log[number]) => void
  const ended = new Promise<Log[number]>((resolve) => (resolveEnd = resolve))
  const handlers: TransportHandlers = {
    onOpen: () => (log.push(['open']), hooks.onOpen?.()),
    onEvent: (e) => (log.push(['event', e]), hooks.onEvent?.(e)),
    onLastEventId: (id) => log.push(['id', id]),
    onRetry: (ms) => log.push(['retry', ms]),
    onActivity: () => log.push(['activity']),
    onError: (error) => {
      log.push(['error', error])
      resolveEnd(['error', error])
    },
    onClose: (info) => {
      log.push(['close', info])
      resolveEnd(['close', info])
    },
  }
  const abort = createFetchTransport().connect(transportOptions(`${baseUrl}/stream`, overrides), handlers)
  const events = () => log.flatMap((entry) => (entry[0] === 'event' ? [entry[1]] : []))
  const terminal = () => log.filter((entry) => entry[0] === 'error' || entry[0] === 'close')
  return { log, ended, abort, events, terminal }
}

async function endedWithError(c: ReturnType<typeof connect>): Promise<EventStreamError> {
  const [kind, value] = await c.ended
  if (kind !== 'error') throw new Error(`expected onError, got ${kind}`)
  return value as EventStreamError
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 * -------------------------------------------------------------------------------------------*/

describe('fetch transport without a DOM (fetchEventSource() would throw here)', () => {
  it('streams events in a host where document and window do not exist', async () => {
    expect(typeof (globalThis as { document?: unknown }).document).toBe('undefined')
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined')
    route = (_req, res) => {
      sse(res)
      res.end('data: hello\n\n')
    }
    const c = connect()
    expect(await c.ended).toEqual(['close', { noContent: false }])
    expect(c.events()).toEqual([{ type: 'message', data: 'hello', lastEventId: undefined, hasOwnId: false }])
    expect(c.log[0]).toEqual(['open'])
    expect(createFetchTransport().name).toBe('fetch')
  })
})

describe('request (trap 2: headers built per connect)', () => {
  it('sends Authorization, Accept, Last-Event-ID and custom headers, with the token never in the URL', async () => {
    route = (_req, res) => (sse(res), res.end())
    const c = connect({ token: 'tok-A.b.c', lastEventId: '41', headers: { 'X-Trace': 't1' } })
    await c.ended
    const req = seen[0]!
    expect(req.headers.authorization).toBe('Bearer tok-A.b.c')
    expect(req.headers.accept).toBe('text/event-stream')
    expect(req.headers['last-event-id']).toBe('41')
    expect(req.headers['x-trace']).toBe('t1')
    expect(req.url).toBe('/stream')
  })

  it('sends no Authorization without a token and no Last-Event-ID without an id', async () => {
    route = (_req, res) => (sse(res), res.end())
    await connect().ended
    expect(seen[0]!.headers.authorization).toBeUndefined()
    expect(seen[0]!.headers['last-event-id']).toBeUndefined()
  })

  it('presents the token of each connect, not the first one', async () => {
    route = (_req, res) => (sse(res), res.end())
    await connect({ token: 'first-token' }).ended
    await connect({ token: 'second-token', lastEventId: '7' }).ended
    expect(seen.map((r) => [r.headers.authorization, r.headers['last-event-id']])).toEqual([
      ['Bearer first-token', undefined],
      ['Bearer second-token', '7'],
    ])
  })

  it('lets the token override a static Authorization header', async () => {
    route = (_req, res) => (sse(res), res.end())
    await connect({ token: 'fresh', headers: { authorization: 'Bearer static' } }).ended
    expect(seen[0]!.headers.authorization).toBe('Bearer fresh')
  })

  it('sends a non-Latin-1 Last-Event-ID as UTF-8 bytes, as a browser EventSource does (trap 8)', async () => {
    route = (_req, res) => (sse(res), res.end())
    const id = 'événement-😀-日本'
    const c = connect({ lastEventId: id })
    expect((await c.ended)[0]).toBe('close')
    const raw = seen[0]!.headers['last-event-id'] as string
    expect(Buffer.from(raw, 'latin1').toString('utf8')).toBe(id)
  })
})

describe('response status and type (trap 3)', () => {
  it('opens on 200 text/event-stream with parameters, in any case', async () => {
    route = (_req, res) => (sse(res, 200, 'Text/Event-Stream; charset=utf-8'), res.end('data: a\n\n'))
    const c = connect()
    expect(await c.ended).toEqual(['close', { noContent: false }])
    expect(c.log[0]).toEqual(['open'])
    expect(c.events()).toHaveLength(1)
  })

  it('rejects an error status even with the event-stream content type', async () => {
    route = (_req, res) => (sse(res, 404), res.end('data: not for you\n\n'))
    const c = connect()
    const error = await endedWithError(c)
    expect([error.kind, error.status]).toEqual(['http', 404])
    expect(c.log.some((e) => e[0] === 'open' || e[0] === 'event')).toBe(false)
  })

  it.each([401, 403])('reports %i as unauthorized with its status', async (status) => {
    route = (_req, res) => (res.writeHead(status, { 'content-type': 'application/json' }), res.end('{}'))
    const error = await endedWithError(connect({ token: 'expired-token' }))
    expect([error.kind, error.status]).toEqual(['unauthorized', status])
  })

  it('reports 204 as a close with noContent', async () => {
    route = (_req, res) => (res.writeHead(204), res.end())
    const c = connect()
    expect(await c.ended).toEqual(['close', { noContent: true }])
    expect(c.log).toEqual([['close', { noContent: true }]])
  })

  it("a platform without fetch fails with a hint, the host's global fetch notwithstanding", async () => {
    const error = await endedWithError(connect({ platform: { ...resolvePlatform(), fetch: undefined } }))
    expect([error.kind, error.message]).toEqual(['network', 'No fetch: pass platform.fetch'])
    expect(seen).toEqual([])
  })

  it('parses Retry-After in delta-seconds', async () => {
    route = (_req, res) => (res.writeHead(503, { 'retry-after': '7' }), res.end())
    const error = await endedWithError(connect())
    expect([error.kind, error.status, error.retryAfter]).toEqual(['http', 503, 7000])
  })

  it('parses Retry-After as an HTTP date against platform.now()', async () => {
    const now = Date.UTC(2030, 0, 1, 0, 0, 0)
    route = (_req, res) => (res.writeHead(429, { 'retry-after': new Date(now + 90_000).toUTCString() }), res.end())
    const error = await endedWithError(connect({ platform: resolvePlatform({ now: () => now }) }))
    expect([error.status, error.retryAfter]).toEqual([429, 90_000])
  })

  it('ignores an unparseable Retry-After', async () => {
    route = (_req, res) => (res.writeHead(500, { 'retry-after': 'soon' }), res.end())
    const error = await endedWithError(connect())
    expect([error.status, error.retryAfter]).toEqual([500, undefined])
  })

  it('rejects 200 with another content type', async () => {
    route = (_req, res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('data: a\n\n'))
    const error = await endedWithError(connect())
    expect(error.kind).toBe('content-type')
    expect(error.message).toContain('text/html')
  })

  it('names the status and the URL, never the token', async () => {
    route = (_req, res) => (res.writeHead(500), res.end())
    const token = 'secret-jwt-value'
    const error = await endedWithError(connect({ token, url: new URL(`${baseUrl}/stream?channel=ticker&token=${token}&access_token=other`) }))
    expect(error.message).toContain('500')
    expect(error.message).toContain('/stream?channel=ticker')
    expect(error.message).not.toContain(token)
    expect(error.message).not.toContain('other')
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(token)
  })

  it('cancels the body of a rejected response instead of leaving the connection busy', async () => {
    route = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.write('a body that never ends')
    }
    const error = await endedWithError(connect())
    expect(error.status).toBe(500)
    await expect(Promise.race([seen[0]!.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')])).resolves.toBe('closed')
  })
})

describe('stream body', () => {
  it('dispatches nothing for keep-alive blank lines and comments, but reports activity (trap 1)', async () => {
    route = async (_req, res) => {
      sse(res)
      for (const part of [': hb\n\n', '\n\n\n', 'data: real\n\n', '\r\n\r\n']) {
        res.write(part)
        await sleep(15)
      }
      res.end()
    }
    const c = connect()
    await c.ended
    expect(c.events()).toEqual([{ type: 'message', data: 'real', lastEventId: undefined, hasOwnId: false }])
    expect(c.log.filter((e) => e[0] === 'activity').length).toBeGreaterThanOrEqual(2)
    // The first heartbeat alone must already count as activity.
    expect(c.log[1]).toEqual(['activity'])
  })

  it('reports a clean end of body as onClose (trap 4), events first', async () => {
    route = (_req, res) => (sse(res), res.end('event: tick\ndata: 1\n\n'))
    const c = connect()
    expect(await c.ended).toEqual(['close', { noContent: false }])
    expect(c.events()).toEqual([{ type: 'tick', data: '1', lastEventId: undefined, hasOwnId: false }])
    expect(c.log.at(-1)).toEqual(['close', { noContent: false }])
  })

  it('never retries by itself, after an error or a close (trap 5)', async () => {
    route = (_req, res) => (res.writeHead(503), res.end())
    await connect().ended
    route = (_req, res) => (sse(res), res.end())
    await connect().ended
    await sleep(1200)
    expect(seen).toHaveLength(2)
  })

  it('ignores page visibility (trap 6)', async () => {
    const listened: string[] = []
    const hiddenDocument = {
      visibilityState: 'hidden',
      addEventListener: (type: string) => listened.push(type),
      removeEventListener: () => {},
    }
    route = async (_req, res) => {
      sse(res)
      res.write('data: 1\n\n')
      await sleep(30)
      res.end('data: 2\n\n')
    }
    const c = connect({ platform: resolvePlatform({ document: hiddenDocument, window: hiddenDocument }) })
    expect(await c.ended).toEqual(['close', { noContent: false }])
    expect(c.events().map((e) => e.data)).toEqual(['1', '2'])
    expect(listened).toEqual([])
  })

  it('moves the last event id only with dispatched blocks; an unfinished block is dropped (trap 7)', async () => {
    route = (_req, res) => (sse(res), res.end('id: 1\ndata: a\n\nid: 5\n\nid: 2\ndata: b\n'))
    const c = connect({ lastEventId: '0' })
    await c.ended
    expect(c.log.filter((e) => e[0] === 'event' || e[0] === 'id')).toEqual([
      ['event', { type: 'message', data: 'a', lastEventId: '1', hasOwnId: true }],
      ['id', '5'],
    ])
  })

  it('carries the previous connection id to events without an id', async () => {
    route = (_req, res) => (sse(res), res.end('data: a\n\n'))
    const c = connect({ lastEventId: '99' })
    await c.ended
    expect(c.events()[0]!.lastEventId).toBe('99')
  })

  it('an empty id field clears the id: the events after it report \'\', an id-only clear is reported too', async () => {
    route = (_req, res) => (sse(res), res.end('id: 4\ndata: a\n\nid:\ndata: b\n\ndata: c\n\nid: 5\n\nid\n\n'))
    const c = connect({ lastEventId: '3' })
    await c.ended
    expect(c.log.filter((e) => e[0] === 'event' || e[0] === 'id')).toEqual([
      ['event', { type: 'message', data: 'a', lastEventId: '4', hasOwnId: true }],
      ['event', { type: 'message', data: 'b', lastEventId: '', hasOwnId: true }],
      ['event', { type: 'message', data: 'c', lastEventId: '', hasOwnId: false }],
      ['id', '5'],
      ['id', ''],
    ])
  })

  it('joins a CR at the end of one network chunk with the LF starting the next', async () => {
    route = async (_req, res) => {
      sse(res)
      res.write('data: a\r')
      await sleep(40)
      res.write('\ndata: b\r')
      await sleep(40)
      res.end('\n\r\n')
    }
    const c = connect()
    await c.ended
    expect(c.events().map((e) => e.data)).toEqual(['a\nb'])
    // The test only means something if the bytes really arrived in separate chunks.
    expect(c.log.filter((e) => e[0] === 'activity').length).toBeGreaterThanOrEqual(3)
  })

  it('strips a BOM split across network chunks and decodes split multibyte characters', async () => {
    route = async (_req, res) => {
      sse(res)
      const body = Buffer.from('\uFEFFdata: é😀\n\n')
      for (const cut of [[0, 2], [2, 10], [10, body.length]] as const) {
        res.write(body.subarray(cut[0], cut[1]))
        await sleep(30)
      }
      res.end()
    }
    const c = connect()
    await c.ended
    expect(c.events().map((e) => e.data)).toEqual(['é😀'])
  })

  it('reports a valid retry field', async () => {
    route = (_req, res) => (sse(res), res.end('retry: 2500\nretry: x\n\n'))
    const c = connect()
    await c.ended
    expect(c.log.filter((e) => e[0] === 'retry')).toEqual([['retry', 2500]])
  })

  it('fails an endless line with line-too-long and stops reading it', async () => {
    let written = 0
    route = async (_req, res) => {
      sse(res)
      res.write('data: ok\n\n')
      const kilobyte = 'x'.repeat(1024)
      // Bounded: 2 MiB at most, far beyond the 8 KiB limit.
      while (!res.destroyed && written < 2048) {
        res.write(kilobyte)
        written++
        await sleep(1)
      }
      res.end()
    }
    const c = connect({ maxLineLength: 8 * 1024 })
    const error = await endedWithError(c)
    expect(error.kind).toBe('line-too-long')
    expect(c.events().map((e) => e.data)).toEqual(['ok'])
    await seen[0]!.closed
    expect(written).toBeLessThan(2048)
  })
})

describe('an event that never ends', () => {
  it('fails endless short data lines with line-too-long once the event passes maxEventSize, and hangs up', async () => {
    let written = 0
    route = async (_req, res) => {
      sse(res)
      res.write('data: ok\n\n')
      const line = `data: ${'x'.repeat(1017)}\n` // 1 KiB per line, far below maxLineLength
      // Bounded: 8 MiB of one block at most, far beyond the 64 KiB limit.
      while (!res.destroyed && written < 8192) {
        if (!res.write(line)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve))
        written++
        if (written % 16 === 0) await sleep(1)
      }
      res.end()
    }
    const c = connect({ maxLineLength: 8 * 1024, maxEventSize: 64 * 1024 })
    const error = await endedWithError(c)
    expect(error.kind).toBe('line-too-long')
    expect(error.message).toContain('maxEventSize')
    expect(error.message).toMatch(/event/i)
    expect(c.events().map((e) => e.data)).toEqual(['ok'])
    await seen[0]!.closed
    console.log(`[transport] endless event: line-too-long at maxEventSize 64 KiB; the server wrote ${written} lines of 1 KiB before the client hung up`)
    // 64 lines make the event; the rest is what was in flight when the client hung up.
    expect(written).toBeLessThan(4096)
  })
})

describe('failures and abort (trap 9)', () => {
  it('reports a refused connection as network', async () => {
    const error = await endedWithError(connect({ url: new URL(await refusedUrl('/stream')), token: 'never-shown' }))
    expect(error.kind).toBe('network')
    expect(error.message).not.toContain('never-shown')
  })

  it('reports a token HTTP cannot carry as invalid-request, naming the header, without quoting it or sending anything', async () => {
    route = (_req, res) => (sse(res), res.end())
    const token = 'line1\nline2-secret'
    const error = await endedWithError(connect({ token }))
    expect(error.kind).toBe('invalid-request')
    expect(error.message).toContain('Authorization')
    expect(error.message).toMatch(/line break/)
    expect(error.message).not.toContain('secret')
    expect(error.message).not.toContain('line1')
    expect(error.cause).toBeUndefined()
    expect(seen).toHaveLength(0)
  })

  it('a token with a character outside Latin-1 is invalid-request, and the message does not contain it', async () => {
    route = (_req, res) => (sse(res), res.end())
    const token = 'eyJhbGciOi.日本-secret.sig'
    const error = await endedWithError(connect({ token }))
    expect(error.kind).toBe('invalid-request')
    expect(error.message).toContain('Authorization')
    expect(error.message).toContain('Latin-1')
    for (const part of [token, '日本', 'secret', 'eyJhbGciOi']) expect(error.message).not.toContain(part)
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain('secret')
    expect(seen).toHaveLength(0)
  })

  it('a user header fetch rejects is invalid-request naming the header and why, not its value', async () => {
    route = (_req, res) => (sse(res), res.end())
    const error = await endedWithError(connect({ token: 'fine-token', headers: { 'X-Tenant': 'ok', 'X-User-Name': 'Zoë 日本語' } }))
    expect(error.kind).toBe('invalid-request')
    expect(error.message).toContain('"X-User-Name"')
    expect(error.message).toContain('Latin-1')
    expect(error.message).not.toContain('日本語')
    expect(error.message).not.toContain('Zoë')
    expect(error.message).not.toContain('fine-token')
    expect(error.status).toBeUndefined()
    expect(seen).toHaveLength(0)
  })

  it('an invalid header name is invalid-request naming it', async () => {
    route = (_req, res) => (sse(res), res.end())
    const error = await endedWithError(connect({ headers: { 'Bad Name': 'v' } }))
    expect(error.kind).toBe('invalid-request')
    expect(error.message).toContain('"Bad Name"')
    expect(error.message).toMatch(/name/)
    expect(seen).toHaveLength(0)
  })

  it('reports a connection dropped mid-stream as network, after the events before it', async () => {
    route = async (_req, res) => {
      // undici takes a truncated chunked body for a clean end when the response said
      // `connection: close`; a keep-alive response is what a real server sends anyway.
      res.removeHeader('connection')
      sse(res)
      res.write('data: 1\n\n')
      await sleep(30)
      res.socket?.destroy()
    }
    const c = connect()
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(c.events().map((e) => e.data)).toEqual(['1'])
  })

  it('reports through onError or onClose exactly once, and nothing after', async () => {
    route = (_req, res) => (sse(res), res.end('data: a\n\n'))
    const c = connect()
    await c.ended
    await sleep(50)
    expect(c.terminal()).toHaveLength(1)
    expect(c.log.at(-1)![0]).toBe('close')
  })

  it('is silent after abort before the response', async () => {
    route = async (_req, res) => {
      await sleep(100)
      if (!res.destroyed) (sse(res), res.end('data: late\n\n'))
    }
    const c = connect()
    await sleep(20)
    c.abort()
    await sleep(200)
    expect(c.log).toEqual([])
  })

  it('is silent after abort mid-stream and closes the connection', async () => {
    route = (_req, res) => (sse(res), res.write('data: 1\n\n'))
    const c = connect()
    await until(() => c.events().length > 0, 1000, 'the first event')
    expect(c.log.map((e) => (e[0] === 'error' ? e[1].message : e[0]))).toEqual(['open', 'activity', 'event'])
    c.abort()
    await seen[0]!.closed
    await sleep(50)
    expect(c.log.filter((e) => e[0] === 'error' || e[0] === 'close')).toEqual([])
  })

  it('stops dispatching within a chunk once aborted from a handler', async () => {
    route = (_req, res) => (sse(res), res.end('data: 1\n\ndata: 2\n\ndata: 3\n\n'))
    let abort: () => void = () => {}
    const c = connect({}, { onEvent: () => abort() })
    abort = c.abort
    await sleep(150)
    expect(c.events().map((e) => e.data)).toEqual(['1'])
    expect(c.terminal()).toEqual([])
  })
})

/* ---------------------------------------------------------------------------------------------
 * Against the reference server
 * -------------------------------------------------------------------------------------------*/

describe('fetch transport, reference server', () => {
  const serverUrl = inject('serverUrl')
  const apiKey = inject('apiKey')
  let token: string
  let n = 0
  // A private `seq-*` channel per test: ids start at 1 and nobody else publishes there.
  const channel = () => `seq-fetch-${process.pid}-${Date.now()}-${++n}`
  const streamUrl = (query: Record<string, string>) => new URL(`${serverUrl}/stream?${new URLSearchParams(query)}`)
  const waitFor = async (c: ReturnType<typeof connect>, count: number) => {
    await until(() => c.events().length >= count, 2000, `${count} events`)
    return c.events()
  }

  beforeAll(async () => {
    token = await mintSseToken(serverUrl, apiKey)
  })

  it('authenticates with a Bearer header and receives events', async () => {
    const ch = channel()
    const c = connect({ url: streamUrl({ channel: ch, fault: 'burst:3' }), token })
    const events = await waitFor(c, 3)
    c.abort()
    expect(events.map((e) => [e.type, e.lastEventId])).toEqual([
      ['tick', '1'],
      ['tick', '2'],
      ['tick', '3'],
    ])
    expect((await connectionsOf(serverUrl, ch)).map((x) => x.authVia)).toEqual(['header'])
  })

  it('resumes with the Last-Event-ID header', async () => {
    const ch = channel()
    const first = connect({ url: streamUrl({ channel: ch, fault: 'burst:3' }), token })
    await waitFor(first, 3)
    first.abort()
    const second = connect({ url: streamUrl({ channel: ch }), token, lastEventId: '1' })
    const events = await waitFor(second, 2)
    second.abort()
    expect(events.map((e) => e.lastEventId)).toEqual(['2', '3'])
    expect((await connectionsOf(serverUrl, ch)).map((x) => [x.lastEventId, x.lastEventIdVia])).toEqual([
      [undefined, undefined],
      ['1', 'header'],
    ])
  })

  it('reports a rejected token as unauthorized 401 and a missing one too', async () => {
    const bad = await endedWithError(connect({ url: streamUrl({ channel: channel() }), token: 'not-a-jwt' }))
    expect([bad.kind, bad.status]).toEqual(['unauthorized', 401])
    expect(bad.message).not.toContain('not-a-jwt')
    const none = await endedWithError(connect({ url: streamUrl({ channel: channel() }) }))
    expect([none.kind, none.status]).toEqual(['unauthorized', 401])
  })

  it('maps injected statuses: 503 with Retry-After, 404, 204, and the wrong content type', async () => {
    const e503 = await endedWithError(connect({ url: streamUrl({ channel: channel(), fault: 'status:503', retryAfter: '3' }), token }))
    expect([e503.kind, e503.status, e503.retryAfter]).toEqual(['http', 503, 3000])
    const e404 = await endedWithError(connect({ url: streamUrl({ channel: channel(), fault: 'status:404' }), token }))
    expect([e404.kind, e404.status]).toEqual(['http', 404])
    expect(await connect({ url: streamUrl({ channel: channel(), fault: 'status:204' }), token }).ended).toEqual(['close', { noContent: true }])
    const eType = await endedWithError(connect({ url: streamUrl({ channel: channel(), fault: 'content-type' }), token }))
    expect([eType.kind, eType.status]).toEqual(['content-type', 200])
  })

  it('reads the malformed prelude the way the spec says', async () => {
    const c = connect({ url: streamUrl({ channel: channel(), fault: 'malformed' }), token })
    const events = await waitFor(c, 2)
    await sleep(30)
    c.abort()
    expect(c.events()).toEqual([
      { type: 'malformed', data: '{"ok":1}', lastEventId: undefined, hasOwnId: false },
      { type: 'message', data: 'second\nline', lastEventId: undefined, hasOwnId: false },
    ])
    expect(events).toHaveLength(2)
    expect(c.log.filter((e) => e[0] === 'retry' || e[0] === 'id')).toEqual([])
  })

  it('fails an oversized line with line-too-long', async () => {
    const c = connect({ url: streamUrl({ channel: channel(), fault: 'oversized:200000' }), token, maxLineLength: 64 * 1024 })
    expect((await endedWithError(c)).kind).toBe('line-too-long')
  })

  it('parses a stream dripped one byte per chunk', async () => {
    const ch = channel()
    const c = connect({ url: streamUrl({ channel: ch, fault: 'drip:3', retry: '1500' }), token })
    await until(() => c.log.some((e) => e[0] === 'retry'), 2000, 'the retry field')
    c.abort()
    expect(c.log.filter((e) => e[0] === 'retry')).toEqual([['retry', 1500]])
    // `retry: 1500` alone is 12 bytes, written one every 3 ms. On a loaded machine the socket
    // merges some of them, so only "many reads" is certain (every cut is tested in conformance).
    expect(c.log.filter((e) => e[0] === 'activity').length).toBeGreaterThanOrEqual(4)
  })

  it('reports a dropped connection as network after the events before it', async () => {
    const ch = channel()
    const c = connect({ url: streamUrl({ channel: ch, fault: 'burst:5' }), token })
    await waitFor(c, 5)
    c.abort()
    const dropped = connect({ url: streamUrl({ channel: ch, fault: 'drop-after:2' }), token, lastEventId: '0' })
    const error = await endedWithError(dropped)
    expect(error.kind).toBe('network')
    expect(dropped.events().map((e) => e.lastEventId)).toEqual(['1', '2'])
  })
})
