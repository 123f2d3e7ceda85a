/**
 * The reference server over real HTTP on 127.0.0.1: every route, each 401 cause, replay, expiry,
 * every fault, counters, the redacted access log, bad requests and restarts. Most tests use a
 * server started here (fast clocks, captured log); one checks the shared globalSetup server.
 * Tests publish on their own `seq-<name>` channel so ids are predictable.
 */
import { connect as netConnect } from 'node:net'
import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { mintSseToken } from 'use-event-stream/server'
import { MALFORMED_PRELUDE, startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { sleep } from '../helpers/wait'


let server: ReferenceServer
const logs: string[] = []

beforeAll(async () => {
  server = await startReferenceServer({ log: (line) => logs.push(line), eventInterval: 50, fastInterval: 20 })
})
afterAll(async () => {
  await server.close()
})

async function getToken(query = '', base = server.url): Promise<string> {
  const response = await fetch(`${base}/auth/sse-token${query}`, { method: 'POST', headers: { 'x-api-key': server.apiKey } })
  expect(response.status).toBe(200)
  return ((await response.json()) as { token: string }).token
}

interface ParsedEvent {
  type: string
  data: string
  id: string | undefined
}

/** Splits complete blocks of SSE text into events (LF endings, as the server writes them). */
function parseEvents(text: string): ParsedEvent[] {
  const events: ParsedEvent[] = []
  for (const block of text.split('\n\n').slice(0, -1)) {
    let type = 'message'
    let id: string | undefined
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('data: ')) data.push(line.slice(6))
      else if (line.startsWith('event: ')) type = line.slice(7)
      else if (line.startsWith('id: ')) id = line.slice(4)
    }
    if (data.length) events.push({ type, data: data.join('\n'), id })
  }
  return events
}

/** An open stream read through fetch. */
async function openStream(path: string, init: RequestInit = {}) {
  const abort = new AbortController()
  const response = await fetch(`${server.url}${path}`, { ...init, signal: abort.signal })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let chunks = 0
  let ended: 'open' | 'done' | 'error' = 'open'
  /** Reads until `until(text)` holds, the stream ends, or `timeoutMs` passes; returns the text so far. */
  const read = async (until: (text: string) => boolean, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs
    while (ended === 'open' && !until(text) && Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read().catch(() => 'error' as const),
        sleep(Math.max(0, deadline - Date.now())).then(() => 'timeout' as const),
      ])
      if (chunk === 'timeout') break
      if (chunk === 'error') ended = 'error'
      else if (chunk.done) ended = 'done'
      else {
        chunks++
        text += decoder.decode(chunk.value, { stream: true })
      }
    }
    return text
  }
  return {
    response,
    read,
    events: () => parseEvents(text),
    get text() {
      return text
    },
    get chunks() {
      return chunks
    },
    get ended() {
      return ended
    },
    close: () => abort.abort(),
  }
}

/** Sends raw bytes and returns everything the server answers until it closes the socket. */
function rawRequest(bytes: string): Promise<string> {
  const url = new URL(server.url)
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(url.port), url.hostname)
    let answer = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
    socket.write(bytes)
    setTimeout(() => socket.destroy(), 2000)
  })
}

const ids = (events: ParsedEvent[]) => events.map((e) => e.id)

/* ---------------------------------------------------------------------------------------------*/

