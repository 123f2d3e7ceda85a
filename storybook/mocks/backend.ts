/**
 * An in-browser stand-in for the app's backend, served through Mock Service Worker so the stories
 * exercise the library's real transports (the browser's `EventSource` and `fetch()`), in the
 * Storybook UI, in the static build and in the Chromium story tests alike.
 *
 * Endpoints (paths relative to the page):
 * - `POST /api/sse-token` → `{ token, expiresIn }` (seconds), or 500 / 401 when told to fail.
 * - `GET /api/stream?channel=<name>` → `text/event-stream`. The token must come in
 *   `Authorization: Bearer` (fetch transport) or `?token=` (eventsource transport) and be one this
 *   backend minted and that has not expired; otherwise 401. Ids are sequential over one shared
 *   clock; `Last-Event-ID` (header) or `?lastEventId=` replays what the client missed. The stream
 *   ends when its token expires, as a real server must (the token was only checked at connect).
 *
 * Why `http.get` with a hand-made `ReadableStream` and not msw's `sse()`: `sse()` does match both
 * the native EventSource and our fetch transport (its predicate is `Accept: text/event-stream`,
 * which both send), but its resolver cannot answer anything other than a 200 stream (401, 204, 404,
 * a wrong content type), and it gives no hook for the client going away. Owning the stream's
 * `cancel()` is what lets the stories count *open* connections, which the sharing and rotation
 * demos are about. The body is transferred to the service worker as a stream, so both
 * cancellation (client closed) and `controller.error()` (a dropped connection) cross it.
 *
 * No token is ever logged, shown or put in an error by this module: stats carry counts only.
 */
import { http, HttpResponse, type HttpHandler } from 'msw'

/** What one stream request gets, after the token check. */
export type StreamBehaviour =
  /** A live stream: replay after the client's last event id, then every tick until the token expires. */
  | { kind: 'live' }
  /** Live, but the connection breaks (no clean end) after `after` events. */
  | { kind: 'drop'; after: number }
  /** Live, but the server ends the response cleanly after `after` events. */
  | { kind: 'end'; after: number }
  /** Answer with this status and no stream (204, 401, 404, 500, ...). */
  | { kind: 'status'; status: number }
  /** 200 with `Content-Type: text/html`. */
  | { kind: 'content-type' }
  /** Never answer (until the backend is disposed). */
  | { kind: 'hang' }

/** Behaviour of `POST /api/sse-token`. */
export type TokenEndpointBehaviour = 'ok' | 'down' | 'refuse'

export interface MockBackendOptions {
  /** Lifetime of minted tokens, seconds. Default `30`. */
  tokenLifetime: number
  /** `'ok'` mints tokens; `'down'` answers 500 (retried by the client); `'refuse'` answers 401 (terminal). Default `'ok'`. */
  tokenEndpoint: TokenEndpointBehaviour
  /** Milliseconds before the token endpoint answers. Default `40`. */
  tokenLatency: number
  /** Milliseconds between clock ticks. Default `250`. */
  eventInterval: number
  /** Events published per tick (bursts). Default `1`. */
  burstSize: number
  /** Behaviour of every stream request not covered by `streamPlan`. Default live. */
  stream: StreamBehaviour
  /** Behaviour of the n-th stream request (0-based) that passed the token check. Default none. */
  streamPlan: readonly StreamBehaviour[]
  /** `retry:` field (ms) sent first on every stream, when set. Default none. */
  retry: number | undefined
}

export const DEFAULT_BACKEND_OPTIONS: MockBackendOptions = {
  tokenLifetime: 30,
  tokenEndpoint: 'ok',
  tokenLatency: 40,
  eventInterval: 250,
  burstSize: 1,
  stream: { kind: 'live' },
  streamPlan: [],
  retry: undefined,
}

/** One event of the shared clock. */
export interface TickEvent {
  seq: number
  price: number
  /** Backend clock, ms since the epoch. */
  at: number
}

/** One stream request as the backend saw it. Never includes the token. */
export interface ConnectionRecord {
  /** 1-based number of the stream request. */
  n: number
  channel: string
  /** How the token came in; `'none'` when absent. */
  authVia: 'header' | 'query' | 'none'
  /** Final answer: 200 for streams. */
  status: number
  /** Resume point the client asked for, and how. */
  lastEventId: string | undefined
  lastEventIdVia: 'header' | 'query' | undefined
  /** Events written (replayed + live). */
  sent: number
  open: boolean
  endReason: 'client' | 'token-expired' | 'dropped' | 'ended' | 'disposed' | undefined
}

export interface BackendStats {
  tokenRequests: number
  tokensMinted: number
  streamRequests: number
  /** Stream requests answered 401. */
  unauthorized: number
  /** 200 streams opened so far. */
  connectionsOpened: number
  /** 200 streams currently open. */
  openConnections: number
  /** Id of the newest event on the clock. */
  lastId: number
  connections: readonly ConnectionRecord[]
}

