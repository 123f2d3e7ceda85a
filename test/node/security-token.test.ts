// Where a token must never show up, checked against the reference server on 127.0.0.1: console
// output of a full run with failures, error messages (with stacks and causes), stream and token
// snapshots, request URLs of the fetch transport, and the server's access log; and, against a
// scripted server that quotes the token in every answer, errors and snapshots of both transports.
// Plus how the eventsource transport carries a token that needs URL encoding.
import type { IncomingMessage } from 'node:http'
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createEventStream, createTokenManager, fetchTokenFrom, type EventStream, type FetchToken, type TokenManager } from 'use-event-stream/core'
import { readSseToken } from 'use-event-stream/server'
import { useReferenceServer } from '../helpers/referenceServer'
import { startScriptedServer, type ScriptedServer } from '../helpers/scriptedServer'
import { until } from '../helpers/wait'

const serverLog: string[] = []
const server = useReferenceServer({ log: (line) => serverLog.push(line), heartbeatMs: 200, retryAfter: 0 })
const cleanups: Array<() => void> = []
let seq = 0

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  vi.restoreAllMocks()
  // Queued faults (e.g. the remaining token 401s) must not leak into the next test.
  server().resetCounters()
})

/** Everything an error can carry as text: message, stack, and its causes' (bounded depth). */
function errorText(error: unknown, depth = 0): string {
  if (depth > 5 || error === undefined || error === null) return ''
  if (!(error instanceof Error)) return String(error)
  return `${error.name}: ${error.message}\n${error.stack ?? ''}\n${errorText((error as { cause?: unknown }).cause, depth + 1)}`
}

/** A fetchToken that records every token it hands out, so the test knows what to look for. */
function recordingFetchToken(ttl: number, seen: string[]): FetchToken {
  const inner = fetchTokenFrom(`${server().url}/auth/sse-token?ttl=${ttl}`, { headers: { 'x-api-key': server().apiKey } })
  return async (context) => {
    const response = await inner(context)
    if (typeof response !== 'string') seen.push(response.token)
    return response
  }
}

function expectNoToken(haystack: string, tokens: readonly string[], where: string): void {
  for (const token of tokens) {
    const found = [token, encodeURIComponent(token), token.split('.')[2]!].some((needle) => haystack.includes(needle))
    expect({ where, found }).toEqual({ where, found: false })
  }
}

