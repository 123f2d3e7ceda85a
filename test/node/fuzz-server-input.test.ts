// Bad input for the server half: fast-check header values and query strings, sent as raw HTTP
// (so nothing is cleaned up by a client library) to the reference server, which reads them with
// use-event-stream/server's helpers. Every answer must be a 4xx (400, 401, 404, 431), never a 500,
// never a dropped socket. The helpers themselves are also fed arbitrary strings directly.
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readLastEventId, readSseToken, redactToken, verifySseToken } from 'use-event-stream/server'
import { readQuery } from '../../src/server/request'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'

let server: ReferenceServer
let validToken: string

beforeAll(async () => {
  server = await startReferenceServer({ port: 0, log: () => {}, heartbeatMs: 0 })
  validToken = await server.mintToken({ ttl: 60 })
})
afterAll(async () => {
  await server.close()
})

/** One raw HTTP/1.1 request; resolves with the status code (0 when the socket closed without an answer). */
function rawRequest(head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1')
    let received = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer within 3 s to ${JSON.stringify(head.slice(0, 200))}`))
    }, 3000)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      received += chunk
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received)
      if (match) {
        clearTimeout(timer)
        // A 200 is an event stream that would stay open: the status is all we need.
        socket.destroy()
        resolve(Number(match[1]))
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0))
    })
    socket.write(head, 'latin1')
  })
}

// Header values: any latin1 character except CR/LF (which would end the header), including
// controls, NUL, high bytes and quote/percent soup.
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x00, max: 0xff }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c)),
  fc.constantFrom('Bearer ', 'bearer', '%', '%00', '%ZZ', '.', '..', 'eyJ', '\t', ' ', '=', ',', ';'),
)
const headerValue = fc.array(headerChar, { maxLength: 60 }).map((a) => a.join(''))
// Query strings: raw characters (some invalid in a request target), percent-escapes (valid or
// not), and the parameters the routes read, with arbitrary values.
const queryPart = fc.oneof(
  fc.constantFrom('token', 'channel', 'lastEventId', 'heartbeat', 'retry', 'fault', 'retryAfter', 'ttl', 'sub', 'access_token', 't%6Fken'),
  fc.constantFrom('=', '&', '&&', '==', '%', '%2', '%ZZ', '%00', '%C3%28', '%FF', '+', '#', '?', '/', ';', '[', ']', '"', "'", '\\'),
  fc.constantFrom('-1', '0', '1e3', '99999999999999999999', 'NaN', 'seq-x', 'seq-' + 'a'.repeat(70), 'stall', 'status:500', 'drop-after:', 'oversized:999999999'),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c)),
)
const queryString = fc.array(queryPart, { maxLength: 14 }).map((a) => a.join(''))

const ALLOWED = new Set([400, 401, 404, 405, 431])

describe('the reference server (through the server helpers) with malformed input', () => {
  it('GET /stream with arbitrary query strings and Authorization / Last-Event-ID headers: 4xx, never 500', async () => {
    const statuses = new Map<number, number>()
    const started = performance.now()
    const samples = fc.sample(fc.tuple(queryString, fc.option(headerValue), fc.option(headerValue)), { numRuns: 250, seed: 11 })
    for (const [index, [rawQuery, authorization, lastEventId]] of samples.entries()) {
      // Every other target keeps only characters a request line allows, so more requests get past
      // Node's own parser into the helpers.
      const query = index % 2 ? rawQuery : rawQuery.replace(/[^\x21-\x7e]|#/g, '%41')
      // Without a valid token, the answer is 400 (bad parameter) or 401 before anything streams.
      let head = `GET /stream?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
      if (authorization !== null) head += `Authorization: ${authorization}\r\n`
      if (lastEventId !== null) head += `Last-Event-ID: ${lastEventId}\r\n`
      head += 'Connection: close\r\n\r\n'
      const status = await rawRequest(head)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      expect({ query, authorization, lastEventId, status, ok: ALLOWED.has(status) }).toMatchObject({ ok: true })
    }
    console.log(`[fuzz] /stream malformed input: ${samples.length} requests in ${Math.round(performance.now() - started)} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(server.counters().requests.stream.byStatus['500']).toBeUndefined()
  })

  it('GET /stream with a valid token and arbitrary Last-Event-ID / query: 400, 404 or a stream, never 500', async () => {
    const statuses = new Map<number, number>()
    const samples = fc.sample(fc.tuple(queryString, headerValue), { numRuns: 150, seed: 12 })
    for (const [query, lastEventId] of samples) {
      const head =
        `GET /stream?${query.replace(/token/gi, 'x')} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${validToken}\r\n` +
        `Last-Event-ID: ${lastEventId}\r\nConnection: close\r\n\r\n`
      const status = await rawRequest(head)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      expect({ query, lastEventId, status, ok: status === 200 || ALLOWED.has(status) }).toMatchObject({ ok: true })
    }
    console.log(`[fuzz] /stream with a valid token: ${samples.length} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(server.counters().requests.stream.byStatus['500']).toBeUndefined()
  })

  it('POST /auth/sse-token with arbitrary query strings and headers: 4xx (or a token), never 500', async () => {
    const statuses = new Map<number, number>()
    const samples = fc.sample(fc.tuple(queryString, headerValue, headerValue), { numRuns: 150, seed: 13 })
    for (const [query, apiKey, cookie] of samples) {
      const head =
        `POST /auth/sse-token?${query.replace(/fault/g, 'f')} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${apiKey}\r\nCookie: ${cookie}\r\n` +
        'Content-Length: 0\r\nConnection: close\r\n\r\n'
      const status = await rawRequest(head)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      expect({ query, apiKey, cookie, status, ok: status === 200 || ALLOWED.has(status) }).toMatchObject({ ok: true })
    }
    console.log(`[fuzz] /auth/sse-token malformed input: ${samples.length} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(server.counters().requests.token.byStatus['500']).toBeUndefined()
  })
})

describe('the server helpers with arbitrary strings', () => {
  const anyText = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), queryString, headerValue)

  it('readSseToken, readLastEventId and readQuery never throw, for Node requests and WHATWG Requests', () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (target, authorization, lastEventId) => {
        const nodeRequest = { url: target, headers: { authorization, 'last-event-id': lastEventId } }
        readSseToken(nodeRequest)
        readLastEventId(nodeRequest)
        readQuery(nodeRequest)
        const token = readSseToken({ url: `/s?${target}`, headers: { authorization: [authorization, 'x'] } })
        if (token !== undefined) expect(token.length).toBeGreaterThan(0)
      }),
      { numRuns: 2000, seed: 14 },
    )
  })

  it('verifySseToken answers { ok: false } for arbitrary strings, never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyText, fc.tuple(anyText, anyText, anyText).map((p) => p.join('.'))), async (token) => {
        const result = await verifySseToken(token, 'secret-secret-secret-secret-1234')
        expect(result.ok).toBe(false)
      }),
      { numRuns: 500, seed: 15 },
    )
  })

  it('redactToken removes every token value, whatever surrounds it', () => {
    fc.assert(
      fc.property(queryString, fc.constantFrom('token', 'access_token', 'TOKEN', 't%6Fken'), fc.stringMatching(/^[A-Za-z0-9_-]{24,40}$/), queryString, (before, name, secret, after) => {
        const url = `/stream?${before.replace(/#/g, '')}&${name}=${secret}&${after.replace(/#/g, '')}`
        const redacted = redactToken(url)
        expect(redacted).not.toContain(secret)
      }),
      { numRuns: 2000, seed: 16 },
    )
  })
})
