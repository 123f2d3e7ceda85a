// fetchTokenFrom over real HTTP (a scripted node:http server on 127.0.0.1): response shapes,
// status mapping, request details, redaction, and abort on dispose. The reference server's own
// token endpoint is exercised in token-manager-server.test.ts.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TokenError, fetchTokenFrom, createTokenManager } from 'use-event-stream/core'
import { refusedUrl, startScriptedServer, type Handler, type ScriptedServer } from '../helpers/scriptedServer'
import { until } from '../helpers/wait'

const SECRET = 'SECRET-TOKEN-4d1e9b'

interface Seen {
  method: string | undefined
  url: string | undefined
  headers: IncomingMessage['headers']
  body: string
}

let server: ScriptedServer
let base: string
let seen: Seen[] = []
let reply: Handler = (_, res) => res.end()
/** Requests the server saw close before it answered (aborted by the client). */
let abandoned = 0

beforeAll(async () => {
  server = await startScriptedServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body })
      res.on('close', () => {
        if (!res.writableEnded) abandoned++
      })
      reply(req, res)
    })
  })
  base = server.url
})

afterAll(() => server.close())

beforeEach(() => {
  seen = []
  abandoned = 0
})

const json = (status: number, value: unknown) => (_: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

const call = (fetchToken: ReturnType<typeof fetchTokenFrom>) => fetchToken({ signal: new AbortController().signal, reason: 'initial' })

describe('fetchTokenFrom', () => {
  it('POSTs with credentials and the given headers/body, and reads { token, expiresIn }', async () => {
    reply = json(200, { token: SECRET, expiresIn: 30 })
    let csrf = 0
    const fetchToken = fetchTokenFrom(`${base}/auth/sse-token`, { headers: () => ({ 'x-csrf-token': `csrf-${++csrf}` }), body: { channel: 'news' } })
    expect(await call(fetchToken)).toEqual({ token: SECRET, expiresIn: 30 })
    expect(await call(fetchToken)).toEqual({ token: SECRET, expiresIn: 30 })
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/auth/sse-token', body: '{"channel":"news"}' })
    expect(seen[0]!.headers).toMatchObject({ 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': 'csrf-1' })
    // The header function runs per request.
    expect(seen[1]!.headers['x-csrf-token']).toBe('csrf-2')
  })

  it.each([
    [{ access_token: SECRET, expires_in: 45 }, { token: SECRET, expiresIn: 45 }],
    [{ access_token: SECRET, expires_in: '45' }, { token: SECRET, expiresIn: 45 }],
    [{ token: SECRET, expiresAt: 1_900_000_000_000 }, { token: SECRET, expiresAt: 1_900_000_000_000 }],
    [{ token: SECRET }, { token: SECRET }],
    [SECRET, { token: SECRET }],
  ])('accepts %j', async (body, expected) => {
    reply = json(200, body)
    expect(await call(fetchTokenFrom(`${base}/t`))).toEqual(expected)
  })

  it.each([
    [401, 'unauthorized'],
    [403, 'unauthorized'],
    [500, 'http'],
    [429, 'http'],
  ] as const)('HTTP %i rejects with a TokenError of kind %s carrying the status', async (status, kind) => {
    reply = json(status, { error: 'no', echoed: SECRET })
    const error = (await call(fetchTokenFrom(`${base}/auth/sse-token?api_key=hunter2`)).catch((e: unknown) => e)) as TokenError
    expect(error).toBeInstanceOf(TokenError)
    expect(error).toMatchObject({ kind, status })
    // The endpoint is named, its query string and the response body are not.
    expect(error.message).toContain(`${base}/auth/sse-token`)
    expect(error.message).not.toContain('hunter2')
    expect(error.message).not.toContain(SECRET)
  })

  it.each([
    ['not JSON', (_: IncomingMessage, res: ServerResponse) => res.end(`token=${SECRET}`)],
    ['no token', json(200, { expiresIn: 30 })],
    ['a non-string token', json(200, { token: 42, expiresIn: 30 })],
    ['a bad expiresIn', json(200, { token: SECRET, expiresIn: 'later' })],
    ['an array', json(200, [SECRET])],
  ])('a body with %s is invalid-response', async (_, handler) => {
    reply = handler
    const error = (await call(fetchTokenFrom(`${base}/t`)).catch((e: unknown) => e)) as TokenError
    expect(error).toMatchObject({ name: 'TokenError', kind: 'invalid-response' })
    expect(error.message).not.toContain(SECRET)
  })

  it("carries the endpoint's Retry-After (seconds or an HTTP date) as retryAfter in ms", async () => {
    reply = (_req, res) => {
      res.writeHead(429, { 'retry-after': '7' })
      res.end()
    }
    await expect(call(fetchTokenFrom(`${base}/t`))).rejects.toMatchObject({ kind: 'http', status: 429, retryAfter: 7000 })
    const at = new Date(Date.now() + 60_000).toUTCString()
    reply = (_req, res) => {
      res.writeHead(503, { 'retry-after': at })
      res.end()
    }
    const error = (await call(fetchTokenFrom(`${base}/t`)).catch((e: unknown) => e)) as TokenError
    expect(error).toMatchObject({ kind: 'http', status: 503 })
    expect(error.retryAfter).toBeGreaterThan(55_000)
    expect(error.retryAfter).toBeLessThanOrEqual(60_000)
    reply = json(500, {})
    await expect(call(fetchTokenFrom(`${base}/t`))).rejects.toMatchObject({ status: 500, retryAfter: undefined })
  })

  it('a refused connection is a network TokenError', async () => {
    const error = await call(fetchTokenFrom(await refusedUrl('/t'))).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'TokenError', kind: 'network' })
  })
})

describe('createTokenManager + fetchTokenFrom over HTTP', () => {
  it('retries a 503 with backoff and recovers', async () => {
    let n = 0
    reply = (req, res) => (++n < 3 ? json(503, {})(req, res) : json(200, { token: SECRET, expiresIn: 30 })(req, res))
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${base}/t`), retry: { initialDelay: 20, maxDelay: 20, factor: 1 } })
    const off = tokens.subscribe(() => {})
    try {
      await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'http', status: 503 })
      // The background retries (subscribed) get there without another getToken call.
      await until(() => tokens.version > 0, 5000, 'a token from the background retries')
      expect(tokens.version).toBe(1)
      expect(seen).toHaveLength(3)
      expect(await tokens.getToken()).toBe(SECRET)
    } finally {
      off()
      tokens.dispose()
    }
  })

  it('dispose() aborts the HTTP request in flight', async () => {
    reply = () => {} // never answers
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${base}/t`) })
    const pending = tokens.getToken()
    await until(() => seen.length > 0, 5000, 'the request at the server')
    expect(seen).toHaveLength(1)
    tokens.dispose()
    await expect(pending).rejects.toMatchObject({ kind: 'disposed' })
    await until(() => abandoned > 0, 5000, 'the server to see the request abandoned')
    expect(abandoned).toBe(1)
  })
})
