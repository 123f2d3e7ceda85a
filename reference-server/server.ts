/**
 * The project's reference SSE backend (tests, demo, Storybook): `node:http`, HS256 stream tokens,
 * one event log per channel (in memory, or Redis with `redisUrl` so that several instances share
 * it) for ids, replay and live delivery, heartbeats, token-expiry close, fault injection, counters
 * and a redacted access log. It streams through `use-event-stream/server`'s own helpers.
 * Routes, parameters and faults are documented in ./README.md.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import {
  formatEvent,
  isSseComment,
  isSseIdOnly,
  mintSseToken,
  pipeSseToNode,
  redactToken,
  SSE_HEADERS,
  streamSse,
  verifySseToken,
  type SseMessage,
} from '../src/server/index'
// Which of header and query carried the token and the id: the reference server logs it.
import { readLastEventIdWithSource, readQuery, readSseTokenWithSource } from '../src/server/request'
import { ChannelReader, Channels, createReferenceServerState, isKnownChannel, type ReferenceServerState, type SendId } from './channels'
import {
  describeFault,
  MALFORMED_PRELUDE,
  parseStreamFault,
  parseTokenFault,
  type StreamFault,
  type TokenFault,
} from './faults'

const NO_ANSWER = Symbol('no answer')

/** `promise`'s value, or `NO_ANSWER` when it has not settled within `ms`. */
function answerWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof NO_ANSWER> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<typeof NO_ANSWER>((resolve) => {
    timer = setTimeout(resolve, ms, NO_ANSWER)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

export { createReferenceServerState, type ReferenceServerState } from './channels'
export { MALFORMED_PRELUDE, type StreamFault, type TokenFault } from './faults'

/** Options of {@link startReferenceServer}. */
export interface ReferenceServerOptions {
  /** Port; `0` picks a free one. Default `0`. */
  port?: number
  /** Interface to bind. Default `'127.0.0.1'`. */
  host?: string
  /** Lifetime of minted tokens in seconds (overridable per request with `?ttl=`). Default `30`. */
  tokenTtl?: number
  /** HS256 secret. Default: `state.secret` when `state` is given, else 32 random bytes. */
  secret?: string | Uint8Array
  /** Value of `x-api-key` accepted by `POST /auth/sse-token`. Default `'demo-api-key'`. */
  apiKey?: string
  /** Idle time before a `: heartbeat` comment, ms (per connection: `?heartbeat=`). `0` disables. Default `15000`. */
  heartbeatMs?: number
  /** Events kept per channel for replay (the logs' `maxLen`; approximate on Redis). Default `1000`. */
  ringSize?: number
  /**
   * Keep the channels' logs in Redis at this URL (one stream per channel, key `redisKeyPrefix +
   * channel`), so that several instances share ids, replay and live events. Default: in memory.
   */
  redisUrl?: string
  /** Prefix of the channels' Redis keys. Default `'reference:'`. */
  redisKeyPrefix?: string
  /**
   * Run the `ticker`, `news` and `fast` clocks. With several instances on one Redis, each one's
   * clocks append to the same channels: leave them on in one instance only. Default `true`.
   */
  clocks?: boolean
  /** Period of the `ticker` channel in ms (`news` ticks at twice this period). Default `1000`. */
  eventInterval?: number
  /** Period of the `fast` channel in ms. Default `100`. */
  fastInterval?: number
  /** Default `Retry-After` (seconds) of 429/503 faults (per request: `?retryAfter=`). Default `1`. */
  retryAfter?: number
  /** Access log sink: one line per request, token redacted. Default `console.log`. */
  log?: (line: string) => void
  /** Event logs (and secret) of a previous instance, to resume ids after a restart. Default: a fresh state. */
  state?: ReferenceServerState
  /** Serve the `/__control/*` test API. Default `true`. */
  control?: boolean
  /** Largest accepted request head in bytes; larger gets 431. Default `16384` (Node's default). */
  maxHeaderSize?: number
}

/** Route names used by counters. */
export type RouteName = 'token' | 'login' | 'logout' | 'stream' | 'control' | 'preflight' | 'index' | 'other' | 'invalid'
const ROUTES: readonly RouteName[] = ['token', 'login', 'logout', 'stream', 'control', 'preflight', 'index', 'other', 'invalid']

/** One `/stream` connection that got past auth and faults with a 200 event stream. */
export interface ConnectionInfo {
  /** Sequential connection number (since start). */
  id: number
  channel: string
  /** How the token travelled. */
  authVia: 'header' | 'query'
  /** Requested resume point, if any, and how it was sent. */
  lastEventId: string | undefined
  lastEventIdVia: 'header' | 'query' | undefined
  /** Events sent that were already in the log when the connection opened. */
  replayed: number
  /** Events written (replayed and live; comments not counted). */
  eventsSent: number
  /** Canonical fault text (`'drop-after:3'`), if any. */
  fault: string | undefined
  method: 'GET' | 'POST'
  /** POST: the event types the body asked for (`{ "types": [...] }`); none: every type. */
  types: string[] | undefined
  open: boolean
  /** Why it ended: client left, token expired, fault dropped it, server closed. */
  endReason: 'client' | 'token-expired' | 'dropped' | 'server-closed' | undefined
}

export interface Counters {
  /** Requests per route: total, and by final status once the status is known. */
  requests: Record<RouteName, { total: number; byStatus: Record<string, number> }>
  /** Requests in flight per route (for `stream`: open connections). */
  open: Record<RouteName, number>
  /** Events written over all connections. */
  eventsSent: number
  /** Tokens minted by `/auth/sse-token` (not by `mintToken()`). */
  tokenMints: number
  /** The last 200 stream connections, oldest first. */
  connections: ConnectionInfo[]
}

export interface ReferenceServer {
  /** `http://host:port` without a trailing slash. */
  url: string
  port: number
  host: string
  apiKey: string
  /** Pass to the next `startReferenceServer` to continue ids after a restart. */
  state: ReferenceServerState
  /** Stops clocks, drops every connection, frees the port. */
  close(): Promise<void>
  /** A snapshot (deep copy) of the counters. */
  counters(): Counters
  /** Zeroes counters and forgets queued faults (not events). */
  resetCounters(): void
  /** Mints a token with the server's secret: `ttl` seconds (negative = already expired), `iat` seconds since epoch. */
  mintToken(options?: { ttl?: number; sub?: string; iat?: number }): Promise<string>
  /**
   * Appends an event to a channel (every subscriber gets it) and returns its id at once. In-memory
   * log only (throws with `redisUrl`: use `append`). Throws for unknown channels.
   * `sendId: 'block'` sends the event without an `id:` line, then its id in an id-only block
   * (`id: N` and a blank line): a checkpoint after the event.
   * `sendId: false` sends it without an `id:` line (clients keep the previous id); it still has its
   * place in the log, so a replay after an earlier id includes it, in order. Default `true`.
   */
  publish(channel: string, event: { type?: string; data: unknown; sendId?: SendId }): string
  /** `publish` for either log: resolves to the id (`sendId: false` needs the in-memory log). */
  append(channel: string, event: { type?: string; data: unknown; sendId?: SendId }): Promise<string>
  /** Applies `fault` to the next `count` requests of `route` (optionally only those for `channel`). */
  setFault(options: { route: 'stream' | 'token'; fault: string; count?: number; channel?: string }): void
  /** The last id handed out on a channel (`0` before the first event). In-memory log only. */
  lastEventId(channel: string): number
}

interface QueuedFault<T> {
  fault: T
  remaining: number
  channel: string | undefined
}

interface RequestContext {
  route: RouteName
  status: number | undefined
  connection: ConnectionInfo | undefined
}

const JSON_TYPE = 'application/json; charset=utf-8'
const LOCAL_ORIGIN = /^https?:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?$/
const MAX_TIMER = 2_147_483_647
const MAX_BODY = 64 * 1024

function emptyCounters(): Counters {
  const requests = {} as Counters['requests']
  const open = {} as Counters['open']
  for (const route of ROUTES) {
    requests[route] = { total: 0, byStatus: {} }
    open[route] = 0
  }
  return { requests, open, eventsSent: 0, tokenMints: 0, connections: [] }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Reads a JSON body of at most 64 KiB; `undefined` for an empty body; an `Error` when invalid. */
function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const settle = (value: unknown) => {
      if (!settled) {
        settled = true
        resolve(value)
      }
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        settle(new Error('body larger than 64 KiB'))
        req.resume()
      } else chunks.push(chunk)
    })
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return settle(undefined)
      try {
        settle(JSON.parse(text))
      } catch {
        settle(new Error('body is not valid JSON'))
      }
    })
    req.on('error', () => settle(new Error('request body could not be read')))
    req.on('close', () => settle(new Error('request closed')))
  })
}

