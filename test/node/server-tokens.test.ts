/**
 * Stream tokens of `use-event-stream/server`: the audience that keeps stream tokens and other JWTs
 * signed with the same secret apart, refusing tokens in URLs, and exactly when `verifySseToken`
 * and `mintSseToken` throw. Requests are real WHATWG `Request`s and real Node `IncomingMessage`s.
 */
import { request as httpRequest } from 'node:http'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { mintSseToken, readSseToken, verifySseToken } from 'use-event-stream/server'
import { readSseTokenWithSource } from '../../src/server/request'
import { useReferenceServer } from '../helpers/referenceServer'
import { startScriptedServer, type ScriptedServer } from '../helpers/scriptedServer'

const secret = 'a-test-secret-that-is-long-enough-32b'
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>

/** A JWT minted the way an app mints its session tokens: jose directly, same secret, no audience. */
function sessionToken(claims: Record<string, unknown> = {}) {
  return new SignJWT({ sub: 'u1', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret))
}

describe('stream tokens carry an audience, and verification requires it', () => {
  it("mintSseToken sets aud 'sse' by default, and verifySseToken accepts it", async () => {
    const token = await mintSseToken({ secret, sub: 'u1' })
    expect(claimsOf(token)).toMatchObject({ sub: 'u1', aud: 'sse' })
    const verified = await verifySseToken(token, secret)
    expect(verified.ok && verified.payload).toMatchObject({ sub: 'u1', aud: 'sse' })
  })

  it('a JWT without the audience (a session token signed with the same secret) is refused as wrong-audience', async () => {
    expect(await verifySseToken(await sessionToken(), secret)).toEqual({ ok: false, reason: 'wrong-audience' })
    expect(await verifySseToken(await sessionToken({ aud: 'api' }), secret)).toEqual({ ok: false, reason: 'wrong-audience' })
  })

  it('a stream token is refused where another audience is required (a leaked ?token= on another endpoint)', async () => {
    const streamToken = await mintSseToken({ secret, sub: 'u1' })
    expect(await verifySseToken(streamToken, secret, { audience: 'session' })).toEqual({ ok: false, reason: 'wrong-audience' })
  })

  it('the audience option is honoured on both sides, and wins over claims.aud', async () => {
    const token = await mintSseToken({ secret, sub: 'u1', audience: 'orders-stream', claims: { aud: 'sse', channels: ['orders'] } })
    expect(claimsOf(token)).toMatchObject({ aud: 'orders-stream', channels: ['orders'] })
    expect((await verifySseToken(token, secret, { audience: 'orders-stream' })).ok).toBe(true)
    expect(await verifySseToken(token, secret)).toEqual({ ok: false, reason: 'wrong-audience' })
  })

  it('the signature is still checked first: a forged token without an audience reads as bad-signature', async () => {
    const forged = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-another-secret-xxxx'))
    expect(await verifySseToken(forged, secret)).toEqual({ ok: false, reason: 'bad-signature' })
  })

  it('other claim failures stay invalid-claims', async () => {
    const notYet = await mintSseToken({ secret, sub: 'u1', claims: { nbf: Math.floor(Date.now() / 1000) + 600 } })
    expect(await verifySseToken(notYet, secret)).toEqual({ ok: false, reason: 'invalid-claims' })
  })
})

describe('the reference server, which mints and verifies with the defaults', () => {
  const server = useReferenceServer()

  it('streams with its own tokens and answers 401 wrong-audience to a JWT of its secret without the audience', async () => {
    const own = await server().mintToken({ ttl: 30 })
    const streaming = await fetch(`${server().url}/stream?channel=seq-aud`, { headers: { Authorization: `Bearer ${own}` } })
    expect(streaming.status).toBe(200)
    await streaming.body!.cancel()

    const foreign = await new SignJWT({ sub: 'demo-user' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(server().state.secret)
    const refused = await fetch(`${server().url}/stream?channel=seq-aud`, { headers: { Authorization: `Bearer ${foreign}` } })
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: 'unauthorized', reason: 'wrong-audience' })
  })
})