describe('POST /auth/sse-token', () => {
  it('refuses without a session cookie or API key', async () => {
    const none = await fetch(`${server.url}/auth/sse-token`, { method: 'POST' })
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({ error: 'unauthorized' })
    const wrongKey = await fetch(`${server.url}/auth/sse-token`, { method: 'POST', headers: { 'x-api-key': 'nope' } })
    expect(wrongKey.status).toBe(401)
    const emptyCookie = await fetch(`${server.url}/auth/sse-token`, { method: 'POST', headers: { cookie: 'demo_session=' } })
    expect(emptyCookie.status).toBe(401)
    expect((await fetch(`${server.url}/auth/sse-token`, { headers: { 'x-api-key': server.apiKey } })).status).toBe(405)
  })

  it('mints an HS256 JWT for an API key, with no-store and the configured lifetime', async () => {
    const response = await fetch(`${server.url}/auth/sse-token`, { method: 'POST', headers: { 'x-api-key': server.apiKey } })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as { token: string; expiresIn: number }
    expect(body.expiresIn).toBe(30)
    const [header, payload] = body.token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()))
    expect(header).toMatchObject({ alg: 'HS256' })
    expect(payload).toMatchObject({ sub: 'demo-user' })
    expect(payload.exp - payload.iat).toBeGreaterThanOrEqual(30)
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(31)

    const short = await fetch(`${server.url}/auth/sse-token?ttl=2&sub=alice`, { method: 'POST', headers: { 'x-api-key': server.apiKey } })
    const shortBody = (await short.json()) as { token: string; expiresIn: number }
    expect(shortBody.expiresIn).toBe(2)
    expect(JSON.parse(Buffer.from(shortBody.token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'alice' })
  })

  it('accepts the demo session cookie set by POST /auth/login', async () => {
    const login = await fetch(`${server.url}/auth/login`, { method: 'POST' })
    expect(login.status).toBe(200)
    const cookie = login.headers.get('set-cookie')!
    expect(cookie).toMatch(/^demo_session=[0-9a-f]+; Path=\/; HttpOnly; SameSite=Lax$/)
    const response = await fetch(`${server.url}/auth/sse-token`, { method: 'POST', headers: { cookie: cookie.split(';')[0]! } })
    expect(response.status).toBe(200)
    expect(((await response.json()) as { token: string }).token.split('.')).toHaveLength(3)
    const logout = await fetch(`${server.url}/auth/logout`, { method: 'POST' })
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0')
  })

  it('injects failures: status, delay, timeout, malformed JSON, missing token', async () => {
    const post = (query: string, init: RequestInit = {}) =>
      fetch(`${server.url}/auth/sse-token${query}`, { method: 'POST', headers: { 'x-api-key': server.apiKey }, ...init })
    expect((await post('?fault=status:500')).status).toBe(500)
    expect((await post('?fault=status:401')).status).toBe(401)
    const limited = await post('?fault=status:429&retryAfter=7')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('7')

    const started = Date.now()
    expect((await post('?fault=delay:250')).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(240)

    await expect(post('?fault=timeout', { signal: AbortSignal.timeout(200) })).rejects.toThrow()
    const malformed = await post('?fault=malformed-json')
    expect(malformed.status).toBe(200)
    await expect(malformed.json()).rejects.toThrow()
    expect(await (await post('?fault=missing-token')).json()).toEqual({})

    // Through the control API: only the next request fails.
    const queued = await fetch(`${server.url}/__control/fault`, {
      method: 'POST',
      body: JSON.stringify({ route: 'token', fault: 'status:503', count: 1 }),
    })
    expect(queued.status).toBe(200)
    const unavailable = await post('')
    expect(unavailable.status).toBe(503)
    expect(unavailable.headers.get('retry-after')).toBe('1')
    expect((await post('')).status).toBe(200)
  })
})