describe('a full run with failures leaves no token in console output, errors or snapshots', () => {
  it.each(['fetch', 'eventsource'] as const)('%s transport', async (transport) => {
    const consoleText: string[] = []
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleText.push(args.map((a) => (a instanceof Error ? errorText(a) : typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
      })
    }
    const tokens: string[] = []
    const errors: unknown[] = []
    const snapshots: string[] = []
    const channel = `seq-sec-${transport}-${++seq}`
    const manager: TokenManager = createTokenManager({ fetchToken: recordingFetchToken(2, tokens), retry: { initialDelay: 50, maxDelay: 200 } })
    cleanups.push(() => manager.dispose())
    const stream: EventStream<string> = createEventStream({
      url: `${server().url}/stream?channel=${channel}`,
      transport,
      tokens: manager,
      platform: { EventSource: EventSource as never },
      reconnect: { initialDelay: 50, maxDelay: 200 },
      idleTimeout: 1500,
      onError: (error) => errors.push(error),
    })
    cleanups.push(() => stream.close())
    const record = () => snapshots.push(JSON.stringify(stream.getSnapshot()), JSON.stringify(manager.getSnapshot()))
    stream.subscribe(record)
    manager.subscribe(record)
    const tokenErrors = new Set<unknown>()
    manager.subscribe(() => manager.getSnapshot().error && tokenErrors.add(manager.getSnapshot().error))
    const open = () => stream.getSnapshot().status === 'open'
    stream.connect()
    await until(open, 5000, 'open')

    // Each failure is waited for (its error seen, the stream open again) before the next one is
    // set up: a 401 (forced refresh), two 500s, a drop; then token endpoint failures; then a 401
    // from the token endpoint, which ends the stream.
    let before = errors.length
    server().setFault({ route: 'stream', fault: 'status:401', count: 1, channel })
    stream.reconnect()
    await until(() => errors.length >= before + 1 && open(), 5000, 'recovery from the 401')
    before = errors.length
    server().setFault({ route: 'stream', fault: 'status:500', count: 2, channel })
    server().setFault({ route: 'stream', fault: 'drop-after:1', count: 1, channel })
    stream.reconnect()
    await until(() => errors.length >= before + 2 && open(), 5000, 'recovery from the 500s')
    server().publish(channel, { data: 'x' })
    await until(() => errors.length >= before + 3 && open(), 5000, 'recovery from the drop')
    const minted = tokens.length
    const tokenErrorsBefore = tokenErrors.size
    server().setFault({ route: 'token', fault: 'status:500', count: 2 })
    // The 2 s token is refreshed 1 s before it expires, through the two 500s.
    await until(() => tokenErrors.size >= tokenErrorsBefore + 2 && tokens.length > minted, 6000, 'a token refreshed through the 500s')
    server().setFault({ route: 'token', fault: 'status:401', count: 50 })
    await until(() => stream.getSnapshot().status === 'failed', 6000, 'failed')
    record()

    expect(tokens.length).toBeGreaterThanOrEqual(2)
    expect(errors.length).toBeGreaterThanOrEqual(3)
    expect(stream.getSnapshot().error?.kind).toBe('unauthorized')
    const allErrors = [...errors, stream.getSnapshot().error, manager.getSnapshot().error].map((e) => errorText(e)).join('\n')
    expectNoToken(consoleText.join('\n'), tokens, 'console')
    expectNoToken(allErrors, tokens, 'errors')
    expectNoToken(snapshots.join('\n'), tokens, 'snapshots')
    expectNoToken(serverLog.join('\n'), tokens, 'server log')
  }, 20_000)

  it('the expiresIn-in-milliseconds dev warning does not quote the token', async () => {
    const warnings: string[] = []
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args.join(' ')))
    const token = await server().mintToken({ ttl: 30 })
    const manager = createTokenManager({ fetchToken: async () => ({ token, expiresIn: 30_000 }) })
    cleanups.push(() => manager.dispose())
    await manager.getToken()
    expect(warnings.join('\n')).toMatch(/milliseconds/)
    expectNoToken(warnings.join('\n'), [token], 'warning')
  })
})

describe('the fetch transport keeps the token out of the URL', () => {
  it('every request URL is token-free, the token travels as Authorization: Bearer, the server saw only headers', async () => {
    const tokens: string[] = []
    const requests: Array<{ url: string; authorization: string | null }> = []
    const channel = `seq-sec-url-${++seq}`
    const manager = createTokenManager({ fetchToken: recordingFetchToken(2, tokens) })
    cleanups.push(() => manager.dispose())
    const stream = createEventStream({
      url: `${server().url}/stream?channel=${channel}`,
      tokens: manager, // 'auto' picks fetch when a token manager is given
      reconnect: { initialDelay: 50, maxDelay: 200 },
      platform: {
        fetch: (input, init) => {
          requests.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') })
          return fetch(input, init)
        },
      },
    })
    cleanups.push(() => stream.close())
    stream.connect()
    await until(() => stream.getSnapshot().status === 'open', 5000, 'open')
    expect(stream.getSnapshot().transport).toBe('fetch')
    const onChannel = () => server().counters().connections.filter((c) => c.channel === channel)
    // At least one rotation: a second token, and a second connection made with it.
    await until(() => tokens.length >= 2 && requests.length >= 2 && onChannel().length >= 2, 6000, 'a rotation')
    expect(tokens.length).toBeGreaterThanOrEqual(2)
    expect(requests.length).toBeGreaterThanOrEqual(2)
    for (const request of requests) {
      expectNoToken(request.url, tokens, 'request url')
      expect(new URL(request.url).searchParams.has('token')).toBe(false)
      expect(tokens.map((t) => `Bearer ${t}`)).toContain(request.authorization)
    }
    const seen = onChannel()
    expect(seen.length).toBeGreaterThanOrEqual(2)
    expect(new Set(seen.map((c) => c.authVia))).toEqual(new Set(['header']))
  })
})