describe('readSseToken can refuse tokens in the URL', () => {
  let server: ScriptedServer
  beforeAll(async () => {
    server = await startScriptedServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ lenient: readSseTokenWithSource(req) ?? null, strict: readSseTokenWithSource(req, { query: false }) ?? null }))
    })
  })
  afterAll(() => server.close())

  function get(path: string, headers: Record<string, string> = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      httpRequest(`${server.url}${path}`, { headers }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve(JSON.parse(body)))
      })
        .on('error', reject)
        .end()
    })
  }

  it('with query: false a ?token= is ignored and only Authorization: Bearer counts (Request)', () => {
    expect(readSseToken(new Request('http://x/s?token=q.q.q'), { query: false })).toBeUndefined()
    expect(readSseToken(new Request('http://x/s?access_token=a'), { query: false, queryParam: 'access_token' })).toBeUndefined()
    expect(readSseToken(new Request('http://x/s?token=q', { headers: { Authorization: 'Bearer h.h.h' } }), { query: false })).toBe('h.h.h')
    // The default still accepts both.
    expect(readSseToken(new Request('http://x/s?token=q.q.q'))).toBe('q.q.q')
    expect(readSseToken(new Request('http://x/s?token=q.q.q'), { query: true })).toBe('q.q.q')
  })

  it('with query: false a ?token= is ignored on a real IncomingMessage', async () => {
    expect(await get('/s?token=from-query')).toEqual({ lenient: { token: 'from-query', source: 'query' }, strict: null })
    expect(await get('/s?token=from-query', { Authorization: 'Bearer from-header' })).toEqual({
      lenient: { token: 'from-header', source: 'header' },
      strict: { token: 'from-header', source: 'header' },
    })
  })
})

describe('when verifySseToken and mintSseToken throw', () => {
  afterEach(() => {
    vi.doUnmock('jose')
    vi.resetModules()
  })

  it('token problems never throw: each is a { ok: false, reason } result', async () => {
    for (const token of [undefined, null, '', 'x', 'a.b.c', '...', 'e30.e30.', `${'a'.repeat(9000)}.b.c`]) {
      expect((await verifySseToken(token, secret)).ok).toBe(false)
    }
  })

  it('a missing or empty secret throws a TypeError (a configuration error, not a bad token)', async () => {
    const token = await mintSseToken({ secret, sub: 'u1' })
    for (const bad of ['', new Uint8Array(0), undefined, 42]) {
      await expect(verifySseToken(token, bad as never)).rejects.toThrow(TypeError)
      await expect(verifySseToken(token, bad as never)).rejects.toThrow(/secret/)
      await expect(mintSseToken({ secret: bad as never, sub: 'u1' })).rejects.toThrow(TypeError)
    }
  })

  it('without the jose package both throw an Error saying `npm install jose` (and quoting no token)', async () => {
    const token = await mintSseToken({ secret, sub: 'u1' })
    vi.resetModules()
    vi.doMock('jose', () => {
      throw new Error("Cannot find package 'jose'")
    })
    const server = await import('use-event-stream/server')
    const failure = await server.verifySseToken(token, secret).then(
      () => undefined,
      (error: unknown) => error as Error,
    )
    expect(failure).toBeInstanceOf(Error)
    expect(failure!.message).toMatch(/npm install jose/)
    expect(`${failure!.message}\n${failure!.stack}`).not.toContain(token)
    await expect(server.mintSseToken({ secret, sub: 'u1' })).rejects.toThrow(/npm install jose/)
    // Absent or malformed tokens are answered without jose.
    expect(await server.verifySseToken(undefined, secret)).toEqual({ ok: false, reason: 'missing' })
    expect(await server.verifySseToken('not a jwt', secret)).toEqual({ ok: false, reason: 'malformed' })
  })
})
