/**
 * `use-event-stream/server` helpers, through the public entry. Request parsing is checked on real
 * WHATWG `Request`s and on real Node `IncomingMessage`s (a `node:http` server on 127.0.0.1);
 * streaming is checked on the `Response` body and over a socket with `pipeSseToNode`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSseResponse,
  formatComment,
  formatEvent,
  formatIdOnly,
  formatMessage,
  isSseIdOnly,
  mintSseToken,
  pipeSseToNode,
  readLastEventId,
  readSseToken,
  redactAuthorization,
  redactToken,
  unauthorizedResponse,
  verifySseToken,
  type SseMessage,
  type SseSourceContext,
} from 'use-event-stream/server'
import { readSseTokenWithSource } from '../../src/server/request'
import { sleep } from '../helpers/wait'


/** Minimal WHATWG event-stream parser (enough to check what a client would dispatch). */
function parseSse(text: string): Array<{ type: string; data: string; id: string | undefined }> {
  const events: Array<{ type: string; data: string; id: string | undefined }> = []
  let data: string[] = []
  let type = ''
  let id: string | undefined
  let lastId: string | undefined
  for (const line of text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (id !== undefined) lastId = id
      if (data.length > 0) events.push({ type: type || 'message', data: data.join('\n'), id: lastId })
      data = []
      type = ''
      id = undefined
      continue
    }
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') type = value
    else if (field === 'id' && !value.includes('\0')) id = value
  }
  return events
}