export interface MockBackend {
  readonly handlers: HttpHandler[]
  /** Replaces options; takes effect for the next request (and the clock's next period). */
  configure(options: Partial<MockBackendOptions>): void
  readonly options: Readonly<MockBackendOptions>
  getStats(): BackendStats
  subscribe(listener: () => void): () => void
  /**
   * Every token minted so far. For leak checks only (the DOM and console must contain none of
   * them); never render or log the result.
   */
  mintedTokens(): readonly string[]
  /** Adds a token from elsewhere (the real reference server) to the ones `mintedTokens()` returns, for the leak checks. */
  guardToken(token: string): void
  /** Stops the clock, ends open streams, releases hanging requests. */
  dispose(): void
}

const RING_SIZE = 2000
const encoder = new TextEncoder()

interface LiveConnection {
  record: ConnectionRecord
  behaviour: StreamBehaviour
  controller: ReadableStreamDefaultController<Uint8Array>
  expiryTimer: ReturnType<typeof setTimeout> | undefined
}

export function createMockBackend(initial: Partial<MockBackendOptions> = {}): MockBackend {
  let options: MockBackendOptions = { ...DEFAULT_BACKEND_OPTIONS, ...initial }
  const tokens = new Map<string, number>() // token → expiry, ms since the epoch
  const foreignTokens = new Set<string>()
  const log: { id: number; data: string }[] = []
  let lastId = 0
  let price = 100
  let clock: ReturnType<typeof setInterval> | undefined
  let disposed = false
  const live = new Set<LiveConnection>()
  const hanging = new Set<() => void>()
  const listeners = new Set<() => void>()
  let stats: BackendStats = {
    tokenRequests: 0,
    tokensMinted: 0,
    streamRequests: 0,
    unauthorized: 0,
    connectionsOpened: 0,
    openConnections: 0,
    lastId: 0,
    connections: [],
  }
  // Stats change on every tick; coalesce notifications so a 1000 ev/s burst does not re-render
  // the stats panel 1000 times a second (that would distort the burst demo's render counts).
  let notifyQueued = false
  function update(patch: Partial<BackendStats>): void {
    stats = { ...stats, ...patch }
    if (notifyQueued) return
    notifyQueued = true
    setTimeout(() => {
      notifyQueued = false
      for (const listener of Array.from(listeners)) listener()
    }, 16)
  }
  /** Mutable records, oldest first; `stats.connections` holds copies so snapshots stay immutable. */
  const records: ConnectionRecord[] = []
  function touchConnections(): void {
    update({ connections: records.map((c) => ({ ...c })), openConnections: live.size })
  }

  function mint(): { token: string; expiresIn: number } {
    const bytes = crypto.getRandomValues(new Uint8Array(18))
    const b64 = (text: string) => btoa(text).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    const random = b64(String.fromCharCode(...bytes))
    const iat = Math.floor(Date.now() / 1000)
    const expiresIn = options.tokenLifetime
    // JWT-shaped so it looks like the real thing; the signature part is random, nothing verifies it.
    const token = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(JSON.stringify({ sub: 'storybook', iat, exp: iat + expiresIn }))}.${random}`
    tokens.set(token, Date.now() + expiresIn * 1000)
    return { token, expiresIn }
  }

  function publish(): void {
    for (let i = 0; i < options.burstSize; i++) {
      lastId++
      price = Math.max(1, price + (Math.random() - 0.5) * 2)
      const tick: TickEvent = { seq: lastId, price: Math.round(price * 100) / 100, at: Date.now() }
      const event = { id: lastId, data: JSON.stringify(tick) }
      log.push(event)
      if (log.length > RING_SIZE) log.shift()
      for (const connection of Array.from(live)) write(connection, event)
    }
    update({ lastId, connections: records.map((c) => ({ ...c })), openConnections: live.size })
  }

  function startClock(): void {
    if (clock !== undefined || disposed) return
    clock = setInterval(publish, Math.max(5, options.eventInterval))
  }

  function write(connection: LiveConnection, event: { id: number; data: string }): void {
    const { record, behaviour } = connection
    try {
      connection.controller.enqueue(encoder.encode(`id: ${event.id}\ndata: ${event.data}\n\n`))
    } catch {
      finish(connection, 'client')
      return
    }
    record.sent++
    if (behaviour.kind === 'drop' && record.sent >= behaviour.after) {
      // Breaks the body mid-stream: the client sees a network error, not a clean end.
      finish(connection, 'dropped', (c) => c.error(new Error('connection dropped by the mock backend')))
    } else if (behaviour.kind === 'end' && record.sent >= behaviour.after) {
      finish(connection, 'ended', (c) => c.close())
    }
  }

  function finish(
    connection: LiveConnection,
    reason: NonNullable<ConnectionRecord['endReason']>,
    end?: (controller: ReadableStreamDefaultController<Uint8Array>) => void,
  ): void {
    if (!live.delete(connection)) return
    if (connection.expiryTimer !== undefined) clearTimeout(connection.expiryTimer)
    connection.record.open = false
    connection.record.endReason = reason
    try {
      end?.(connection.controller)
    } catch {
      // Already closed or cancelled by the client.
    }
    touchConnections()
  }

  function readToken(request: Request, url: URL): { token: string | undefined; via: ConnectionRecord['authVia'] } {
    const header = request.headers.get('authorization')
    if (header?.startsWith('Bearer ')) return { token: header.slice(7), via: 'header' }
    const query = url.searchParams.get('token')
    if (query) return { token: query, via: 'query' }
    return { token: undefined, via: 'none' }
  }

  function readLastEventId(request: Request, url: URL): { id: string | undefined; via: ConnectionRecord['lastEventIdVia'] } {
    const header = request.headers.get('last-event-id')
    if (header) return { id: header, via: 'header' }
    const query = url.searchParams.get('lastEventId')
    if (query) return { id: query, via: 'query' }
    return { id: undefined, via: undefined }
  }

  let planIndex = 0

  const tokenHandler = http.post('*/api/sse-token', async () => {
    update({ tokenRequests: stats.tokenRequests + 1 })
    if (options.tokenLatency > 0) await new Promise((resolve) => setTimeout(resolve, options.tokenLatency))
    if (disposed) return HttpResponse.json({ error: 'gone' }, { status: 503 })
    if (options.tokenEndpoint === 'down') return HttpResponse.json({ error: 'token service unavailable' }, { status: 500 })
    if (options.tokenEndpoint === 'refuse') return HttpResponse.json({ error: 'not signed in' }, { status: 401 })
    const body = mint()
    update({ tokensMinted: stats.tokensMinted + 1 })
    return HttpResponse.json(body, { headers: { 'cache-control': 'no-store' } })
  })

  const streamHandler = http.get('*/api/stream', async ({ request }) => {
    const url = new URL(request.url)
    const { token, via } = readToken(request, url)
    const resume = readLastEventId(request, url)
    const record: ConnectionRecord = {
      n: stats.streamRequests + 1,
      channel: url.searchParams.get('channel') ?? 'default',
      authVia: via,
      status: 0,
      lastEventId: resume.id,
      lastEventIdVia: resume.via,
      sent: 0,
      open: false,
      endReason: undefined,
    }
    const answer = (status: number, response: Response) => {
      record.status = status
      records.push(record)
      if (records.length > 200) records.shift()
      touchConnections()
      return response
    }
    update({ streamRequests: record.n })

    const expiresAt = token === undefined ? undefined : tokens.get(token)
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      update({ unauthorized: stats.unauthorized + 1 })
      return answer(401, HttpResponse.json({ error: 'invalid or expired stream token' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } }))
    }

    const behaviour = options.streamPlan[planIndex] ?? options.stream
    planIndex++
    switch (behaviour.kind) {
      case 'status':
        return answer(behaviour.status, new HttpResponse(behaviour.status === 204 ? null : JSON.stringify({ error: 'mock fault' }), { status: behaviour.status }))
      case 'content-type':
        return answer(200, new HttpResponse('<!doctype html><p>Not an event stream</p>', { status: 200, headers: { 'content-type': 'text/html' } }))
      case 'hang':
        await new Promise<void>((resolve) => {
          hanging.add(resolve)
          if (disposed) resolve()
        })
        return answer(503, HttpResponse.json({ error: 'mock backend disposed' }, { status: 503 }))
      default:
        break
    }

    startClock()
    let connection!: LiveConnection
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        connection = { record, behaviour, controller, expiryTimer: undefined }
      },
      cancel() {
        // The client went away (EventSource.close(), fetch aborted): crosses the service worker.
        finish(connection, 'client')
      },
    })
    record.open = true
    live.add(connection)
    update({ connectionsOpened: stats.connectionsOpened + 1 })
    const response = answer(
      200,
      new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' } }),
    )

    // The token was checked once, at connect: a server must not keep streaming past its expiry.
    connection.expiryTimer = setTimeout(() => finish(connection, 'token-expired', (c) => c.close()), Math.max(0, expiresAt - Date.now()))
    if (options.retry !== undefined) connection.controller.enqueue(encoder.encode(`retry: ${options.retry}\n\n`))
    connection.controller.enqueue(encoder.encode(': connected\n\n'))
    const after = resume.id === undefined ? Number.NaN : Number(resume.id)
    if (Number.isFinite(after)) {
      for (const event of log) {
        if (event.id > after && live.has(connection)) write(connection, event)
      }
    }
    return response
  })

  return {
    handlers: [tokenHandler, streamHandler],
    configure(patch) {
      const restartClock = patch.eventInterval !== undefined && patch.eventInterval !== options.eventInterval
      options = { ...options, ...patch }
      if (restartClock && clock !== undefined) {
        clearInterval(clock)
        clock = undefined
        startClock()
      }
    },
    get options() {
      return options
    },
    getStats: () => stats,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    mintedTokens: () => [...tokens.keys(), ...foreignTokens],
    guardToken(token) {
      foreignTokens.add(token)
    },
    dispose() {
      disposed = true
      if (clock !== undefined) clearInterval(clock)
      clock = undefined
      for (const connection of Array.from(live)) finish(connection, 'disposed', (c) => c.close())
      for (const resolve of hanging) resolve()
      hanging.clear()
    },
  }
}
