/**
 * The eventsource transport over real HTTP on 127.0.0.1, with the `eventsource` npm package (v4)
 * as the platform's EventSource. A scripted `node:http` server shows exactly what goes on the wire;
 * the reference server checks the real backend (tokens, replay, fault injection). A "browser-like"
 * wrapper that strips the package's non-standard `code` from error events checks that nothing
 * depends on it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  type EventSourceConstructor,
  type EventSourceLike,
  type EventStreamError,
  type RawEvent,
  type TransportConnectOptions,
} from 'use-event-stream/core'
import { resolvePlatform } from '../../src/core/platform'
import { createEventSourceTransport } from '../../src/transports/eventSourceTransport'
import { connectionsOf, mintSseToken } from '../helpers/referenceClient'
import { refusedUrl, startScriptedServer, transportOptions, type Handler, type ScriptedServer } from '../helpers/scriptedServer'
import { sleep, until } from '../helpers/wait'

/* ---------------------------------------------------------------------------------------------
 * Recording harness
 * -------------------------------------------------------------------------------------------*/

type Entry = ['open'] | ['event', RawEvent] | ['activity'] | ['error', EventStreamError] | ['close', { noContent: boolean }] | ['id', string] | ['retry', number]

/** Every EventSource the transport created in this test, to check they end up closed. */
let created: EventSourceLike[] = []
const TrackedEventSource = class extends EventSource {
  constructor(url: string | URL, init?: { withCredentials?: boolean }) {
    super(url, init)
    created.push(this)
  }
} as unknown as EventSourceConstructor

/**
 * Like a browser: error events carry nothing but their type. (The package's `ErrorEvent` has
 * `code` and `message`, browsers' plain `Event` does not.)
 */
const BrowserLikeEventSource = class {
  readonly #inner: EventSourceLike
  readonly #wrapped = new Map<(ev: any) => void, (ev: any) => void>()
  onopen = null
  onerror = null
  onmessage = null
  constructor(url: string, init?: { withCredentials?: boolean }) {
    this.#inner = new TrackedEventSource(url, init)
  }
  get readyState() {
    return this.#inner.readyState
  }
  addEventListener(type: string, listener: (ev: any) => void) {
    const wrapped = type === 'error' ? () => listener(new Event('error')) : listener
    this.#wrapped.set(listener, wrapped)
    this.#inner.addEventListener(type, wrapped)
  }
  removeEventListener(type: string, listener: (ev: any) => void) {
    this.#inner.removeEventListener(type, this.#wrapped.get(listener) ?? listener)
  }
  close() {
    this.#inner.close()
  }
} as unknown as EventSourceConstructor

function connect(url: string | URL, overrides: Partial<TransportConnectOptions> = {}) {
  const log: Entry[] = []
  let resolveEnd!: (entry: Entry) => void
  const ended = new Promise<Entry>((resolve) => (resolveEnd = resolve))
  const options = transportOptions(url, { platform: resolvePlatform({ EventSource: TrackedEventSource }), ...overrides })
  const abort = createEventSourceTransport().connect(options, {
    onOpen: () => log.push(['open']),
    onEvent: (e) => log.push(['event', e]),
    onLastEventId: (id) => log.push(['id', id]),
    onRetry: (ms) => log.push(['retry', ms]),
    onActivity: () => log.push(['activity']),
    onError: (error) => (log.push(['error', error]), resolveEnd(['error', error])),
    onClose: (info) => (log.push(['close', info]), resolveEnd(['close', info])),
  })
  const events = () => log.flatMap((e) => (e[0] === 'event' ? [e[1]] : []))
  const waitForEvents = async (n: number) => {
    await until(() => events().length >= n, 2000, `${n} events`)
    return events()
  }
  return { log, ended, abort, events, waitForEvents }
}

async function endedWithError(c: { ended: Promise<Entry> }): Promise<EventStreamError> {
  const [kind, value] = await c.ended
  if (kind !== 'error') throw new Error(`expected onError, got ${kind}`)
  return value as EventStreamError
}