describe('the eventsource transport URL-encodes the token', () => {
  let local: ScriptedServer
  let base: string
  const seenRequests: IncomingMessage[] = []
  beforeAll(async () => {
    local = await startScriptedServer((req, res) => {
      seenRequests.push(req)
      if (req.url?.includes('fail')) {
        res.writeHead(500, { 'content-type': 'application/json' })
        return void res.end('{}')
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('id: 1\ndata: hello\n\n')
    })
    base = local.url
  })
  afterAll(() => local.close())

  const awkward = 'ab+c/d=e==&channel=evil#frag%20'

  it('a token with + / = & # % arrives intact; only channel, token and lastEventId are in the URL', async () => {
    const manager = createTokenManager({ fetchToken: async () => ({ token: awkward, expiresIn: 60 }) })
    cleanups.push(() => manager.dispose())
    const received: string[] = []
    const stream = createEventStream({
      url: `${base}/stream?channel=a`,
      transport: 'eventsource',
      tokens: manager,
      platform: { EventSource: EventSource as never },
      onEvent: (e) => received.push(e.data),
    })
    cleanups.push(() => stream.close())
    stream.connect()
    await until(() => received.length === 1, 5000, 'event')
    const req = seenRequests.at(-1)!
    const target = req.url!
    expect(target).toContain(`token=${encodeURIComponent(awkward)}`)
    expect(readSseToken(req)).toBe(awkward)
    const params = new URL(target, base).searchParams
    expect(params.getAll('channel')).toEqual(['a'])
    expect(Array.from(new Set(params.keys())).sort()).toEqual(['channel', 'token'])
    // Nothing else secret travels: no Authorization header, no cookie (withCredentials false).
    expect(req.headers.authorization).toBeUndefined()
    expect(req.headers.cookie).toBeUndefined()
  })

  it('a failing connection reports an error whose text has the token neither raw nor encoded', async () => {
    const manager = createTokenManager({ fetchToken: async () => ({ token: awkward, expiresIn: 60 }) })
    cleanups.push(() => manager.dispose())
    const errors: unknown[] = []
    const stream = createEventStream({
      url: `${base}/fail?x=1`,
      transport: 'eventsource',
      tokens: manager,
      platform: { EventSource: EventSource as never },
      reconnect: { maxAttempts: 1, initialDelay: 10 },
      onError: (e) => errors.push(e),
    })
    cleanups.push(() => stream.close())
    stream.connect()
    await until(() => stream.getSnapshot().status === 'failed', 5000, 'failed')
    const text = [...errors, stream.getSnapshot().error].map((e) => errorText(e)).join('\n') + JSON.stringify(stream.getSnapshot())
    expect(errors.length).toBeGreaterThanOrEqual(1)
    for (const needle of [awkward, encodeURIComponent(awkward), 'ab+c/d', 'ab%2Bc']) expect(text).not.toContain(needle)
  })
})

describe('a stream server that echoes the token gets it into no error and no snapshot', () => {
  // The transports build every URL and message the stream shows (the core only relays them), so
  // this is checked through them: each answer below quotes the token it received.
  let echo: ScriptedServer
  beforeAll(async () => {
    echo = await startScriptedServer((req, res) => {
      const url = new URL(req.url!, 'http://127.0.0.1')
      const token = url.searchParams.get('token') ?? req.headers.authorization?.replace(/^Bearer /, '') ?? 'none'
      const quoted = `token ${token} (${encodeURIComponent(token)}) at ${req.url}`
      switch (url.pathname) {
        case '/unauthorized':
          res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': `Bearer error="invalid_token", token="${encodeURIComponent(token)}"` })
          return void res.end(`refused ${quoted}`)
        case '/server-error':
          res.writeHead(500, { 'content-type': 'text/plain' })
          return void res.end(`crashed on ${quoted}`)
        case '/not-a-stream':
          res.writeHead(200, { 'content-type': 'text/html' })
          return void res.end(`<p>${quoted}</p>`)
        case '/token-in-content-type':
          res.writeHead(200, { 'content-type': `text/html; t=${token}` })
          return void res.end(`<p>${quoted}</p>`)
        default:
          // A stream that echoes the token in a comment (event data is the app's own to show),
          // then dies mid-connection.
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          res.write(`: ${quoted}\ndata: hello\n\n`)
          setTimeout(() => res.destroy(), 20)
      }
    })
  })
  afterAll(() => echo.close())

  // A JWT-shaped token with characters the eventsource transport must percent-encode.
  const secret = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2VjcmV0+/c2ln=='

  /** Runs a stream against `path` until it fails; returns the text of its errors and snapshots. */
  async function failingRun(transport: 'fetch' | 'eventsource', path: string) {
    const manager = createTokenManager({ fetchToken: async () => ({ token: secret, expiresIn: 60 }) })
    cleanups.push(() => manager.dispose())
    const errors: unknown[] = []
    const snapshots: string[] = []
    const stream = createEventStream({
      url: `${echo.url}${path}?channel=a`,
      transport,
      tokens: manager,
      platform: { EventSource: EventSource as never },
      reconnect: { maxAttempts: 1, initialDelay: 10, maxDelay: 10 },
      onError: (error) => errors.push(error),
    })
    cleanups.push(() => stream.close())
    stream.subscribe(() => snapshots.push(JSON.stringify(stream.getSnapshot()), JSON.stringify(manager.getSnapshot())))
    stream.connect()
    await until(() => stream.getSnapshot().status === 'failed', 5000, `${transport} ${path}: failed`)
    // Guard against a vacuous pass: the stream did report errors.
    expect({ path, errors: errors.length > 0 }).toEqual({ path, errors: true })
    return { errors: [...errors, stream.getSnapshot().error].map((e) => errorText(e)).join('\n'), snapshots: snapshots.join('\n') }
  }

  const answers = ['/unauthorized', '/server-error', '/not-a-stream', '/drop']

  it.each(['fetch', 'eventsource'] as const)('%s transport: 401, 500, a wrong content type and a dropped stream', async (transport) => {
    for (const path of transport === 'eventsource' ? [...answers, '/token-in-content-type'] : answers) {
      const run = await failingRun(transport, path)
      expectNoToken(run.errors, [secret], `${transport} ${path}: errors`)
      expectNoToken(run.snapshots, [secret], `${transport} ${path}: snapshots`)
    }
  })

  // The one server-chosen text an error quotes: a non-event-stream Content-Type (up to 100 characters).
  it('fetch transport: a Content-Type that quotes the token is not quoted with it', async () => {
    const run = await failingRun('fetch', '/token-in-content-type')
    expectNoToken(run.snapshots, [secret], 'fetch /token-in-content-type: snapshots')
    expectNoToken(run.errors, [secret], 'fetch /token-in-content-type: errors')
  })
})

describe("the reference server's access log", () => {
  it('shows query tokens as [redacted] and never the token', async () => {
    const token = await server().mintToken({ ttl: 30 })
    const channel = `seq-sec-log-${++seq}`
    const before = serverLog.length
    for (const target of [`/stream?channel=${channel}&token=${token}&fault=status:500`, `/stream?access_token=${token}&channel=nope`, `/stream?TOKEN=${token}&lastEventId=x`]) {
      const response = await fetch(`${server().url}${target}`)
      await response.body?.cancel()
    }
    await until(() => serverLog.length >= before + 3, 2000, 'log lines')
    const lines = serverLog.slice(before).join('\n')
    expect(lines).toContain('token=[redacted]')
    expectNoToken(lines, [token], 'server log')
  })
})