describe('GET /stream: authentication', () => {
  it('accepts the token in Authorization: Bearer and in ?token=, recording which', async () => {
    const token = await getToken()
    server.resetCounters()
    const viaHeader = await openStream('/stream?channel=fast', { headers: { Authorization: `Bearer ${token}` } })
    expect(viaHeader.response.status).toBe(200)
    expect(viaHeader.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(viaHeader.response.headers.get('cache-control')).toBe('no-store')
    await viaHeader.read(() => viaHeader.events().length >= 2)
    viaHeader.close()
    const viaQuery = await openStream(`/stream?channel=fast&token=${token}`)
    expect(viaQuery.response.status).toBe(200)
    await viaQuery.read(() => viaQuery.events().length >= 2)
    viaQuery.close()

    const events = viaQuery.events()
    expect(events[0]).toMatchObject({ type: 'tick' })
    expect(Number(events[1]!.id)).toBe(Number(events[0]!.id) + 1)
    expect(JSON.parse(events[0]!.data)).toMatchObject({ seq: Number(events[0]!.id) })
    expect(server.counters().connections.map((c) => c.authVia)).toEqual(['header', 'query'])
  })

  it.each([
    ['missing', async () => ''],
    ['malformed', async () => 'not-a-jwt'],
    ['bad-signature', async () => mintSseToken({ secret: 'some-other-secret-some-other-secret', sub: 'x' })],
    ['expired', async () => server.mintToken({ ttl: -5 })],
  ])('answers 401 with reason %s and no stream', async (reason, makeToken) => {
    const token = await makeToken()
    const attempts: Array<[string, Record<string, string>]> = [
      ['/stream?channel=ticker', token ? { Authorization: `Bearer ${token}` } : {}],
      [`/stream?channel=ticker${token ? `&token=${token}` : ''}`, {}],
    ]
    for (const [path, headers] of attempts) {
      const response = await fetch(`${server.url}${path}`, { headers })
      expect(response.status).toBe(401)
      expect(response.headers.get('content-type')).toContain('application/json')
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/)
      const body = await response.text()
      expect(JSON.parse(body)).toMatchObject({ error: 'unauthorized', reason })
      if (token) expect(body).not.toContain(token)
    }
  })

  it('treats a garbled Authorization header as malformed', async () => {
    const response = await fetch(`${server.url}/stream`, { headers: { Authorization: 'Bearer a b c' } })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ reason: 'malformed' })
  })
})

