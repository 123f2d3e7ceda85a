// The token manager against the reference server's real `POST /auth/sse-token` (started once per
// project by test/globalSetup.ts). Requests are counted with a wrapping fetch rather than the
// server's counters, because other test files share the server concurrently.
import { describe, expect, inject, it } from 'vitest'
import { TokenError, fetchTokenFrom, createTokenManager } from 'use-event-stream/core'
import { readJwtTimes } from '../../src/core/jwt'
import { sleep, until } from '../helpers/wait'

const serverUrl = inject('serverUrl')
const apiKey = inject('apiKey')
const endpoint = `${serverUrl}/auth/sse-token`

/** Real fetch that counts requests and can rewrite the URL of the n-th one (0-based). */
function countingFetch(rewrite: (url: string, index: number) => string = (url) => url) {
  const urls: string[] = []
  const wrapped: typeof fetch = (input, init) => {
    const url = rewrite(String(input), urls.length)
    urls.push(url)
    return fetch(url, init)
  }
  return { fetch: wrapped, urls }
}

/**
 * Opens `/stream` with the token as a Bearer header and reports the status (then hangs up).
 * `fault` makes the stream server answer with a failure after accepting the token.
 */
async function streamStatus(token: string, fault?: string) {
  const controller = new AbortController()
  const query = fault ? `&fault=${encodeURIComponent(fault)}` : ''
  const res = await fetch(`${serverUrl}/stream?channel=ticker${query}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
  const type = res.headers.get('content-type')
  controller.abort()
  await res.body?.cancel().catch(() => {})
  return { status: res.status, type }
}

describe('fetchTokenFrom against the reference server', () => {
  it('returns a token the server accepts, with expiresIn in seconds matching the JWT', async () => {
    const response = await fetchTokenFrom(`${endpoint}?ttl=45`, { headers: { 'x-api-key': apiKey } })({ signal: new AbortController().signal, reason: 'initial' })
    expect(typeof response).toBe('object')
    const { token, expiresIn } = response as { token: string; expiresIn: number }
    expect(expiresIn).toBe(45)
    const times = readJwtTimes(token)
    // iat is floored and exp ceiled to whole seconds by the server.
    expect(times!.exp! - times!.iat!).toBeGreaterThanOrEqual(45)
    expect(times!.exp! - times!.iat!).toBeLessThanOrEqual(46)
    expect(await streamStatus(token)).toEqual({ status: 200, type: expect.stringContaining('text/event-stream') })
  })

  it('the manager measures the lifetime from expiresIn and hands out a working token', async () => {
    const counter = countingFetch()
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${endpoint}?ttl=30`, { headers: { 'x-api-key': apiKey }, fetch: counter.fetch }) })
    try {
      const before = Date.now()
      const all = await Promise.all(Array.from({ length: 20 }, () => tokens.getToken()))
      expect(new Set(all).size).toBe(1)
      expect(counter.urls).toHaveLength(1)
      const snap = tokens.getSnapshot()
      expect(snap).toMatchObject({ status: 'valid', lifetime: 30_000, fetchCount: 1 })
      expect(snap.expiresAt).toBeGreaterThanOrEqual(before + 30_000)
      expect(snap.expiresAt).toBeLessThanOrEqual(Date.now() + 30_000)
      expect(JSON.stringify(snap)).not.toContain(all[0])
      expect((await streamStatus(all[0]!)).status).toBe(200)
    } finally {
      tokens.dispose()
    }
  })

  it('refreshes a 2-second token on its own while subscribed', async () => {
    const counter = countingFetch()
    const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${endpoint}?ttl=2`, { headers: { 'x-api-key': apiKey }, fetch: counter.fetch }) })
    const off = tokens.subscribe(() => {})
    try {
      const first = await tokens.getToken()
      // Lead for 2 s is 1 s: the second token arrives after ~1 s, before the first one expires.
      await until(() => tokens.version >= 2, 3_000, 'the second token')
      const second = await tokens.getToken()
      expect(second).not.toBe(first)
      expect(counter.urls).toHaveLength(2)
      expect((await streamStatus(second)).status).toBe(200)
    } finally {
      off()
      tokens.dispose()
    }
  })

  it('without the API key: terminal unauthorized after exactly one request', async () => {
    const counter = countingFetch()
    const tokens = createTokenManager({
      fetchToken: fetchTokenFrom(endpoint, { fetch: counter.fetch }),
      retry: { initialDelay: 10, maxDelay: 10, factor: 1 },
    })
    const off = tokens.subscribe(() => {})
    try {
      const error = await tokens.getToken().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TokenError)
      expect(error).toMatchObject({ kind: 'unauthorized', status: 401 })
      expect(tokens.getSnapshot()).toMatchObject({ status: 'unauthorized', error: { kind: 'unauthorized', status: 401 } })
      // Retries would be every ~10 ms here; none happen.
      await sleep(200)
      await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'unauthorized' })
      await expect(tokens.getToken({ forceRefresh: true })).rejects.toMatchObject({ kind: 'unauthorized' })
      expect(counter.urls).toHaveLength(1)
      // refresh() tries once more, and only once.
      await expect(tokens.refresh()).rejects.toMatchObject({ kind: 'unauthorized' })
      await sleep(100)
      expect(counter.urls).toHaveLength(2)
    } finally {
      off()
      tokens.dispose()
    }
  })

  it.each([
    ['status:503', 'http'],
    ['status:500', 'http'],
    ['malformed-json', 'invalid-response'],
    ['missing-token', 'invalid-response'],
  ])('a %s answer is retried with backoff and recovers', async (fault, kind) => {
    const counter = countingFetch((url, i) => (i === 0 ? `${url}&fault=${fault}` : url))
    const tokens = createTokenManager({
      fetchToken: fetchTokenFrom(`${endpoint}?ttl=30`, { headers: { 'x-api-key': apiKey }, fetch: counter.fetch }),
      // Long enough that the 'error' snapshot read below cannot race the retry on a loaded machine.
      retry: { initialDelay: 600, maxDelay: 600, factor: 1 },
    })
    const off = tokens.subscribe(() => {})
    try {
      await expect(tokens.getToken()).rejects.toMatchObject({ name: 'TokenError', kind })
      expect(tokens.getSnapshot()).toMatchObject({ status: 'error', error: { kind } })
      await until(() => tokens.version === 1, 3_000, 'the first token')
      expect(counter.urls).toHaveLength(2)
      expect(tokens.getSnapshot()).toMatchObject({ status: 'valid', error: undefined })
      expect((await streamStatus(await tokens.getToken())).status).toBe(200)
    } finally {
      off()
      tokens.dispose()
    }
  })

  it('a token the stream server rejected is replaced by one request, and never handed out again', async () => {
    // Each request asks for another subject, so tokens minted within the same second still differ
    // (the server's JWTs are deterministic); the third (the refresh after the second rejection)
    // gets a 503.
    const counter = countingFetch((url, i) => `${url}&sub=user-${i}${i === 2 ? '&fault=status:503&retryAfter=0' : ''}`)
    const tokens = createTokenManager({
      fetchToken: fetchTokenFrom(`${endpoint}?ttl=60`, { headers: { 'x-api-key': apiKey }, fetch: counter.fetch }),
      retry: { initialDelay: 50, maxDelay: 50, factor: 1 },
    })
    const off = tokens.subscribe(() => {})
    try {
      const first = await tokens.getToken()
      const firstVersion = tokens.version
      expect((await streamStatus(first, 'status:401')).status).toBe(401) // the stream server refuses it

      const five = await Promise.all(Array.from({ length: 5 }, () => tokens.getToken({ newerThan: firstVersion })))
      expect(new Set(five).size).toBe(1)
      const second = five[0]!
      expect(second).not.toBe(first)
      expect(counter.urls).toHaveLength(2)
      expect(tokens.version).toBe(firstVersion + 1)
      expect((await streamStatus(second)).status).toBe(200)
      // Naming the old version again: the current token at once, no request.
      expect(await tokens.getToken({ newerThan: firstVersion })).toBe(second)
      expect(counter.urls).toHaveLength(2)

      // The second token is refused too, and the token endpoint is briefly unavailable.
      const secondVersion = tokens.version
      const error = await tokens.getToken({ newerThan: secondVersion }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TokenError)
      expect(error).toMatchObject({ kind: 'http', status: 503 })
      expect(counter.urls).toHaveLength(3)
      expect(tokens.getSnapshot()).toMatchObject({ status: 'error', error: { kind: 'http', status: 503 } })
      expect(await tokens.getToken().catch((e: unknown) => e)).not.toBe(second)
      // The background retry brings a third token; the refused one never comes back.
      await until(() => tokens.version === secondVersion + 1, 3_000, 'the token after the rejected one')
      const third = await tokens.getToken({ newerThan: secondVersion })
      expect(third).not.toBe(second)
      expect(await tokens.getToken()).toBe(third)
      expect((await streamStatus(third)).status).toBe(200)
      expect(counter.urls).toHaveLength(4)
    } finally {
      off()
      tokens.dispose()
    }
  })
})