afterEach(() => {
  created = []
})

/* ---------------------------------------------------------------------------------------------
 * Against a scripted server
 * -------------------------------------------------------------------------------------------*/

describe('eventsource transport, scripted server', () => {
  let server: ScriptedServer
  let base: string
  let route: Handler
  let seen: Array<{ url: URL; headers: IncomingMessage['headers'] }> = []

  beforeAll(async () => {
    server = await startScriptedServer((req, res) => {
      seen.push({ url: new URL(req.url ?? '/', 'http://x'), headers: req.headers })
      route(req, res)
    })
    base = server.url
  })
  afterAll(() => server.close())
  afterEach(async () => {
    seen = []
    await server.reset()
  })

  const sse = (res: ServerResponse, body = '') => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    if (body) res.write(body)
  }

  it('puts the token and last event id in the query, replacing earlier values, URL-encoded', async () => {
    route = (_req, res) => sse(res)
    const token = 'a+b/c=d&e f.g'
    const c = connect(`${base}/stream?channel=ticker&token=stale&lastEventId=1`, { token, lastEventId: 'é 5' })
    await until(() => c.log.length > 0, 1000, 'the connection to report')
    c.abort()
    const url = seen[0]!.url
    expect(url.searchParams.getAll('token')).toEqual([token])
    expect(url.searchParams.getAll('lastEventId')).toEqual(['é 5'])
    expect(url.searchParams.get('channel')).toBe('ticker')
    expect(seen[0]!.headers.authorization).toBeUndefined()
  })

  it('honours custom parameter names and leaves the URL alone without token or id', async () => {
    route = (_req, res) => sse(res)
    const c = connect(`${base}/stream?x=1`, { token: 'jwt', tokenQueryParam: 'access_token', lastEventIdQueryParam: 'since', lastEventId: '9' })
    await until(() => c.log.length > 0, 1000, 'the connection to report')
    c.abort()
    expect(Object.fromEntries(seen[0]!.url.searchParams)).toEqual({ x: '1', access_token: 'jwt', since: '9' })

    const plain = connect(`${base}/plain?x=1`)
    await until(() => plain.log.length > 0, 1000, 'the plain connection to report')
    plain.abort()
    expect(seen[1]!.url.search).toBe('?x=1')
  })

  it('passes withCredentials to the constructor', async () => {
    const inits: unknown[] = []
    const Spy = class extends EventSource {
      constructor(url: string, init?: { withCredentials?: boolean }) {
        super(url, init)
        inits.push(init)
        created.push(this)
      }
    } as unknown as EventSourceConstructor
    route = (_req, res) => sse(res)
    connect(`${base}/a`, { withCredentials: true, platform: resolvePlatform({ EventSource: Spy }) }).abort()
    connect(`${base}/b`, { platform: resolvePlatform({ EventSource: Spy }) }).abort()
    expect(inits).toEqual([{ withCredentials: true }, { withCredentials: false }])
  })

  it('dispatches the listened types only, with their last event id, and reports activity for each', async () => {
    route = (_req, res) =>
      sse(res, ': heartbeat\n\ndata: m1\n\nevent: tick\nid: 7\ndata: t1\n\nevent: other\ndata: ignored\n\nid:\ndata: m2\n\n')
    const c = connect(`${base}/s`, { events: ['message', 'tick'] })
    const events = await c.waitForEvents(3)
    c.abort()
    expect(events).toEqual([
      { type: 'message', data: 'm1', lastEventId: undefined, hasOwnId: false },
      // Own id, or an id-only block before the event: this API cannot tell.
      { type: 'tick', data: 't1', lastEventId: '7', hasOwnId: undefined },
      // `id:` with no value: the resume point stands (see the next tests).
      { type: 'message', data: 'm2', lastEventId: '7', hasOwnId: false },
    ])
    // open + 3 events; the heartbeat is invisible through the native API.
    expect(c.log.map((e) => e[0])).toEqual(['open', 'activity', 'activity', 'event', 'activity', 'event', 'activity', 'event'])
  })

  it('events before the connection\'s first id report the id it resumed from, not undefined; an empty id keeps it', async () => {
    route = (_req, res) => sse(res, 'data: a\n\nid: 42\ndata: b\n\nid:\ndata: c\n\n')
    const c = connect(`${base}/s`, { lastEventId: '41' })
    const events = await c.waitForEvents(3)
    c.abort()
    expect(seen[0]!.url.searchParams.get('lastEventId')).toBe('41')
    expect(events).toEqual([
      // A fresh native EventSource says '' here: it knows nothing of the id the stream resumed from.
      { type: 'message', data: 'a', lastEventId: '41', hasOwnId: false },
      { type: 'message', data: 'b', lastEventId: '42', hasOwnId: undefined },
      { type: 'message', data: 'c', lastEventId: '42', hasOwnId: false },
    ])
  })

  it('with the eventsource package, an event without an id after one with an id keeps the resume point', async () => {
    // The package reports each event's own id ('' for none), not the stream's last one.
    route = (_req, res) => sse(res, 'id: 9\ndata: a\n\ndata: b\n\ndata: c\n\n')
    const c = connect(`${base}/s`)
    const events = await c.waitForEvents(3)
    c.abort()
    expect(events.map((e) => [e.data, e.lastEventId, e.hasOwnId])).toEqual([
      ['a', '9', undefined],
      ['b', '9', false],
      ['c', '9', false],
    ])
  })

  it('hasOwnId is unknown where the id changed and false where it did not, so a repeated id looks id-less (documented)', async () => {
    route = (_req, res) => sse(res, 'id: 5\ndata: a\n\nid: 6\ndata: b\n\nid: 6\ndata: c\n\nid: 7\ndata: d\n\n')
    const c = connect(`${base}/s`, { lastEventId: '5' })
    const events = await c.waitForEvents(4)
    c.abort()
    expect(events.map((e) => [e.data, e.lastEventId, e.hasOwnId])).toEqual([
      ['a', '5', false],
      ['b', '6', undefined],
      ['c', '6', false],
      ['d', '7', undefined],
    ])
  })

  it('delivers server events named open and error when asked for, without mistaking them for lifecycle events', async () => {
    route = (_req, res) => sse(res, 'event: error\ndata: e1\n\nevent: open\ndata: o1\n\ndata: last\n\n')
    const c = connect(`${base}/s`, { events: ['message', 'error', 'open'] })
    const events = await c.waitForEvents(3)
    c.abort()
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['error', 'e1'],
      ['open', 'o1'],
      ['message', 'last'],
    ])
    expect(c.log.filter((e) => e[0] === 'open' || e[0] === 'error')).toEqual([['open']])
  })

  it('closes the native object at the first error so it cannot reconnect with a stale token', async () => {
    // `retry: 20` would make the native object come back within 20 ms.
    route = (_req, res) => {
      sse(res, 'retry: 20\ndata: one\n\n')
      setTimeout(() => res.end(), 30)
    }
    const c = connect(`${base}/s`, { token: 'stale-soon' })
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(error.message).not.toContain('stale-soon')
    expect(c.events().map((e) => e.data)).toEqual(['one'])
    await sleep(300)
    expect(seen).toHaveLength(1)
    expect(created[0]!.readyState).toBe(2)
    expect(c.log.filter((e) => e[0] === 'error' || e[0] === 'close')).toHaveLength(1)
  })

  it('is silent after abort, and closes the native object', async () => {
    route = (_req, res) => {
      sse(res, 'data: 1\n\n')
      setTimeout(() => res.end(), 50)
    }
    const c = connect(`${base}/s`)
    await c.waitForEvents(1)
    c.abort()
    expect(created[0]!.readyState).toBe(2)
    await sleep(200)
    expect(c.log.map((e) => e[0])).toEqual(['open', 'activity', 'activity', 'event'])
  })

  it('reports a missing EventSource asynchronously as an error with a hint', async () => {
    const c = connect(`${base}/s`, { platform: { ...resolvePlatform(), EventSource: undefined } })
    // Not during connect(): the caller has not stored the abort function yet.
    expect(c.log).toEqual([])
    const error = await endedWithError(c)
    expect(error.message).toContain('platform.EventSource')
  })

  it('reports a constructor failure without the token', async () => {
    const Throwing = class {
      constructor(url: string) {
        throw new SyntaxError(`Invalid URL ${url}`)
      }
    } as unknown as EventSourceConstructor
    const c = connect(`${base}/s`, { token: 'tok-in-url', platform: resolvePlatform({ EventSource: Throwing }) })
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(error.message).not.toContain('tok-in-url')
    expect(error.cause).toBeUndefined()
  })
})

