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
  resolvePlatform,
  type EventSourceConstructor,
  type EventSourceLike,
  type EventStreamError,
  type RawEvent,
  type TransportConnectOptions,
} from 'use-event-stream/core'
import { createEventSourceTransport } from '../../src/transports/eventSourceTransport'
import { connectionsOf, mintSseToken } from '../helpers/referenceClient'
import { startScriptedServer, transportOptions, type Handler, type ScriptedServer } from '../helpers/scriptedServer'
import { sleep } from '../helpers/wait'

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
    for (let i = 0; i < 400 && events().length < n; i++) await sleep(5)
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
    for (let i = 0; i < 200 && c.log.length === 0; i++) await sleep(5)
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
    for (let i = 0; i < 200 && c.log.length === 0; i++) await sleep(5)
    c.abort()
    expect(Object.fromEntries(seen[0]!.url.searchParams)).toEqual({ x: '1', access_token: 'jwt', since: '9' })

    const plain = connect(`${base}/plain?x=1`)
    for (let i = 0; i < 200 && plain.log.length === 0; i++) await sleep(5)
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
      { type: 'message', data: 'm1', lastEventId: undefined },
      { type: 'tick', data: 't1', lastEventId: '7' },
      { type: 'message', data: 'm2', lastEventId: undefined },
    ])
    // open + 3 events; the heartbeat is invisible through the native API.
    expect(c.log.map((e) => e[0])).toEqual(['open', 'activity', 'activity', 'event', 'activity', 'event', 'activity', 'event'])
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

  it('reports any failure as network when the error event carries no status (browsers)', async () => {
    const platform = resolvePlatform({ EventSource: BrowserLikeEventSource })
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
      { type: 'malformed', data: '{"ok":1}', lastEventId: undefined },
      { type: 'message', data: 'second\nline', lastEventId: undefined },
    ])
  })
})
