// createSseHandler: read the token → verify → 401 or stream, and close at the token's expiry, as a
// fetch handler (what Next.js route handlers, Hono, Bun and Deno call) and as a Node handler (what
// node:http, Express and Fastify's reply.raw call), on a real HTTP server on 127.0.0.1. And the
// secret as an options object everywhere, with the positional form kept for one release.
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryEventLog, createSseHandler, mintSseToken, verifySseToken, type SseHandler } from 'use-event-stream/server'
import { sleep } from '../helpers/wait'

const secret = 'a-handler-secret-that-is-long-enough-32'
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))))
})

/** Serves `handler.node` on 127.0.0.1; resolves to the base URL. */
async function serveNode(handler: SseHandler): Promise<string> {
  const server = createServer((req, res) => void handler.node(req, res))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

/** Reads `response`'s body until `done(text)` holds, the body ends, or `timeout` ms pass. */
async function readBody(response: Response, done: (text: string) => boolean, timeout = 3000): Promise<{ text: string; ended: boolean }> {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + timeout
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const next = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => 'timeout' as const)])
    if (next === 'timeout') break
    if (next.done) return { text, ended: true }
    text += decoder.decode(next.value, { stream: true })
    if (done(text)) break
  }
  await reader.cancel().catch(() => {})
  return { text, ended: false }
}

const FORMS = [
  { name: 'node handler on node:http', get: async (handler: SseHandler) => { const base = await serveNode(handler); return (path: string, init?: RequestInit) => fetch(base + path, init) } },
  { name: 'fetch handler', get: async (handler: SseHandler) => (path: string, init?: RequestInit) => handler.fetch(new Request(`http://127.0.0.1${path}`, init)) },
]

describe.each(FORMS)('createSseHandler: $name', (form) => {
  it('answers 401 without echoing the token, for no token and a bad one', async () => {
    const call = await form.get(createSseHandler({ secret, log: createMemoryEventLog() }))
    const none = await call('/stream')
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    expect(await none.json()).toMatchObject({ error: 'unauthorized', reason: 'missing' })
    const forged = await mintSseToken({ secret: 'another-secret-another-secret-another', sub: 'u1' })
    const bad = await call(`/stream?token=${forged}`)
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    const body = await bad.text()
    expect(JSON.parse(body)).toMatchObject({ reason: 'bad-signature' })
    expect(body).not.toContain(forged.split('.')[2]!)
  })

  it('streams the log to a valid token, resuming after Last-Event-ID', async () => {
    const log = createMemoryEventLog()
    const ids = await Promise.all(['a', 'b', 'c'].map((data) => log.append({ event: 'note', data })))
    const call = await form.get(createSseHandler({ secret, log, heartbeatMs: 0 }))
    const token = await mintSseToken({ secret, sub: 'u1' })
    const response = await call('/stream', { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': ids[0]! } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const { text } = await readBody(response, (t) => t.includes('data: c\n\n'))
    expect(text).toBe(`id: ${ids[1]}\nevent: note\ndata: b\n\nid: ${ids[2]}\nevent: note\ndata: c\n\n`)
    await log.close()
  })

  it('hands a source function the verified claims', async () => {
    const call = await form.get(
      createSseHandler({
        secret,
        source: async function* ({ payload }) {
          yield { event: 'hello', data: String(payload.sub) }
        },
      }),
    )
    const token = await mintSseToken({ secret, sub: 'user-42' })
    const { text, ended } = await readBody(await call(`/stream?token=${token}`), () => false)
    expect(text).toBe('event: hello\ndata: user-42\n\n')
    expect(ended).toBe(true)
  })

  it('ends the stream when the token expires (closeAtExpiry, on by default)', async () => {
    const call = await form.get(createSseHandler({ secret, log: createMemoryEventLog(), heartbeatMs: 0 }))
    const token = await mintSseToken({ secret, sub: 'u1', ttlSeconds: 1 })
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number
    const { ended } = await readBody(await call(`/stream?token=${token}`), () => false, 4000)
    expect(ended).toBe(true)
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50)
    expect(Date.now()).toBeLessThan(exp * 1000 + 1000)
  })
})

describe('the secret as an options object', () => {
  it('createSseHandler refuses a string where its options belong, and a source and a log together', () => {
    expect(() => createSseHandler(secret as never)).toThrow(TypeError)
    expect(() => createSseHandler({ secret, log: createMemoryEventLog(), source: [] as never })).toThrow(/source or log/)
    expect(() => createSseHandler({ secret: '', log: createMemoryEventLog() })).toThrow(TypeError)
  })

  it('verifySseToken(token, { secret, ...options }); a string where the options belong is a TypeError', async () => {
    const token = await mintSseToken({ secret, sub: 'u1', audience: 'feed' })
    expect(await verifySseToken(token, { secret, audience: 'feed' })).toMatchObject({ ok: true, payload: { sub: 'u1' } })
    expect(await verifySseToken(token, { secret })).toEqual({ ok: false, reason: 'wrong-audience' })
    await expect(verifySseToken(token, secret, 'feed' as never)).rejects.toThrow(TypeError)
    await expect(verifySseToken(token, { audience: 'feed' } as never)).rejects.toThrow(/secret/)
    await expect(mintSseToken(secret as never)).rejects.toThrow(/options object/)
  })

  it('the positional secret still works, with one deprecation warning outside production that names no token', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const token = await mintSseToken({ secret, sub: 'u1' })
      expect((await verifySseToken(token, secret)).ok).toBe(true)
      expect((await verifySseToken(token, secret, {})).ok).toBe(true)
      const messages = warn.mock.calls.map((call) => String(call[0])).filter((m) => m.includes('verifySseToken'))
      expect(messages.length).toBeLessThanOrEqual(1)
      for (const m of messages) {
        expect(m).toMatch(/deprecated/)
        expect(m).not.toContain(token)
        expect(m).not.toContain(secret)
      }
    } finally {
      warn.mockRestore()
    }
  })
})