/* ---------------------------------------------------------------------------------------------
 * The status probe: an EventSource that hides statuses (like a browser), a scripted server
 * -------------------------------------------------------------------------------------------*/

describe('status probe after a browser-like EventSource failed before opening', () => {
  let server: ScriptedServer
  let base: string
  /** One answer per request, in order: the EventSource's request, then the probe. */
  let answers: Handler[] = []
  let seen: Array<{ rawUrl: string; headers: IncomingMessage['headers']; closed: Promise<void> }> = []
  /** Every call of the platform's fetch (the probe is the only fetch this transport makes). */
  let fetches: Array<{ url: string; init: RequestInit | undefined }> = []

  beforeAll(async () => {
    server = await startScriptedServer((req, res) => {
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()))
      seen.push({ rawUrl: req.url ?? '', headers: req.headers, closed })
      res.setHeader('connection', 'close')
      const answer = answers[seen.length - 1]
      if (answer) answer(req, res)
      else res.writeHead(500).end()
    })
    base = server.url
  })
  afterAll(() => server.close())
  afterEach(async () => {
    seen = []
    fetches = []
    answers = []
    await server.reset()
  })

  const status = (code: number, headers: Record<string, string> = {}): Handler => (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers })
    res.end(code === 204 ? undefined : '{"error":"x"}')
  }
  const sseOpen: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
  }
  /** `answer` for both requests: the EventSource's and the probe's. */
  const twice = (answer: Handler) => (answers = [answer, answer])

  const spyFetch: typeof fetch = (input, init) => {
    fetches.push({ url: String(input), init })
    return fetch(input, init)
  }
  const browserLike = (overrides: Partial<TransportConnectOptions> = {}) =>
    ({ platform: resolvePlatform({ EventSource: BrowserLikeEventSource, fetch: spyFetch }), ...overrides }) satisfies Partial<TransportConnectOptions>

  it('204 → onClose({ noContent: true }) after one probe to the same URL', async () => {
    twice(status(204))
    const token = 'tok.en-204'
    const c = connect(`${base}/stream?channel=a`, browserLike({ token, lastEventId: '17' }))
    expect(await c.ended).toEqual(['close', { noContent: true }])
    expect(seen).toHaveLength(2)
    // The exact URL the EventSource used: token and last event id parameters included.
    expect(seen[1]!.rawUrl).toBe(seen[0]!.rawUrl)
    expect(new URL(seen[1]!.rawUrl, base).searchParams.get('token')).toBe(token)
    expect(new URL(seen[1]!.rawUrl, base).searchParams.get('lastEventId')).toBe('17')
    expect(seen[1]!.headers.accept).toBe('text/event-stream')
    expect(fetches).toHaveLength(1)
    expect(fetches[0]!.init).toMatchObject({ cache: 'no-store', credentials: 'same-origin' })
    expect(new Headers(fetches[0]!.init?.headers).get('accept')).toBe('text/event-stream')
  })

  it.each([401, 403])('%i → unauthorized with the status, the token not in the message', async (code) => {
    twice(status(code))
    const token = 'secret-token-value'
    const error = await endedWithError(connect(`${base}/stream`, browserLike({ token })))
    expect([error.kind, error.status]).toEqual(['unauthorized', code])
    expect(error.message).not.toContain(token)
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(token)
    expect(seen).toHaveLength(2)
  })

  it('404 → http 404; 500 → http 500', async () => {
    twice(status(404))
    const e404 = await endedWithError(connect(`${base}/stream`, browserLike()))
    expect([e404.kind, e404.status]).toEqual(['http', 404])
    seen = []
    twice(status(500))
    const e500 = await endedWithError(connect(`${base}/stream`, browserLike()))
    expect([e500.kind, e500.status, e500.retryAfter]).toEqual(['http', 500, undefined])
    expect(e500.message).toContain('HTTP 500')
  })

  it('503 and 429 → http with retryAfter from Retry-After (seconds or an HTTP date)', async () => {
    twice(status(503, { 'retry-after': '7' }))
    const e503 = await endedWithError(connect(`${base}/stream`, browserLike()))
    expect([e503.kind, e503.status, e503.retryAfter]).toEqual(['http', 503, 7000])
    seen = []
    const now = Date.UTC(2030, 0, 1)
    twice(status(429, { 'retry-after': new Date(now + 90_000).toUTCString() }))
    const e429 = await endedWithError(
      connect(`${base}/stream`, { platform: resolvePlatform({ EventSource: BrowserLikeEventSource, fetch: spyFetch, now: () => now }) }),
    )
    expect([e429.kind, e429.status, e429.retryAfter]).toEqual(['http', 429, 90_000])
  })

  it('200 with another content type → content-type', async () => {
    twice((_req, res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html>')))
    const error = await endedWithError(connect(`${base}/stream`, browserLike()))
    expect(error.kind).toBe('content-type')
    expect(error.message).toContain('text/html')
  })

  it('the probe is aborted as soon as its headers arrive, and there is only one', async () => {
    let probeBodyWrites = 0
    answers = [
      status(500),
      (_req, res) => {
        res.writeHead(503, { 'content-type': 'text/plain' })
        // A body that would never end: the probe must not wait for it.
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : (res.write('x'), probeBodyWrites++)), 10)
        res.once('close', () => clearInterval(timer))
      },
    ]
    const c = connect(`${base}/stream`, browserLike())
    const error = await endedWithError(c)
    expect([error.kind, error.status]).toEqual(['http', 503])
    await expect(Promise.race([seen[1]!.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')])).resolves.toBe('closed')
    await sleep(200)
    expect(seen).toHaveLength(2)
    expect(probeBodyWrites).toBeLessThan(50)
  })

  it('the probe answering 200 text/event-stream (the failure was transient) keeps network, and is closed at once', async () => {
    answers = [status(500), sseOpen]
    const c = connect(`${base}/stream`, browserLike({ token: 'tok-transient' }))
    const error = await endedWithError(c)
    expect([error.kind, error.status]).toEqual(['network', undefined])
    expect(error.message).not.toContain('tok-transient')
    await expect(Promise.race([seen[1]!.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')])).resolves.toBe('closed')
    expect(c.log.filter((e) => e[0] === 'open' || e[0] === 'event')).toEqual([])
  })

  it('a probe that fails (connection reset) keeps network', async () => {
    answers = [status(500), (req) => req.socket.destroy()]
    const error = await endedWithError(connect(`${base}/stream`, browserLike()))
    expect([error.kind, error.status]).toEqual(['network', undefined])
    expect(seen).toHaveLength(2)
  })

  it('without fetch there is no probe and the error stays network', async () => {
    twice(status(503, { 'retry-after': '7' }))
    const platform = { ...resolvePlatform({ EventSource: BrowserLikeEventSource }), fetch: undefined }
    const error = await endedWithError(connect(`${base}/stream`, { platform }))
    expect([error.kind, error.status]).toEqual(['network', undefined])
    await sleep(100)
    expect(seen).toHaveLength(1)
  })

  it('withCredentials → the probe uses credentials: include', async () => {
    twice(status(204))
    const c = connect(`${base}/stream`, browserLike({ withCredentials: true }))
    await c.ended
    expect(fetches[0]!.init?.credentials).toBe('include')
  })

  it('aborting the connection while the probe is in flight aborts the probe and reports nothing', async () => {
    answers = [status(500), () => {}] // the probe never gets an answer
    const c = connect(`${base}/stream`, browserLike())
    await until(() => seen.length >= 2, 2000, 'the probe request')
    expect(seen).toHaveLength(2)
    c.abort()
    await expect(Promise.race([seen[1]!.closed.then(() => 'closed'), sleep(2000).then(() => 'still open')])).resolves.toBe('closed')
    await sleep(100)
    expect(c.log).toEqual([])
  })

  it('no probe when the EventSource never reached the server (it is still CONNECTING)', async () => {
    const c = connect(await refusedUrl('/stream'), browserLike())
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(fetches).toHaveLength(0)
  })

  it('no probe after the stream had opened', async () => {
    answers = [(_req, res) => (sseOpen(_req, res), res.end('data: a\n\n'))]
    const c = connect(`${base}/stream`, browserLike())
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(c.events().map((e) => e.data)).toEqual(['a'])
    expect(fetches).toHaveLength(0)
  })

  it('no probe where the npm package reports a status (code) without a Retry-After to read', async () => {
    twice(status(500))
    const error = await endedWithError(connect(`${base}/stream`, { platform: resolvePlatform({ EventSource: TrackedEventSource, fetch: spyFetch }) }))
    expect([error.kind, error.status]).toEqual(['http', 500])
    await sleep(100)
    expect(fetches).toHaveLength(0)
    expect(seen).toHaveLength(1)
  })

  for (const code of [429, 503]) {
    it(`a ${code} the npm package reports as a code keeps its Retry-After (read by one probe)`, async () => {
      twice(status(code, { 'retry-after': '7' }))
      const error = await endedWithError(connect(`${base}/stream`, { platform: resolvePlatform({ EventSource: TrackedEventSource, fetch: spyFetch }) }))
      expect([error.kind, error.status, error.retryAfter]).toEqual(['http', code, 7000])
      expect(fetches).toHaveLength(1)
      expect(seen).toHaveLength(2)
    })
  }
})

/* ---------------------------------------------------------------------------------------------
 * Against the reference server
 * -------------------------------------------------------------------------------------------*/

describe('eventsource transport, reference server', () => {
  const serverUrl = inject('serverUrl')
  const apiKey = inject('apiKey')
  let token: string
  let n = 0
  // A private `seq-*` channel per test: ids start at 1 and nobody else publishes there.
  const channel = () => `seq-es-${process.pid}-${Date.now()}-${++n}`
  const streamUrl = (query: Record<string, string>) => `${serverUrl}/stream?${new URLSearchParams(query)}`

  const publish = async (ch: string, data: string, type?: string) => {
    const res = await fetch(`${serverUrl}/__control/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: ch, data, type }) })
    expect(res.status).toBe(200)
  }

  beforeAll(async () => {
    token = await mintSseToken(serverUrl, apiKey)
  })

  it('authenticates with ?token= and receives events', async () => {
    const ch = channel()
    const c = connect(streamUrl({ channel: ch, fault: 'burst:3' }), { token, events: ['tick'] })
    const events = await c.waitForEvents(3)
    c.abort()
    expect(events.map((e) => [e.type, e.lastEventId])).toEqual([
      ['tick', '1'],
      ['tick', '2'],
      ['tick', '3'],
    ])
    expect((await connectionsOf(serverUrl, ch)).map((x) => x.authVia)).toEqual(['query'])
  })

  it('resumes through the lastEventId query parameter', async () => {
    const ch = channel()
    for (const data of ['a', 'b', 'c']) await publish(ch, data, 'tick')
    const c = connect(streamUrl({ channel: ch }), { token, lastEventId: '1', events: ['tick'] })
    const events = await c.waitForEvents(2)
    c.abort()
    expect(events.map((e) => [e.data, e.lastEventId])).toEqual([
      ['b', '2'],
      ['c', '3'],
    ])
    expect((await connectionsOf(serverUrl, ch)).map((x) => [x.lastEventId, x.lastEventIdVia])).toEqual([['1', 'query']])
  })

  it('uses the npm package error code when present: 401 → unauthorized', async () => {
    const error = await endedWithError(connect(streamUrl({ channel: channel() }), { token: 'not-a-jwt' }))
    expect([error.kind, error.status]).toEqual(['unauthorized', 401])
    expect(error.message).not.toContain('not-a-jwt')
  })

  it('uses the npm package error code when present: 503, 204, wrong content type', async () => {
    const e503 = await endedWithError(connect(streamUrl({ channel: channel(), fault: 'status:503' }), { token }))
    expect([e503.kind, e503.status]).toEqual(['http', 503])
    const c204 = connect(streamUrl({ channel: channel(), fault: 'status:204' }), { token })
    expect(await c204.ended).toEqual(['close', { noContent: true }])
    const eType = await endedWithError(connect(streamUrl({ channel: channel(), fault: 'content-type' }), { token }))
    expect(eType.kind).toBe('content-type')
  })

  it('when the error event carries no status (browsers), a probe request finds it: 401, 503 with Retry-After, 204, content type', async () => {
    const platform = resolvePlatform({ EventSource: BrowserLikeEventSource })
    const e401 = await endedWithError(connect(streamUrl({ channel: channel() }), { token: 'not-a-jwt', platform }))
    expect([e401.kind, e401.status]).toEqual(['unauthorized', 401])
    expect(e401.message).not.toContain('not-a-jwt')
    // Each failed attempt is two requests to the server: the EventSource's and the probe.
    const e503 = await endedWithError(connect(streamUrl({ channel: channel(), fault: 'status:503', retryAfter: '3' }), { token, platform }))
    expect([e503.kind, e503.status, e503.retryAfter]).toEqual(['http', 503, 3000])
    expect(await connect(streamUrl({ channel: channel(), fault: 'status:204' }), { token, platform }).ended).toEqual(['close', { noContent: true }])
    const eType = await endedWithError(connect(streamUrl({ channel: channel(), fault: 'content-type' }), { token, platform }))
    expect(eType.kind).toBe('content-type')
  })

  it('reports any failure as network when the error event carries no status and there is no fetch to probe with', async () => {
    const platform = { ...resolvePlatform({ EventSource: BrowserLikeEventSource }), fetch: undefined }
    const e401 = await endedWithError(connect(streamUrl({ channel: channel() }), { token: 'not-a-jwt', platform }))
    expect([e401.kind, e401.status]).toEqual(['network', undefined])
    // The only hint: the native object gave up (CLOSED) before opening.
    expect(e401.message).toContain('refused')
    expect(e401.message).not.toContain('not-a-jwt')
  })

  it('reports a dropped connection as network after the events before it, and does not reconnect', async () => {
    const ch = channel()
    for (const data of ['a', 'b', 'c']) await publish(ch, data, 'tick')
    // `retry=20`: the server tells the native object to come back after 20 ms.
    const c = connect(streamUrl({ channel: ch, fault: 'drop-after:2', retry: '20' }), { token, lastEventId: '0', events: ['tick'] })
    const error = await endedWithError(c)
    expect(error.kind).toBe('network')
    expect(error.message).toContain('lost')
    expect(c.events().map((e) => e.data)).toEqual(['a', 'b'])
    await sleep(250)
    expect(await connectionsOf(serverUrl, ch)).toHaveLength(1)
  })

  it('reads the malformed prelude the way the spec says', async () => {
    const c = connect(streamUrl({ channel: channel(), fault: 'malformed' }), { token, events: ['message', 'malformed'] })
    const events = await c.waitForEvents(2)
    c.abort()
    expect(events).toEqual([
      { type: 'malformed', data: '{"ok":1}', lastEventId: undefined, hasOwnId: false },
      { type: 'message', data: 'second\nline', lastEventId: undefined, hasOwnId: false },
    ])
  })
})