/** A recording async iterator: `return()` calls are what "the client left" must trigger. */
function recordingSource(messages: SseMessage[], holdOpen = true) {
  const calls = { returned: 0, next: 0 }
  let ctx: SseSourceContext | undefined
  const make = (context: SseSourceContext): AsyncIterable<SseMessage> => {
    ctx = context
    const queue = [...messages]
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          calls.next++
          const value = queue.shift()
          if (value) return Promise.resolve({ done: false as const, value })
          if (!holdOpen) return Promise.resolve({ done: true as const, value: undefined })
          return new Promise<IteratorResult<SseMessage>>(() => {}) // waits for data forever
        },
        return: () => {
          calls.returned++
          return Promise.resolve({ done: true as const, value: undefined })
        },
      }),
    }
  }
  return { make, calls, context: () => ctx }
}

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, done: (text: string) => boolean, timeoutMs = 2000): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + timeoutMs
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(text)}`)
    const chunk = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => undefined)])
    if (!chunk) continue
    if (chunk.done) break
    text += decoder.decode(chunk.value, { stream: true })
  }
  return text
}

/* ---------------------------------------------------------------------------------------------
 * A node:http server whose handler each test sets
 * -------------------------------------------------------------------------------------------*/

let server: Server
let baseUrl: string
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end()

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Sends a request with raw header bytes (fetch would re-encode them) and returns the JSON answer. */
function rawGet(path: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, { headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve(JSON.parse(body)))
    })
    req.on('error', reject)
    req.end()
  })
}

/* ---------------------------------------------------------------------------------------------*/

describe('readSseToken', () => {
  it('reads Authorization: Bearer and the token query parameter; the header wins', () => {
    expect(readSseToken(new Request('http://x/stream', { headers: { Authorization: 'Bearer abc.def.ghi' } }))).toBe('abc.def.ghi')
    expect(readSseToken(new Request('http://x/stream?token=q.q.q'))).toBe('q.q.q')
    expect(readSseTokenWithSource(new Request('http://x/stream?token=q', { headers: { authorization: 'bearer h' } }))).toEqual({ token: 'h', source: 'header' })
    expect(readSseTokenWithSource(new Request('http://x/stream?token=q'))).toEqual({ token: 'q', source: 'query' })
  })

  it('ignores other schemes and empty values, and honours a custom query parameter', () => {
    expect(readSseToken(new Request('http://x/s?token=q', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } }))).toBe('q')
    expect(readSseToken(new Request('http://x/s', { headers: { Authorization: 'Bearer ' } }))).toBeUndefined()
    expect(readSseToken(new Request('http://x/s?token='))).toBeUndefined()
    expect(readSseToken(new Request('http://x/s?access_token=a&token=b'), { queryParam: 'access_token' })).toBe('a')
  })

  it('never throws on malformed query strings or request targets', () => {
    // Invalid UTF-8 decodes to U+FFFD; the verifier then rejects the token as malformed.
    expect(readSseToken({ url: '/s?token=%E0%A4%A&x=%', headers: {} })).toBe('\ufffd%A')
    expect(readSseToken({ url: '//evil.example/?token=t', headers: {} })).toBe('t')
    expect(readSseToken({ url: undefined, headers: {} })).toBeUndefined()
    expect(readSseToken({ url: '/s', headers: { authorization: ['Bearer first', 'Bearer second'] } })).toBe('first')
  })

  it('works on a real IncomingMessage (header and query)', async () => {
    handler = (req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ token: readSseToken(req) ?? null, lastEventId: readLastEventId(req) ?? null }))
    }
    expect(await rawGet('/s?token=from-query', {})).toEqual({ token: 'from-query', lastEventId: null })
    expect(await rawGet('/s?token=from-query', { Authorization: 'Bearer from-header' })).toEqual({ token: 'from-header', lastEventId: null })
  })
})

describe('readLastEventId', () => {
  it('decodes a UTF-8 Last-Event-ID that Node exposes as latin1', async () => {
    handler = (req, res) => res.end(JSON.stringify({ lastEventId: readLastEventId(req) ?? null }))
    // What a client puts on the wire for the id "é€-7": its UTF-8 bytes.
    const wire = Buffer.from('é€-7', 'utf8').toString('latin1')
    expect(await rawGet('/s', { 'Last-Event-ID': wire })).toEqual({ lastEventId: 'é€-7' })
    // Bytes that are not UTF-8 are kept as they came.
    expect(await rawGet('/s', { 'Last-Event-ID': '\u00e9x' })).toEqual({ lastEventId: '\u00e9x' })
    expect(await rawGet('/s?lastEventId=41', {})).toEqual({ lastEventId: '41' })
    expect(await rawGet('/s?lastEventId=41', { 'Last-Event-ID': '42' })).toEqual({ lastEventId: '42' })
  })

  it('reads a Request header or query parameter; empty means absent', () => {
    expect(readLastEventId(new Request('http://x/s', { headers: { 'Last-Event-ID': '9' } }))).toBe('9')
    expect(readLastEventId(new Request('http://x/s?lastEventId=3'))).toBe('3')
    expect(readLastEventId(new Request('http://x/s?after=3'), { queryParam: 'after' })).toBe('3')
    expect(readLastEventId(new Request('http://x/s?lastEventId='))).toBeUndefined()
  })
})

describe('formatEvent / formatComment', () => {
  it('writes id, event, retry and one data line per line of data', () => {
    expect(formatEvent({ id: 7, event: 'tick', data: 'a\nb\r\nc\rd', retry: 500 })).toBe(
      'id: 7\nevent: tick\nretry: 500\ndata: a\ndata: b\ndata: c\ndata: d\n\n',
    )
    expect(formatEvent({ data: { price: 1, text: 'x\ny' } })).toBe('data: {"price":1,"text":"x\\ny"}\n\n')
    expect(formatEvent({ data: '' })).toBe('data: \n\n')
    expect(formatEvent({ data: ' leading space' })).toBe('data:  leading space\n\n')
  })

  it('rejects ids and event names that would inject fields or events', () => {
    expect(() => formatEvent({ id: '1\ndata: injected', data: 'x' })).toThrow(TypeError)
    expect(() => formatEvent({ id: '1\r', data: 'x' })).toThrow(/CR, LF or NUL/)
    expect(() => formatEvent({ id: 'a\0b', data: 'x' })).toThrow(TypeError)
    expect(() => formatEvent({ event: 'tick\n\ndata: evil', data: 'x' })).toThrow(TypeError)
    expect(() => formatEvent({ data: undefined })).toThrow(/data is required/)
    expect(() => formatEvent({ data: 'x', retry: -1 })).toThrow(TypeError)
    expect(() => formatEvent({ data: 'x', retry: 1.5 })).toThrow(TypeError)
  })

  it('round-trips any data string through a spec parser (line endings become \\n)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-z0-9-]{0,8}$/), (data, id) => {
        const parsed = parseSse(formatEvent({ id, event: 'e', data }))
        expect(parsed).toEqual([{ type: 'e', data: data.replace(/\r\n|\r/g, '\n'), id }])
      }),
      { numRuns: 300 },
    )
  })

  it('formats comments line by line, never producing an event', () => {
    expect(formatComment('heartbeat')).toBe(': heartbeat\n\n')
    expect(formatComment('a\ndata: x\n')).toBe(': a\n: data: x\n:\n\n')
    expect(parseSse(formatComment('a\ndata: x\r\nevent: y'))).toEqual([])
  })
})

describe('redactToken / redactAuthorization', () => {
  it('replaces token values and keeps everything else byte for byte', () => {
    expect(redactToken('/stream?channel=a&token=eyJ.x.y&lastEventId=3')).toBe('/stream?channel=a&token=[redacted]&lastEventId=3')
    expect(redactToken(new URL('http://h:1/s?access_token=abc#frag'))).toBe('http://h:1/s?access_token=[redacted]#frag')
    expect(redactToken('/s?TOKEN=abc&t%6Fken=def&tokenish=keep')).toBe('/s?TOKEN=[redacted]&t%6Fken=[redacted]&tokenish=keep')
    expect(redactToken('/s?token&x=%zz')).toBe('/s?token=[redacted]&x=%zz')
    expect(redactToken('/s?key=abc', ['key'])).toBe('/s?key=[redacted]')
    expect(redactToken('/no/query')).toBe('/no/query')
  })

  it('redacts Authorization header values', () => {
    expect(redactAuthorization('Bearer eyJhbGciOi.x.y')).toBe('Bearer [redacted]')
    expect(redactAuthorization('eyJhbGciOi')).toBe('[redacted]')
    expect(redactAuthorization(undefined)).toBe('')
  })
})

describe('unauthorizedResponse', () => {
  it('is a 401 JSON response with a Bearer challenge', async () => {
    const response = unauthorizedResponse('token expired', { reason: 'expired' })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({ error: 'unauthorized', message: 'token expired', reason: 'expired' })
    const plain = unauthorizedResponse()
    expect(plain.headers.get('www-authenticate')).toBe('Bearer')
    expect(await plain.json()).toEqual({ error: 'unauthorized', message: 'A valid stream token is required' })
  })
})

describe('mintSseToken / verifySseToken', () => {
  const secret = 'a-test-secret-that-is-long-enough-32b'

  it('mints HS256 tokens that verify, and classifies every failure', async () => {
    const token = await mintSseToken({ secret, sub: 'u1', ttlSeconds: 30 })
    const ok = await verifySseToken(token, secret)
    expect(ok.ok && ok.payload.sub).toBe('u1')
    expect(ok.ok && ok.payload.exp! - ok.payload.iat!).toBeGreaterThanOrEqual(30)
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' })

    expect(await verifySseToken(undefined, secret)).toEqual({ ok: false, reason: 'missing' })
    expect(await verifySseToken('not a jwt', secret)).toEqual({ ok: false, reason: 'malformed' })
    expect(await verifySseToken('a.b.c', secret)).toEqual({ ok: false, reason: 'malformed' })
    expect(await verifySseToken(token, 'another-secret-another-secret-xx')).toEqual({ ok: false, reason: 'bad-signature' })
    const expired = await mintSseToken({ secret, sub: 'u1', ttlSeconds: -10 })
    expect(await verifySseToken(expired, secret)).toEqual({ ok: false, reason: 'expired' })
    const [header, payload] = token.split('.')
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`
    expect((await verifySseToken(unsigned, secret)).ok).toBe(false)
    expect(await verifySseToken(`${header}.${payload}.${'A'.repeat(43)}`, secret)).toEqual({ ok: false, reason: 'bad-signature' })
  })

  it('rounds exp up so a 1-second token lives at least a second', async () => {
    const iat = 1_700_000_000.9
    const token = await mintSseToken({ secret, sub: 'u', ttlSeconds: 1, iat })
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    expect(claims).toMatchObject({ sub: 'u', iat: 1_700_000_000, exp: 1_700_000_002 })
  })
})