describe('GET /stream: ids, replay, heartbeats, expiry', () => {
  it('broadcasts published events to every subscriber with the same per-channel ids', async () => {
    const token = await getToken()
    const a = await openStream(`/stream?channel=seq-broadcast&token=${token}`)
    const b = await openStream('/stream?channel=seq-broadcast', { headers: { Authorization: `Bearer ${token}` } })
    await expect.poll(() => server.counters().open.stream).toBeGreaterThanOrEqual(2)
    expect(server.publish('seq-broadcast', { type: 'note', data: { n: 1 } })).toBe('1')
    expect(server.publish('seq-broadcast', { data: 'line one\nline two' })).toBe('2')
    for (const s of [a, b]) {
      await s.read(() => s.events().length >= 2)
      expect(s.events()).toEqual([
        { type: 'note', data: '{"n":1}', id: '1' },
        { type: 'message', data: 'line one\nline two', id: '2' },
      ])
      s.close()
    }
  })

  it('replays after Last-Event-ID (header) and lastEventId (query)', async () => {
    for (let i = 1; i <= 5; i++) server.publish('seq-replay', { data: { i } })
    const token = await getToken()
    const fromHeader = await openStream('/stream?channel=seq-replay', { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': '2' } })
    await fromHeader.read(() => fromHeader.events().length >= 3)
    expect(ids(fromHeader.events())).toEqual(['3', '4', '5'])
    fromHeader.close()

    const fromQuery = await openStream(`/stream?channel=seq-replay&lastEventId=4&token=${token}`)
    await fromQuery.read(() => fromQuery.events().length >= 1)
    server.publish('seq-replay', { data: { i: 6 } })
    await fromQuery.read(() => fromQuery.events().length >= 2)
    expect(ids(fromQuery.events())).toEqual(['5', '6'])
    fromQuery.close()

    const connections = server.counters().connections.filter((c) => c.channel === 'seq-replay')
    expect(connections.map((c) => [c.lastEventId, c.lastEventIdVia, c.replayed])).toEqual([
      ['2', 'header', 3],
      ['4', 'query', 1],
    ])
  })

  it('publishes events without an id (sendId: false) and replays them, in order, after the id before them', async () => {
    const token = await getToken()
    const live = await openStream(`/stream?channel=seq-partial&token=${token}`)
    await expect.poll(() => server.counters().connections.some((c) => c.channel === 'seq-partial' && c.open)).toBe(true)
    // Every event takes the next sequence number, sent as its id or not.
    expect(['e1', 'e2', 'e3', 'e4', 'e5'].map((data, i) => server.publish('seq-partial', { data, sendId: i === 0 || i === 3 }))).toEqual(['1', '2', '3', '4', '5'])
    await live.read(() => live.events().length >= 5)
    expect(live.text).not.toMatch(/^id: [235]$/m)
    expect(live.events().map((e) => [e.data, e.id])).toEqual([
      ['e1', '1'],
      ['e2', undefined],
      ['e3', undefined],
      ['e4', '4'],
      ['e5', undefined],
    ])
    live.close()

    // A client that saw e1, e2 and e3 resumes with the last id it saw, 1: the id-less events after
    // it come again (the client drops them by position), then the rest.
    const afterFirst = await openStream('/stream?channel=seq-partial', { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': '1' } })
    await afterFirst.read(() => afterFirst.events().length >= 4)
    expect(afterFirst.events().map((e) => [e.data, e.id])).toEqual([
      ['e2', undefined],
      ['e3', undefined],
      ['e4', '4'],
      ['e5', undefined],
    ])
    afterFirst.close()
    const afterFourth = await openStream(`/stream?channel=seq-partial&lastEventId=4&token=${token}`)
    await afterFourth.read(() => afterFourth.events().length >= 1)
    expect(afterFourth.events().map((e) => [e.data, e.id])).toEqual([['e5', undefined]])

    // The control API takes the same option; anything but a boolean is a 400 (and publishes nothing).
    const control = (body: unknown) => fetch(`${server.url}/__control/publish`, { method: 'POST', body: JSON.stringify(body) })
    const published = await control({ channel: 'seq-partial', data: 'e6', sendId: false })
    expect(await published.json()).toEqual({ id: '6' })
    await afterFourth.read(() => afterFourth.events().length >= 2)
    expect(afterFourth.events().at(-1)).toEqual({ type: 'message', data: 'e6', id: undefined })
    afterFourth.close()
    const bad = await control({ channel: 'seq-partial', data: 'e7', sendId: 'no' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toBe("sendId must be a boolean or 'block'")
    expect(() => server.publish('seq-partial', { data: 'e7', sendId: 'no' as never })).toThrow('sendId must be a boolean')
    expect(server.lastEventId('seq-partial')).toBe(6)
  })

  it('says so with a stream-gap event, then replays what is left, when the id fell out of the ring buffer', async () => {
    const small = await startReferenceServer({ log: () => {}, ringSize: 3 })
    try {
      for (let i = 1; i <= 6; i++) small.publish('seq', { data: i })
      const token = await small.mintToken()
      const response = await fetch(`${small.url}/stream?channel=seq&lastEventId=1`, { headers: { Authorization: `Bearer ${token}` } })
      const reader = response.body!.getReader()
      let text = ''
      while (parseEvents(text).length < 4) text += new TextDecoder().decode((await reader.read()).value)
      const [gap, ...rest] = parseEvents(text)
      expect(gap).toEqual({ type: 'stream-gap', id: undefined, data: JSON.stringify({ lastEventId: '1', resumedAt: '4' }) })
      expect(ids(rest)).toEqual(['4', '5', '6'])
      await reader.cancel()
    } finally {
      await small.close()
    }
  })

  it("sendId: 'block' sends the event, then its id in an id-only block, in replays too", async () => {
    const small = await startReferenceServer({ log: () => {} })
    try {
      small.publish('seq', { data: 'a' })
      const blockId = small.publish('seq', { data: 'b', sendId: 'block' })
      small.publish('seq', { data: 'c' })
      const token = await small.mintToken()
      const response = await fetch(`${small.url}/stream?channel=seq&lastEventId=1`, { headers: { Authorization: `Bearer ${token}` } })
      const reader = response.body!.getReader()
      let text = ''
      while (parseEvents(text).length < 2) text += new TextDecoder().decode((await reader.read()).value)
      expect(text).toContain(`data: b\n\nid: ${blockId}\n\nid: 3\ndata: c\n\n`)
      await reader.cancel()
    } finally {
      await small.close()
    }
  })

  it('sends heartbeat comments and an initial retry when asked', async () => {
    const token = await getToken()
    const stream = await openStream(`/stream?channel=seq-quiet&heartbeat=40&retry=1234&token=${token}`)
    const text = await stream.read((t) => (t.match(/: heartbeat\n\n/g) ?? []).length >= 2, 1000)
    expect(text.startsWith('retry: 1234\n\n: heartbeat\n\n')).toBe(true)
    stream.close()
  })

  it('ends the stream cleanly when the token expires', async () => {
    const token = await server.mintToken({ ttl: 1 })
    const started = Date.now()
    const stream = await openStream(`/stream?channel=fast&token=${token}`)
    const text = await stream.read(() => false, 5000)
    expect(stream.ended).toBe('done')
    expect(text.endsWith(': token expired\n\n')).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(Date.now() - started).toBeLessThan(3500)
    expect(stream.events().length).toBeGreaterThan(5)
    const info = server.counters().connections.at(-1)!
    expect(info).toMatchObject({ channel: 'fast', open: false, endReason: 'token-expired' })
  })

  it('releases the subscription when the client disconnects', async () => {
    const token = await getToken()
    server.resetCounters()
    const stream = await openStream(`/stream?channel=fast&token=${token}`)
    await stream.read(() => stream.events().length >= 3)
    expect(server.counters().open.stream).toBe(1)
    stream.close()
    await expect.poll(() => server.counters().open.stream).toBe(0)
    const info = server.counters().connections[0]!
    expect(info).toMatchObject({ open: false, endReason: 'client' })
    expect(info.eventsSent).toBeGreaterThanOrEqual(3)
  })
})

describe('GET /stream: faults', () => {
  it('status faults: 204 without body, 429/503 with Retry-After, 401/500 as JSON', async () => {
    const token = await getToken()
    const noContent = await fetch(`${server.url}/stream?fault=status:204&token=${token}`)
    expect(noContent.status).toBe(204)
    expect(await noContent.text()).toBe('')
    const limited = await fetch(`${server.url}/stream?fault=status:429&token=${token}`)
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1'])
    const unavailable = await fetch(`${server.url}/stream?fault=status%3D503&retryAfter=5&token=${token}`)
    expect([unavailable.status, unavailable.headers.get('retry-after')]).toEqual([503, '5'])
    for (const status of [401, 403, 404, 500]) {
      const response = await fetch(`${server.url}/stream?fault=status:${status}&token=${token}`)
      expect(response.status).toBe(status)
      expect(await response.json()).toMatchObject({ error: 'fault', status })
    }
  })

  it('content-type: a 200 that is not an event stream', async () => {
    const token = await getToken()
    const response = await fetch(`${server.url}/stream?fault=content-type&token=${token}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
  })

  it('stall: headers, then not one byte', async () => {
    const token = await getToken()
    const stream = await openStream(`/stream?channel=fast&fault=stall&heartbeat=20&token=${token}`)
    expect(stream.response.status).toBe(200)
    expect(stream.response.headers.get('content-type')).toContain('text/event-stream')
    expect(await stream.read(() => false, 300)).toBe('')
    expect(stream.ended).toBe('open')
    stream.close()
  })

  it('drop-after:N sends N events, then breaks the connection', async () => {
    for (let i = 1; i <= 5; i++) server.publish('seq-drop', { data: i })
    const token = await getToken()
    const stream = await openStream(`/stream?channel=seq-drop&lastEventId=0&fault=drop-after:2&token=${token}`)
    await stream.read(() => false)
    expect(stream.ended).toBe('error')
    expect(ids(stream.events())).toEqual(['1', '2'])
    expect(server.counters().connections.at(-1)).toMatchObject({ eventsSent: 2, endReason: 'dropped', fault: 'drop-after:2' })
  })

  it('drip writes one byte at a time', async () => {
    server.publish('seq-drip', { type: 'drip', data: 'slow' })
    const token = await getToken()
    const stream = await openStream(`/stream?channel=seq-drip&lastEventId=0&fault=drip:3&token=${token}`)
    await stream.read(() => stream.events().length >= 1)
    expect(stream.events()).toEqual([{ type: 'drip', data: 'slow', id: '1' }])
    // 'id: 1\nevent: drip\ndata: slow\n\n' is 30 bytes; byte-wise writes arrive in many reads.
    expect(stream.chunks).toBeGreaterThan(10)
    stream.close()
  })

  it('burst:N publishes N events at once, with consecutive ids', async () => {
    const token = await getToken()
    const started = Date.now()
    const stream = await openStream(`/stream?channel=seq-burst&fault=burst:200&token=${token}`)
    await stream.read(() => stream.events().length >= 200)
    expect(Date.now() - started).toBeLessThan(1500)
    expect(ids(stream.events())).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)))
    expect(server.lastEventId('seq-burst')).toBe(200)
    stream.close()
  })

  it('malformed: sends the documented prelude, which a conforming client parses as documented', async () => {
    const token = await getToken()
    const raw = await fetch(`${server.url}/stream?channel=seq-malformed&fault=malformed&token=${token}`)
    const reader = raw.body!.getReader()
    const bytes: number[] = []
    const expected = Buffer.from(MALFORMED_PRELUDE, 'utf8')
    while (bytes.length < expected.length) bytes.push(...(await reader.read()).value!)
    expect(Buffer.from(bytes.slice(0, expected.length))).toEqual(expected)
    expect(expected.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
    await reader.cancel()

    // The `eventsource` package is a WHATWG-conforming parser.
    const es = new EventSource(`${server.url}/stream?channel=seq-malformed&fault=malformed&token=${token}`)
    const seen: Array<[string, string, string]> = []
    es.addEventListener('malformed', (e) => seen.push(['malformed', e.data, e.lastEventId]))
    es.onmessage = (e) => seen.push(['message', e.data, e.lastEventId])
    await expect.poll(() => seen.length).toBeGreaterThanOrEqual(2)
    server.publish('seq-malformed', { data: 'after' })
    await expect.poll(() => seen.length).toBe(3)
    es.close()
    expect(seen).toEqual([
      ['malformed', '{"ok":1}', ''],
      ['message', 'second\nline', ''],
      ['message', 'after', '1'],
    ])
  })

  it('oversized: one event with a 2 MiB data line, then the normal stream', async () => {
    const token = await getToken()
    const stream = await openStream(`/stream?channel=seq-big&fault=oversized&token=${token}`)
    await stream.read((t) => t.includes('\n\n'))
    const event = stream.events()[0]!
    expect(event.type).toBe('oversized')
    expect(event.data.length).toBe(2 * 1024 * 1024)
    expect(event.data).toMatch(/^x+$/)
    stream.close()
  })

  it('control API: faults for the next N connections of a channel, publish, counters, reset', async () => {
    const control = (path: string, body?: unknown) =>
      fetch(`${server.url}/__control/${path}`, { method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body) })
    const token = await getToken()
    expect((await control('fault', { route: 'stream', fault: 'status:503', count: 2, channel: 'seq-ctl' })).status).toBe(200)
    // Another channel is unaffected.
    const other = await openStream(`/stream?channel=seq-other&token=${token}`)
    expect(other.response.status).toBe(200)
    other.close()
    expect((await fetch(`${server.url}/stream?channel=seq-ctl&token=${token}`)).status).toBe(503)
    expect((await fetch(`${server.url}/stream?channel=seq-ctl&token=${token}`)).status).toBe(503)
    const stream = await openStream(`/stream?channel=seq-ctl&token=${token}`)
    expect(stream.response.status).toBe(200)

    const published = await control('publish', { channel: 'seq-ctl', type: 'note', data: { hello: 1 } })
    expect(await published.json()).toEqual({ id: '1' })
    await stream.read(() => stream.events().length >= 1)
    expect(stream.events()).toEqual([{ type: 'note', data: '{"hello":1}', id: '1' }])
    stream.close()

    const counters = (await (await control('counters')).json()) as ReturnType<ReferenceServer['counters']>
    expect(counters.requests.stream.byStatus['503']).toBeGreaterThanOrEqual(2)
    expect((await control('fault', { route: 'stream', fault: 'nonsense' })).status).toBe(400)
    expect((await control('publish', { channel: 'nope', data: 1 })).status).toBe(404)
    expect((await control('reset', {})).status).toBe(200)
    expect(server.counters().tokenMints).toBe(0)
  })
})

describe('counters and access log', () => {
  it('counts requests by route and status, open streams, events and token mints', async () => {
    server.resetCounters()
    const token = await getToken()
    await fetch(`${server.url}/stream?channel=ticker`)
    const stream = await openStream(`/stream?channel=seq-count&token=${token}`)
    await expect.poll(() => server.counters().open.stream).toBe(1)
    server.publish('seq-count', { data: 'a' })
    server.publish('seq-count', { data: 'b' })
    await stream.read(() => stream.events().length >= 2)
    const during = server.counters()
    expect(during.tokenMints).toBe(1)
    expect(during.requests.token).toEqual({ total: 1, byStatus: { 200: 1 } })
    expect(during.requests.stream).toEqual({ total: 2, byStatus: { 200: 1, 401: 1 } })
    expect(during.eventsSent).toBe(2)
    expect(during.connections).toMatchObject([{ channel: 'seq-count', eventsSent: 2, open: true }])
    stream.close()
    await expect.poll(() => server.counters().open.stream).toBe(0)
  })

  it('logs one line per request with the token redacted, never the Authorization header', async () => {
    const token = await getToken()
    logs.length = 0
    const viaQuery = await openStream(`/stream?channel=seq-log&token=${token}&x=1`)
    viaQuery.close()
    const viaHeader = await openStream('/stream?channel=seq-log&access_token=leak', { headers: { Authorization: `Bearer ${token}` } })
    viaHeader.close()
    await fetch(`${server.url}/stream?channel=seq-log&token=${token}abc`)
    await expect.poll(() => logs.length).toBe(3)
    expect(logs[0]).toMatch(/^GET \/stream\?channel=seq-log&token=\[redacted\]&x=1 200 \d+ms events=0$/)
    expect(logs[1]).toMatch(/^GET \/stream\?channel=seq-log&access_token=\[redacted\] 200 /)
    expect(logs[2]).toMatch(/^GET \/stream\?channel=seq-log&token=\[redacted\] 401 /)
    for (const line of logs) {
      expect(line).not.toContain(token)
      expect(line).not.toContain(token.split('.')[2]!)
      expect(line).not.toContain('leak')
      expect(line).not.toMatch(/bearer/i)
    }
  })
})

describe('bad requests never crash the server', () => {
  it('answers 4xx with a JSON message for unknown channels and bad parameters', async () => {
    const token = await getToken()
    const cases: Array<[string, RequestInit, number, RegExp]> = [
      [`/stream?channel=nope&token=${token}`, {}, 404, /unknown channel/],
      [`/stream?fault=nonsense&token=${token}`, {}, 400, /unknown fault/],
      [`/stream?fault=drop-after:x&token=${token}`, {}, 400, /drop-after/],
      [`/stream?fault=status:418&token=${token}`, {}, 400, /status/],
      [`/stream?lastEventId=abc&token=${token}`, {}, 400, /lastEventId/],
      [`/stream?token=${token}`, { headers: { 'Last-Event-ID': '-1' } }, 400, /Last-Event-ID/],
      [`/stream?heartbeat=-5&token=${token}`, {}, 400, /heartbeat/],
      [`/stream?retry=1e3&token=${token}`, {}, 400, /retry/],
      ['/auth/sse-token?ttl=abc', { method: 'POST', headers: { 'x-api-key': server.apiKey } }, 400, /ttl/],
      ['/auth/sse-token?fault=explode', { method: 'POST', headers: { 'x-api-key': server.apiKey } }, 400, /unknown fault/],
      ['/__control/fault', { method: 'POST', body: '{not json' }, 400, /JSON/],
      ['/nowhere', {}, 404, /no such route/],
    ]
    for (const [path, init, status, message] of cases) {
      const response = await fetch(`${server.url}${path}`, init)
      expect([path, response.status]).toEqual([path, status])
      const body = (await response.json()) as { message: string }
      expect(body.message).toMatch(message)
      expect(JSON.stringify(body)).not.toContain(token)
    }
  })

  it('answers 431 to oversized headers and 400 to garbage, and keeps serving', async () => {
    const big = await rawRequest(`GET /stream HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(big).toMatch(/^HTTP\/1\.1 431 /)
    expect(big).toContain('"error":"headers-too-large"')
    const viaFetch = await fetch(`${server.url}/stream`, { headers: { 'x-big': 'b'.repeat(20_000) } })
    expect(viaFetch.status).toBe(431)
    expect(await rawRequest('NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /)
    expect(await rawRequest('GET //x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 [\s\S]*request target/)
    expect(server.counters().requests.invalid.byStatus['431']).toBeGreaterThanOrEqual(2)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })
})

describe('CORS for local dev origins', () => {
  it('echoes localhost origins with credentials and answers preflights', async () => {
    const origin = 'http://localhost:5173'
    const token = await getToken()
    const response = await fetch(`${server.url}/stream?fault=status:204&token=${token}`, { headers: { Origin: origin } })
    expect(response.headers.get('access-control-allow-origin')).toBe(origin)
    expect(response.headers.get('access-control-allow-credentials')).toBe('true')
    const preflight = await fetch(`${server.url}/stream`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:6006', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,last-event-id' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:6006')
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization.*Last-Event-ID.*x-api-key/)
    const foreign = await fetch(`${server.url}/health`, { headers: { Origin: 'https://evil.example' } })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('restart', () => {
  it('resumes ids, tokens and replay on the same port with the previous state', async () => {
    const first = await startReferenceServer({ log: () => {} })
    const token = await first.mintToken({ ttl: 60 })
    for (let i = 1; i <= 3; i++) first.publish('seq', { data: i })
    const live = await fetch(`${first.url}/stream?channel=seq&token=${token}`)
    const reader = live.body!.getReader()
    await first.close()
    await expect(reader.read()).rejects.toThrow() // killed, not ended cleanly

    const second = await startReferenceServer({ log: () => {}, port: first.port, state: first.state })
    try {
      expect(second.url).toBe(first.url)
      const response = await fetch(`${second.url}/stream?channel=seq`, { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': '1' } })
      expect(response.status).toBe(200)
      expect(second.publish('seq', { data: 4 })).toBe('4')
      const r = response.body!.getReader()
      let text = ''
      while (parseEvents(text).length < 3) text += new TextDecoder().decode((await r.read()).value)
      expect(ids(parseEvents(text))).toEqual(['2', '3', '4'])
      await r.cancel()
    } finally {
      await second.close()
    }
  })
})

describe('shared server from globalSetup', () => {
  it('serves tokens and streams at inject("serverUrl")', async () => {
    const base = inject('serverUrl')
    const response = await fetch(`${base}/auth/sse-token`, { method: 'POST', headers: { 'x-api-key': inject('apiKey') } })
    const { token } = (await response.json()) as { token: string }
    const stream = await fetch(`${base}/stream?channel=seq-shared-check&heartbeat=20&token=${token}`)
    expect(stream.status).toBe(200)
    const reader = stream.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(': heartbeat\n\n')
    await reader.cancel()
  })
})