/** Parses an integer query parameter; `null` when present but invalid, `undefined` when absent. */
function intParam(query: URLSearchParams, name: string, min: number, max: number): number | undefined | null {
  const raw = query.get(name)
  if (raw === null) return undefined
  if (!/^-?\d{1,10}$/.test(raw)) return null
  const value = Number(raw)
  return value >= min && value <= max ? value : null
}

/**
 * Starts the reference server. Resolves once it listens.
 *
 * @example
 * const server = await startReferenceServer({ log: () => {} })
 * const { token } = await (await fetch(`${server.url}/auth/sse-token`, { method: 'POST', headers: { 'x-api-key': server.apiKey } })).json()
 */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const {
    port = 0,
    host = '127.0.0.1',
    tokenTtl = 30,
    apiKey = 'demo-api-key',
    heartbeatMs = 15_000,
    ringSize = 1000,
    eventInterval = 1000,
    fastInterval = 100,
    retryAfter = 1,
    log = (line: string) => console.log(line),
    control = true,
    clocks: runClocks = true,
    redisKeyPrefix = 'reference:',
    maxHeaderSize = 16_384,
  } = options
  const state = options.state ?? createReferenceServerState(options.secret)
  if (options.state && options.secret !== undefined) {
    state.secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret
  }
  const channels = new Channels(
    state,
    options.redisUrl === undefined ? { kind: 'memory', ringSize } : { kind: 'redis', url: options.redisUrl, keyPrefix: redisKeyPrefix, ringSize },
  )
  let counters = emptyCounters()
  let connectionSeq = 0
  let streamFaults: QueuedFault<StreamFault>[] = []
  let tokenFaults: QueuedFault<TokenFault>[] = []
  const shutdown = new AbortController()

  const safeLog = (line: string) => {
    try {
      log(line)
    } catch {
      // A broken log sink must not take the server down.
    }
  }

  /* ----------------------------------------------------------------- channel clocks */
  let price = 100
  const clocks: ReturnType<typeof setInterval>[] = []
  const startClock = (ms: number, tick: () => void) => {
    const timer = setInterval(tick, Math.max(1, ms))
    timer.unref()
    clocks.push(timer)
  }
  // A clock tick that cannot be stored (Redis away) is skipped: the clocks are a demo feed.
  const tick = (channel: string, type: string, data: string) => void channels.append(channel, type, data).catch(() => {})
  if (runClocks) {
    startClock(eventInterval, () => {
      // A bounded random walk: tests only rely on the shape, the demo wants movement.
      price = Math.min(1000, Math.max(1, Math.round((price + (Math.random() - 0.5) * 2) * 100) / 100))
      tick('ticker', 'tick', JSON.stringify({ seq: channels.nextSeq('ticker'), price, at: Date.now() }))
    })
    startClock(eventInterval * 2, () => {
      const seq = channels.nextSeq('news')
      tick('news', 'message', JSON.stringify({ seq, headline: `Headline #${seq}`, at: Date.now() }))
    })
    startClock(fastInterval, () => {
      tick('fast', 'tick', JSON.stringify({ seq: channels.nextSeq('fast'), at: Date.now() }))
    })
  }

  /** Checks a published event; returns its type and serialised data. */
  const checkEvent = (channel: string, event: { type?: string; data: unknown; sendId?: SendId }): { type: string; data: string } => {
    if (!isKnownChannel(channel)) throw new Error(`unknown channel: ${channel}`)
    if (event.sendId !== undefined && typeof event.sendId !== 'boolean' && event.sendId !== 'block') throw new Error("sendId must be a boolean or 'block'")
    const type = event.type ?? 'message'
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(type)) throw new Error('event type must be 1-64 characters of [A-Za-z0-9_.:-]')
    const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data)
    if (data === undefined) throw new Error('event data is required')
    return { type, data }
  }
  const publish = (channel: string, event: { type?: string; data: unknown; sendId?: SendId }): string => {
    const { type, data } = checkEvent(channel, event)
    return channels.publishSync(channel, type, data, event.sendId ?? true)
  }
  const append = async (channel: string, event: { type?: string; data: unknown; sendId?: SendId }): Promise<string> => {
    const { type, data } = checkEvent(channel, event)
    return channels.append(channel, type, data, event.sendId ?? true)
  }

  const takeFault = <T>(queue: QueuedFault<T>[], channel: string | undefined): T | undefined => {
    const entry = queue.find((q) => q.remaining > 0 && (q.channel === undefined || q.channel === channel))
    if (!entry) return undefined
    entry.remaining--
    return entry.fault
  }

  const setFault = (input: { route: 'stream' | 'token'; fault: string; count?: number; channel?: string }): void => {
    const count = input.count ?? 1
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error('count must be an integer in 1..100000')
    if (input.route === 'stream') {
      const parsed = parseStreamFault(input.fault)
      if (!parsed.ok) throw new Error(parsed.message)
      streamFaults.push({ fault: parsed.fault, remaining: count, channel: input.channel })
    } else if (input.route === 'token') {
      const parsed = parseTokenFault(input.fault)
      if (!parsed.ok) throw new Error(parsed.message)
      tokenFaults.push({ fault: parsed.fault, remaining: count, channel: undefined })
    } else {
      throw new Error("route must be 'stream' or 'token'")
    }
    streamFaults = streamFaults.filter((q) => q.remaining > 0)
    tokenFaults = tokenFaults.filter((q) => q.remaining > 0)
  }

  /* ----------------------------------------------------------------- response helpers */
  const writeHead = (res: ServerResponse, ctx: RequestContext, status: number, headers: Record<string, string | number> = {}) => {
    ctx.status = status
    const byStatus = counters.requests[ctx.route].byStatus
    byStatus[status] = (byStatus[status] ?? 0) + 1
    res.writeHead(status, headers)
  }

  const sendJson = (res: ServerResponse, ctx: RequestContext, status: number, body: unknown, headers: Record<string, string | number> = {}) => {
    if (res.headersSent) return void res.destroy()
    const text = JSON.stringify(body)
    writeHead(res, ctx, status, { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const badRequest = (res: ServerResponse, ctx: RequestContext, message: string) => sendJson(res, ctx, 400, { error: 'bad-request', message })

  const faultStatus = (res: ServerResponse, ctx: RequestContext, status: number, retryAfterSeconds: number) => {
    if (status === 204) {
      writeHead(res, ctx, 204, { 'Cache-Control': 'no-store' })
      return void res.end()
    }
    const headers: Record<string, string> = {}
    if (status === 429 || status === 503) headers['Retry-After'] = String(retryAfterSeconds)
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer error="invalid_token"'
    sendJson(res, ctx, status, { error: 'fault', status, message: `injected fault: status ${status}` }, headers)
  }

  const applyCors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin
    if (origin && LOCAL_ORIGIN.test(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin)
      res.setHeader('Access-Control-Allow-Credentials', 'true')
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After, WWW-Authenticate, Content-Type')
    }
    res.setHeader('Vary', 'Origin')
  }

  /* ----------------------------------------------------------------- routes */
  const handleLogin = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    req.resume()
    if (req.method !== 'POST') return sendJson(res, ctx, 405, { error: 'method-not-allowed', message: 'use POST' }, { Allow: 'POST' })
    const session = randomBytes(16).toString('hex')
    sendJson(res, ctx, 200, { ok: true, sub: 'demo-user' }, { 'Set-Cookie': `demo_session=${session}; Path=/; HttpOnly; SameSite=Lax` })
  }

  const handleLogout = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    req.resume()
    if (req.method !== 'POST') return sendJson(res, ctx, 405, { error: 'method-not-allowed', message: 'use POST' }, { Allow: 'POST' })
    sendJson(res, ctx, 200, { ok: true }, { 'Set-Cookie': 'demo_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0' })
  }

  const handleToken = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    req.resume()
    if (req.method !== 'POST') return sendJson(res, ctx, 405, { error: 'method-not-allowed', message: 'use POST' }, { Allow: 'POST' })
    const query = readQuery(req)
    const ttl = intParam(query, 'ttl', -86_400, 86_400)
    if (ttl === null) return badRequest(res, ctx, 'ttl must be an integer number of seconds in -86400..86400')
    const retry = intParam(query, 'retryAfter', 0, 86_400)
    if (retry === null) return badRequest(res, ctx, 'retryAfter must be an integer number of seconds in 0..86400')
    const sub = query.get('sub') ?? 'demo-user'
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(sub)) return badRequest(res, ctx, 'sub must be 1-64 characters of [A-Za-z0-9_.@-]')
    let fault: TokenFault | undefined
    const faultText = query.get('fault')
    if (faultText !== null) {
      const parsed = parseTokenFault(faultText)
      if (!parsed.ok) return badRequest(res, ctx, parsed.message)
      fault = parsed.fault
    }

    const session = readCookie(req, 'demo_session')
    const key = req.headers['x-api-key']
    if (!session && key !== apiKey) {
      return sendJson(res, ctx, 401, { error: 'unauthorized', message: 'a demo_session cookie (POST /auth/login) or a valid x-api-key header is required' })
    }

    fault ??= takeFault(tokenFaults, undefined)
    const closed = new AbortController()
    res.once('close', () => closed.abort())
    if (fault) {
      switch (fault.kind) {
        case 'status':
          return faultStatus(res, ctx, fault.status, retry ?? retryAfter)
        case 'timeout':
          // Holds the request open; the socket closes when the client aborts or the server shuts down.
          return
        case 'malformed-json':
          writeHead(res, ctx, 200, { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store' })
          return void res.end('{"token": ')
        case 'missing-token':
          return sendJson(res, ctx, 200, {})
        case 'delay':
          await sleep(fault.ms, closed.signal)
          if (closed.signal.aborted) return
          break
      }
    }
    const expiresIn = ttl ?? tokenTtl
    const token = await mintSseToken({ secret: state.secret, sub, ttlSeconds: expiresIn })
    counters.tokenMints++
    sendJson(res, ctx, 200, { token, expiresIn, tokenType: 'Bearer' })
  }

  const handleStream = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      return sendJson(res, ctx, 405, { error: 'method-not-allowed', message: 'use GET, or POST with a JSON body' }, { Allow: 'GET, POST' })
    }
    // POST: the body filters the stream, as APIs that subscribe with a query in the body do.
    let types: string[] | undefined
    if (req.method === 'POST') {
      const body = await readJsonBody(req)
      if (body instanceof Error) return badRequest(res, ctx, body.message)
      const filter = (body ?? {}) as { types?: unknown }
      if (typeof filter !== 'object' || Array.isArray(filter)) return badRequest(res, ctx, 'body must be a JSON object: { "types"?: string[] }')
      if (filter.types !== undefined && !(Array.isArray(filter.types) && filter.types.every((t) => typeof t === 'string'))) {
        return badRequest(res, ctx, 'types must be an array of event types')
      }
      types = filter.types as string[] | undefined
    }
    const query = readQuery(req)

    // 1. Validate everything the client controls, so nonsense gets a 400 rather than odd behaviour.
    const channel = query.get('channel') ?? 'ticker'
    const heartbeat = intParam(query, 'heartbeat', 0, 600_000)
    if (heartbeat === null) return badRequest(res, ctx, 'heartbeat must be an integer number of ms in 0..600000')
    const retry = intParam(query, 'retry', 0, 3_600_000)
    if (retry === null) return badRequest(res, ctx, 'retry must be an integer number of ms in 0..3600000')
    const retryAfterParam = intParam(query, 'retryAfter', 0, 86_400)
    if (retryAfterParam === null) return badRequest(res, ctx, 'retryAfter must be an integer number of seconds in 0..86400')
    let fault: StreamFault | undefined
    const faultText = query.get('fault')
    if (faultText !== null) {
      const parsed = parseStreamFault(faultText)
      if (!parsed.ok) return badRequest(res, ctx, parsed.message)
      fault = parsed.fault
    }
    const resume = readLastEventIdWithSource(req)
    // Memory log ids are counters, Redis ids `<ms>-<seq>`: either form is accepted on either log (a
    // form the log does not use replays from its oldest event).
    if (resume && !/^\d{1,20}(?:-\d{1,20})?$/.test(resume.lastEventId)) {
      return badRequest(res, ctx, `${resume.source === 'header' ? 'Last-Event-ID header' : 'lastEventId'} must be an event id: a non-negative integer, or <integer>-<integer>`)
    }

    // 2. Authenticate.
    const found = readSseTokenWithSource(req)
    const verified = await verifySseToken(found?.token, { secret: state.secret })
    if (!verified.ok) {
      const reason = verified.reason === 'invalid-claims' ? 'malformed' : verified.reason
      return sendJson(
        res,
        ctx,
        401,
        { error: 'unauthorized', reason, message: `stream token ${reason}` },
        { 'WWW-Authenticate': reason === 'missing' ? 'Bearer' : 'Bearer error="invalid_token"' },
      )
    }

    // 3. Route.
    if (!isKnownChannel(channel)) {
      return sendJson(res, ctx, 404, { error: 'not-found', message: 'unknown channel; use ticker, news, fast, seq or seq-<name>' })
    }

    // 4. Faults that replace the stream.
    fault ??= takeFault(streamFaults, channel)
    if (fault?.kind === 'status') return faultStatus(res, ctx, fault.status, retryAfterParam ?? retryAfter)
    if (fault?.kind === 'content-type') {
      writeHead(res, ctx, 200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
      return void res.end('this is not an event stream\n')
    }
    const sseHeaders = { ...SSE_HEADERS, Connection: 'keep-alive' }
    if (fault?.kind === 'stall') {
      writeHead(res, ctx, 200, sseHeaders)
      res.flushHeaders()
      return // nothing more, ever: the client's idle watchdog has to notice
    }

    // 5. A real stream.
    const connection: ConnectionInfo = {
      id: ++connectionSeq,
      channel,
      authVia: found!.source,
      lastEventId: resume?.lastEventId,
      lastEventIdVia: resume?.source,
      replayed: 0,
      eventsSent: 0,
      fault: fault ? describeFault(fault) : undefined,
      method: req.method,
      types,
      open: true,
      endReason: undefined,
    }
    ctx.connection = connection
    counters.connections.push(connection)
    if (counters.connections.length > 200) counters.connections.splice(0, counters.connections.length - 200)

    // A client with no resume point gets live events only: it starts at the newest id now.
    // node-redis holds commands while it reconnects: give up after 2 s rather than hang the request.
    const newest = await answerWithin(channels.newestId(channel), 2000).catch((): typeof NO_ANSWER => NO_ANSWER)
    if (newest === NO_ANSWER) return sendJson(res, ctx, 503, { error: 'unavailable', message: 'the event log is unavailable' }, { 'Retry-After': '1' })
    // An empty channel: from its zero id, so what is appended before the first pull (a burst) is sent.
    const subscription = new ChannelReader(channels.log(channel), resume?.lastEventId ?? newest ?? channels.zeroId, newest, (id) => channels.sendsId(channel, id))

    // Like Mercure: the stream ends when the token does, so a client has to come back with a new one.
    const exp = verified.payload.exp
    const expiry =
      typeof exp === 'number'
        ? setTimeout(() => {
            connection.endReason ??= 'token-expired'
            subscription.end('token expired')
          }, Math.min(MAX_TIMER, Math.max(0, exp * 1000 - Date.now())))
        : undefined
    const onServerClose = () => {
      connection.endReason ??= 'server-closed'
    }
    shutdown.signal.addEventListener('abort', onServerClose, { once: true })
    res.once('close', () => {
      if (expiry) clearTimeout(expiry)
      shutdown.signal.removeEventListener('abort', onServerClose)
      connection.open = false
      connection.endReason ??= 'client'
      subscription.return()
    })

    writeHead(res, ctx, 200, sseHeaders)
    res.flushHeaders()
    if (fault?.kind === 'malformed') res.write(MALFORMED_PRELUDE)
    if (fault?.kind === 'oversized') res.write(formatEvent({ event: 'oversized', data: 'x'.repeat(fault.bytes) }))
    if (fault?.kind === 'burst') {
      for (let i = 1; i <= fault.count; i++) {
        const seq = channels.nextSeq(channel)
        await channels.append(channel, channel === 'news' ? 'message' : 'tick', JSON.stringify({ seq, burst: i, at: Date.now() })).catch(() => {})
      }
    }

    const dropAfter = fault?.kind === 'drop-after' ? fault.count : undefined
    let dropped = false
    const source: AsyncIterableIterator<SseMessage> = {
      [Symbol.asyncIterator]() {
        return this
      },
      async next() {
        // The helper pulls ahead of the socket: the source ends here, and the socket is torn down
        // once the helper has flushed the N events (below).
        if (dropAfter !== undefined && connection.eventsSent >= dropAfter) {
          connection.endReason ??= 'dropped'
          dropped = true
          return { done: true, value: undefined }
        }
        let result = await subscription.next()
        const unwanted = (message: SseMessage) => !!types && !isSseComment(message) && !isSseIdOnly(message) && !types.includes(message.event ?? 'message')
        while (!result.done && unwanted(result.value)) result = await subscription.next()
        if (!result.done && !isSseComment(result.value) && !isSseIdOnly(result.value)) {
          connection.eventsSent++
          counters.eventsSent++
        }
        connection.replayed = subscription.replayed
        return result
      },
      return() {
        return subscription.return()
      },
    }

    const streamOptions = { heartbeatMs: heartbeat ?? heartbeatMs, ...(retry !== undefined ? { retry } : {}) }
    try {
      if (fault?.kind === 'drip') {
        const ms = fault.ms
        const stop = new AbortController()
        res.once('close', () => stop.abort())
        await streamSse(
          source,
          {
            async write(chunk) {
              const bytes = Buffer.from(chunk, 'utf8')
              for (let i = 0; i < bytes.length; i++) {
                if (res.destroyed) throw new Error('closed')
                await new Promise<void>((resolve, reject) => res.write(bytes.subarray(i, i + 1), (e) => (e ? reject(e) : resolve())))
                if (ms > 0) await sleep(ms, stop.signal)
                else await new Promise((resolve) => setImmediate(resolve))
              }
            },
          },
          { ...streamOptions, signal: stop.signal },
        )
        if (!res.destroyed && !res.writableEnded) res.end()
      } else {
        await pipeSseToNode(res, source, { ...streamOptions, end: dropAfter === undefined })
        if (dropped) res.socket?.destroy()
        else if (!res.destroyed && !res.writableEnded) res.end()
      }
    } catch {
      if (!res.destroyed) res.destroy()
    }
  }

  const handleControl = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, path: string) => {
    if (path === '/__control/counters' && req.method === 'GET') return sendJson(res, ctx, 200, snapshotCounters())
    if (req.method !== 'POST') return sendJson(res, ctx, 405, { error: 'method-not-allowed', message: 'use POST (GET for counters)' })
    const body = await readJsonBody(req)
    if (body instanceof Error) return badRequest(res, ctx, body.message)
    const input = (body ?? {}) as Record<string, unknown>
    if (typeof input !== 'object' || Array.isArray(input)) return badRequest(res, ctx, 'body must be a JSON object')
    try {
      switch (path) {
        case '/__control/reset':
          resetCounters()
          return sendJson(res, ctx, 200, { ok: true })
        case '/__control/fault': {
          if (input.clear === true) {
            streamFaults = []
            tokenFaults = []
            return sendJson(res, ctx, 200, { ok: true })
          }
          if (typeof input.fault !== 'string') return badRequest(res, ctx, 'fault must be a string, e.g. "drop-after:3"')
          if (input.channel !== undefined && typeof input.channel !== 'string') return badRequest(res, ctx, 'channel must be a string')
          if (input.count !== undefined && typeof input.count !== 'number') return badRequest(res, ctx, 'count must be a number')
          setFault({
            route: input.route as 'stream' | 'token',
            fault: input.fault,
            ...(typeof input.count === 'number' ? { count: input.count } : {}),
            ...(typeof input.channel === 'string' ? { channel: input.channel } : {}),
          })
          return sendJson(res, ctx, 200, { ok: true })
        }
        case '/__control/publish': {
          if (typeof input.channel !== 'string') return badRequest(res, ctx, 'channel must be a string')
          if (!isKnownChannel(input.channel)) return sendJson(res, ctx, 404, { error: 'not-found', message: 'unknown channel' })
          if (input.type !== undefined && typeof input.type !== 'string') return badRequest(res, ctx, 'type must be a string')
          if (input.sendId !== undefined && typeof input.sendId !== 'boolean' && input.sendId !== 'block') return badRequest(res, ctx, "sendId must be a boolean or 'block'")
          const id = await append(input.channel, {
            ...(typeof input.type === 'string' ? { type: input.type } : {}),
            data: input.data,
            ...(typeof input.sendId === 'boolean' || input.sendId === 'block' ? { sendId: input.sendId } : {}),
          })
          return sendJson(res, ctx, 200, { id })
        }
        default:
          return sendJson(res, ctx, 404, { error: 'not-found', message: 'unknown control route' })
      }
    } catch (error) {
      return badRequest(res, ctx, (error as Error).message)
    }
  }

  const handleIndex = (res: ServerResponse, ctx: RequestContext) =>
    sendJson(res, ctx, 200, {
      name: 'use-event-stream reference server',
      routes: ['POST /auth/login', 'POST /auth/logout', 'POST /auth/sse-token', 'GET /stream?channel=ticker|news|fast|seq|seq-<name>', 'POST /stream?channel=… with { "types"?: string[] }'],
      channels: ['ticker', 'news', 'fast', 'seq', 'seq-<name>'],
    })

  const route = (path: string): RouteName => {
    if (path === '/auth/sse-token') return 'token'
    if (path === '/stream') return 'stream'
    if (path === '/auth/login') return 'login'
    if (path === '/auth/logout') return 'logout'
    if (control && path.startsWith('/__control/')) return 'control'
    if (path === '/' || path === '/health') return 'index'
    return 'other'
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    const target = req.url ?? ''
    const queryAt = target.indexOf('?')
    const path = queryAt < 0 ? target : target.slice(0, queryAt)
    const valid = path.startsWith('/') && !path.startsWith('//')
    const ctx: RequestContext = { route: valid ? route(path) : 'invalid', status: undefined, connection: undefined }
    if (valid && req.method === 'OPTIONS') ctx.route = 'preflight'
    counters.requests[ctx.route].total++
    counters.open[ctx.route]++
    res.once('close', () => {
      // resetCounters() carries open counts over, so the current counters always hold this request.
      counters.open[ctx.route]--
      const events = ctx.connection ? ` events=${ctx.connection.eventsSent}` : ''
      const status = ctx.status ?? (res.headersSent ? res.statusCode : 0)
      // The one place request data is printed: the target with tokens redacted, never headers.
      safeLog(`${req.method ?? '-'} ${redactToken(target)} ${status || '-'} ${Math.round(performance.now() - started)}ms${events}`)
    })
    try {
      applyCors(req, res)
      if (!valid) return badRequest(res, ctx, 'request target must be a path starting with /')
      if (ctx.route === 'preflight') {
        writeHead(res, ctx, 204, {
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Last-Event-ID, x-api-key, Content-Type, Cache-Control, Accept',
          'Access-Control-Max-Age': '600',
        })
        return void res.end()
      }
      switch (ctx.route) {
        case 'token':
          return await handleToken(req, res, ctx)
        case 'stream':
          return await handleStream(req, res, ctx)
        case 'login':
          return handleLogin(req, res, ctx)
        case 'logout':
          return handleLogout(req, res, ctx)
        case 'control':
          return await handleControl(req, res, ctx, path)
        case 'index':
          return handleIndex(res, ctx)
        default:
          req.resume()
          return sendJson(res, ctx, 404, { error: 'not-found', message: 'no such route' })
      }
    } catch {
      // Never echo the error: it could quote request data.
      if (!res.headersSent) sendJson(res, ctx, 500, { error: 'internal', message: 'internal server error' })
      else res.destroy()
    }
  }

  /* ----------------------------------------------------------------- counters */
  const snapshotCounters = (): Counters => structuredClone(counters)
  const resetCounters = () => {
    const open = counters.open
    counters = emptyCounters()
    // Open connections are still open: keep them visible.
    counters.open = { ...open }
    streamFaults = []
    tokenFaults = []
  }

  /* ----------------------------------------------------------------- server */
  const server: Server = createServer({ maxHeaderSize }, (req, res) => void handle(req, res))
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // Node answers parse errors itself only when no listener exists; we answer with a JSON body and
  // count them. The raw packet is never logged: it may hold a token.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const code = error.code ?? ''
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) return void socket.destroy()
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    const body = JSON.stringify({
      error: status === 431 ? 'headers-too-large' : 'bad-request',
      message: status === 431 ? `request headers exceed ${maxHeaderSize} bytes` : 'malformed HTTP request',
    })
    counters.requests.invalid.total++
    counters.requests.invalid.byStatus[status] = (counters.requests.invalid.byStatus[status] ?? 0) + 1
    safeLog(`- - ${status} (${code || 'client error'})`)
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (error) => safeLog(`server error: ${(error as NodeJS.ErrnoException).code ?? 'unknown'}`))
  const address = server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  const urlHost = host.includes(':') ? `[${host}]` : host
  const url = `http://${urlHost}:${actualPort}`

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      shutdown.abort()
      for (const clock of clocks) clearInterval(clock)
      server.close(() => resolve())
      // Abruptly, like a killed process: clients must see a broken stream, not a clean end.
      server.closeAllConnections()
      for (const socket of sockets) socket.destroy()
    }).then(() => channels.close())
    return closing
  }

  return {
    url,
    port: actualPort,
    host,
    apiKey,
    state,
    close,
    counters: snapshotCounters,
    resetCounters,
    mintToken: (opts = {}) =>
      mintSseToken({
        secret: state.secret,
        sub: opts.sub ?? 'demo-user',
        ttlSeconds: opts.ttl ?? tokenTtl,
        ...(opts.iat !== undefined ? { iat: opts.iat } : {}),
      }),
    publish,
    append,
    setFault,
    lastEventId: (channel) => channels.lastId(channel),
  }
}