describe('createSseResponse', () => {
  it('sets the SSE headers and streams events, then heartbeats while idle', async () => {
    const source = recordingSource([{ id: 1, event: 'tick', data: { n: 1 } }, { comment: 'hello' }])
    const response = createSseResponse(source.make, { heartbeatMs: 40, retry: 2000, headers: { 'X-Extra': 'yes' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('x-extra')).toBe('yes')
    const reader = response.body!.getReader()
    const text = await readUntil(reader, (t) => t.includes(': heartbeat'))
    expect(text.startsWith('retry: 2000\n\nid: 1\nevent: tick\ndata: {"n":1}\n\n: hello\n\n')).toBe(true)
    await reader.cancel()
  })

  it('stops the source when the request signal aborts (client disconnect)', async () => {
    const source = recordingSource([{ data: 'one' }])
    const abort = new AbortController()
    const request = new Request('http://x/stream', { headers: { 'Last-Event-ID': '41' }, signal: abort.signal })
    const response = createSseResponse(source.make, { request, heartbeatMs: 0 })
    const reader = response.body!.getReader()
    expect(await readUntil(reader, (t) => t.includes('data: one'))).toBe('data: one\n\n')
    expect(source.context()?.lastEventId).toBe('41')
    expect(source.calls.returned).toBe(0)
    abort.abort()
    await expect.poll(() => source.calls.returned).toBe(1)
    expect(source.context()?.signal.aborted).toBe(true)
    expect(await reader.read()).toEqual({ done: true, value: undefined })
  })

  it('stops the source when the body is cancelled, and ends when the source ends', async () => {
    const held = recordingSource([])
    const response = createSseResponse(held.make, { heartbeatMs: 0 })
    await response.body!.cancel()
    await expect.poll(() => held.calls.returned).toBe(1)

    async function* finite() {
      yield { data: 'a' }
      yield { data: 'b' }
    }
    expect(await createSseResponse(finite(), { heartbeatMs: 0 }).text()).toBe('data: a\n\ndata: b\n\n')
  })
})

describe('pipeSseToNode over HTTP', () => {
  it('writes headers and events, passes Last-Event-ID, and stops the source when the client leaves', async () => {
    const source = recordingSource([{ id: 'é1', data: 'hello' }])
    let piped: Promise<void> | undefined
    handler = (req, res) => {
      piped = pipeSseToNode(res, source.make, { request: req, heartbeatMs: 30 })
    }
    const abort = new AbortController()
    const response = await fetch(`${baseUrl}/stream`, { headers: { 'Last-Event-ID': '7' }, signal: abort.signal })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('connection')).toBe('keep-alive')
    const reader = response.body!.getReader()
    const text = await readUntil(reader, (t) => t.includes(': heartbeat'))
    expect(text).toContain('id: é1\ndata: hello\n\n')
    expect(source.context()?.lastEventId).toBe('7')
    abort.abort()
    await expect.poll(() => source.calls.returned).toBe(1)
    await piped
  })

  it('destroys the response when the source throws (a broken stream, not a clean end)', async () => {
    handler = (_req, res) => {
      async function* failing() {
        yield { data: 'first' }
        throw new Error('boom')
      }
      pipeSseToNode(res, failing(), { heartbeatMs: 0 }).catch(() => {})
    }
    const response = await fetch(`${baseUrl}/stream`)
    await expect(response.text()).rejects.toThrow()
  })
})

describe('id-only blocks', () => {
  it('serialise as an id line and a blank line, refuse line breaks and NUL, and pass through formatMessage', () => {
    expect(formatIdOnly(42)).toBe('id: 42\n\n')
    expect(formatMessage({ idOnly: 'e7' })).toBe('id: e7\n\n')
    expect(isSseIdOnly({ idOnly: 'e7' })).toBe(true)
    expect(isSseIdOnly({ id: 'e7', data: 'x' })).toBe(false)
    expect(() => formatIdOnly('a\nb')).toThrow(TypeError)
    expect(() => formatIdOnly('a\0b')).toThrow(TypeError)
  })
})
