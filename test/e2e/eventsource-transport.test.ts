// The eventsource transport on Chromium's own EventSource, one `connect` at a time, against a
// scripted server on 127.0.0.1 (cross-origin to the page, with CORS): what only a real browser
// shows. Its error event carries no status, so the status probe is what finds 204, 401, 404, 503
// and a wrong content type; and its `lastEventId` follows the spec (the stream's last id, carried
// over id-less events), which the `eventsource` npm package used by the Node suites does not.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startScriptedServer, type ScriptedServer } from '../helpers/scriptedServer'
import { bundleHarness, harnessOf, launchChromium, openHarness, serveHarness, type StaticSite } from './support'

type Answer = (req: IncomingMessage, res: ServerResponse) => void

let server: ScriptedServer
let site: StaticSite
let browser: Browser
let page: { context: BrowserContext; page: Page; console: string[] }
/** Answers per path, in order (the EventSource's request, then the probe); then 500. */
const scripts = new Map<string, Answer[]>()
const seen = new Map<string, Array<{ url: string; accept: string | undefined }>>()

beforeAll(async () => {
  server = await startScriptedServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const requests = seen.get(path) ?? []
    requests.push({ url: req.url ?? '', accept: req.headers.accept })
    seen.set(path, requests)
    // The page is on another 127.0.0.1 port: without these the browser hides the answer.
    res.setHeader('access-control-allow-origin', req.headers.origin ?? '*')
    res.setHeader('access-control-expose-headers', 'Retry-After')
    const answer = scripts.get(path)?.[requests.length - 1]
    if (answer) answer(req, res)
    else res.writeHead(500).end()
  })
  const [script, launched] = await Promise.all([bundleHarness(), launchChromium()])
  browser = launched
  site = await serveHarness(script)
  page = await openHarness(browser, site)
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  await server?.close()
})

const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    res.end(code === 204 ? undefined : '{"error":"x"}')
  }
const sse =
  (body: string, end = true): Answer =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    if (end) res.end(body)
    else res.write(body)
  }

const html: Answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>')

describe('eventsource transport in Chromium', () => {
  it('ids follow the browser: the resumed id until the first id, carried over id-less events; an empty id keeps the resume point', async () => {
    scripts.set('/ids', [sse('data: a\n\nid: 42\ndata: b\n\ndata: c\n\nid\ndata: d\n\ndata: e\n\n', false)])
    const run = await harnessOf(page.page).runEventSourceTransport({ url: `${server.url}/ids`, lastEventId: '41', events: 5 })
    expect(run.events.map((e) => [e.data, e.lastEventId, e.hasOwnId])).toEqual([
      // Chromium reports '' here: it never saw the id the connection resumed from.
      ['a', '41', false],
      // Its own id, or an id-only block before it: Chromium does not tell.
      ['b', '42', undefined],
      // Chromium reports the carried id '42' (the npm package would say '').
      ['c', '42', false],
      // Chromium reports '' after the empty `id`: the resume point stands (a replaying server
      // repeats what follows it, and the stream drops the repeats).
      ['d', '42', false],
      ['e', '42', false],
    ])
    expect(new URL(seen.get('/ids')![0]!.url, server.url).searchParams.get('lastEventId')).toBe('41')
    expect(run.probes).toBe(0)
  })

  const token = 'chromium-probe-token.sig'
  const cases: Array<{ name: string; answers: Answer[]; want: unknown }> = [
    { name: '204', answers: [status(204), status(204)], want: { close: { noContent: true } } },
    { name: '401', answers: [status(401), status(401)], want: { error: { kind: 'unauthorized', status: 401, retryAfter: undefined } } },
    { name: '403', answers: [status(403), status(403)], want: { error: { kind: 'unauthorized', status: 403, retryAfter: undefined } } },
    { name: '404', answers: [status(404), status(404)], want: { error: { kind: 'http', status: 404, retryAfter: undefined } } },
    { name: '500', answers: [status(500), status(500)], want: { error: { kind: 'http', status: 500, retryAfter: undefined } } },
    { name: '503', answers: [status(503, { 'retry-after': '4' }), status(503, { 'retry-after': '4' })], want: { error: { kind: 'http', status: 503, retryAfter: 4000 } } },
    { name: '429', answers: [status(429, { 'retry-after': '2' }), status(429, { 'retry-after': '2' })], want: { error: { kind: 'http', status: 429, retryAfter: 2000 } } },
    // Chromium rejects a 200 whose type is not text/event-stream.
    { name: 'html', answers: [html, html], want: { error: { kind: 'content-type', status: 200, retryAfter: undefined } } },
    // The failure was transient: the probe finds an event stream, so the cause stays unknown.
    { name: 'transient', answers: [status(500), sse('data: x\n\n', false)], want: { error: { kind: 'network', status: undefined, retryAfter: undefined } } },
  ]
  it.each(cases)('the status probe finds what Chromium hides: $name', async ({ name, answers, want }) => {
    const path = `/status-${name}`
    scripts.set(path, answers)
    const run = await harnessOf(page.page).runEventSourceTransport({ url: `${server.url}${path}?channel=c`, token, lastEventId: '9' })
    if (run.ended && 'error' in run.ended) {
      const { message, ...error } = run.ended.error
      expect({ error }).toEqual(want)
      expect(message).not.toContain(token)
    } else {
      expect(run.ended).toEqual(want)
    }
    expect(run.opened).toBe(false)
    // One EventSource, one probe, to the exact same URL (token and last event id included).
    expect([run.eventSources, run.probes]).toEqual([1, 1])
    const requests = seen.get(path)!
    expect(requests).toHaveLength(2)
    expect(requests[1]!.url).toBe(requests[0]!.url)
    expect(new URL(requests[1]!.url, server.url).searchParams.get('token')).toBe(token)
    expect(requests[1]!.accept).toBe('text/event-stream')
    expect(run.probeInits[0]).toMatchObject({ cache: 'no-store', credentials: 'same-origin', accept: 'text/event-stream' })
  })

  it('no probe when the connection never reached a server', async () => {
    const refused = await startScriptedServer(() => {})
    const url = `${refused.url}/nothing`
    await refused.close()
    const run = await harnessOf(page.page).runEventSourceTransport({ url })
    expect(run.ended).toMatchObject({ error: { kind: 'network' } })
    expect(run.probes).toBe(0)
  })

  it('no token in the page console', () => {
    // Chromium logs every failed load ("Failed to load resource: … 503"): lines to search exist.
    expect(page.console.length).toBeGreaterThan(5)
    expect(page.console.join('\n')).not.toContain(token)
  })
})
