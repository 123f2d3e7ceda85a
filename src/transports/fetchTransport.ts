/**
 * The `fetch` transport: one `fetch()` per connection attempt, token in `Authorization: Bearer`,
 * never in the URL. Works wherever `fetch` and `ReadableStream` exist (browsers, Node 18+,
 * workers, route handlers): it never touches `document` or `window`.
 *
 * Why not `fetchEventSource()` from `@microsoft/fetch-event-source` 2.0.1: it reads `document` and
 * `window` even with `openWhenHidden: true` (throws without a DOM), copies headers once (a retry
 * sends the stale token), accepts any status with the right content type, never reconnects after
 * a clean close yet retries errors every second forever, closes the stream when the tab is hidden,
 * and moves Last-Event-ID on unfinished blocks. We use only its byte reader (`getBytes`), drive its
 * line splitter through `createSseParser`, and own everything else. Retrying, backoff and token
 * lifetimes belong to the event stream, not here.
 */
import { getBytes } from '@microsoft/fetch-event-source/lib/esm/parse.js'
import { EventStreamError } from '../core/errors'
import { cancelBody } from '../core/http'
import type { Transport, TransportConnectOptions, TransportHandlers } from '../core/types'
import { scrub, showUrl } from '../core/redact'
import { createSseParser } from './sseParser'
import { classifyStreamResponse } from './streamResponse'

/**
 * Creates the fetch transport (`name: 'fetch'`). Each `connect` issues exactly one request and
 * reports its end exactly once, through `onError` or `onClose`; nothing is reported after abort.
 *
 * Request: `options.method` (`GET` unless the stream was given one) with `Accept:
 * text/event-stream`, `Content-Type: application/json` when the body is a value to send as JSON,
 * then `options.headers`, then
 * `Authorization: Bearer <token>` (when a token is given) and `Last-Event-ID` (when set), all
 * built anew on every call; `options.body` (a string as is, any other value as JSON), sent on every
 * call; `cache: 'no-store'`; `credentials: 'include'` when `withCredentials`,
 * `'same-origin'` otherwise.
 *
 * `Last-Event-ID` is sent as the UTF-8 bytes of the id, one header character per byte (the
 * "latin1" form), which is exactly what a browser's EventSource puts on the wire; `fetch` would
 * otherwise reject an id outside Latin-1. A Node server reads it back with
 * `Buffer.from(req.headers['last-event-id'], 'latin1').toString('utf8')`.
 *
 * Response (classified by `classifyStreamResponse`, shared with the eventsource transport's status
 * probe): 200 with `text/event-stream` → `onOpen`; 204 → `onClose({ noContent: true })`;
 * 401/403 → `kind: 'unauthorized'`; other statuses → `kind: 'http'` with `status` and
 * `retryAfter` (ms, from `Retry-After`); 200 with another type → `kind: 'content-type'`; a fetch
 * or read failure → `kind: 'network'`; a clean end of the body → `onClose({ noContent: false })`.
 * A header `fetch` cannot send (the token included) → `kind: 'invalid-request'`, nothing sent.
 */
export function createFetchTransport(): Transport {
  return { name: 'fetch', connect: connectFetch }
}

function connectFetch(options: TransportConnectOptions, handlers: TransportHandlers): () => void {
  const controller = new AbortController()
  // Set once the attempt is over (terminal report or abort); every handler call checks it so
  // nothing leaks out after the stream moved on, not even the rest of a chunk being parsed.
  let settled = false
  const live = () => !settled

  const settle = (report: () => void) => {
    if (settled) return
    settled = true
    report()
  }
  const fail = (error: EventStreamError) => {
    settle(() => handlers.onError(error))
    // Stops `getBytes` and releases the socket; its rejection is then silenced by `settled`.
    controller.abort()
  }

  const run = async () => {
    const fetchImpl = options.platform.fetch
    if (typeof fetchImpl !== 'function') {
      throw new EventStreamError('network', 'No fetch: pass platform.fetch')
    }
    const shownUrl = showUrl(options)
    // Throws `invalid-request` (terminal: the same headers would fail every attempt).
    const headers = buildHeaders(options)
    let response: Response
    try {
      response = await fetchImpl(options.url.toString(), {
        method: options.method ?? 'GET',
        headers,
        body: requestBody(options.body),
        cache: 'no-store',
        credentials: options.withCredentials ? 'include' : 'same-origin',
        signal: controller.signal,
      })
    } catch (cause) {
      throw new EventStreamError('network', `${shownUrl} failed: ${describe(cause, options)}`, { cause })
    }
    if (!live()) return void cancelBody(response)

    const refused = classifyStreamResponse({ status: response.status, headers: response.headers, at: shownUrl, now: options.platform.now(), token: options.token })
    if (refused) {
      cancelBody(response)
      return refused === 'no-content' ? settle(() => handlers.onClose({ noContent: true })) : fail(refused)
    }

    handlers.onOpen()
    if (!live()) return void cancelBody(response)

    const parser = createSseParser({
      maxLineLength: options.maxLineLength,
      maxEventSize: options.maxEventSize,
      lastEventId: options.lastEventId,
      onEvent: (event) => live() && handlers.onEvent(event),
      onLastEventId: (id) => live() && handlers.onLastEventId(id),
      onRetry: (ms) => live() && handlers.onRetry(ms),
      onError: (error) => fail(error),
    })
    if (response.body) {
      try {
        await getBytes(response.body, (chunk) => {
          if (!live()) return
          handlers.onActivity()
          if (live()) parser.push(chunk)
        })
      } catch (cause) {
        throw new EventStreamError('network', `${shownUrl} broke: ${describe(cause, options)}`, { cause })
      }
    }
    parser.end()
    settle(() => handlers.onClose({ noContent: false }))
  }

  run().catch((cause: unknown) => {
    // After abort (ours or the consumer's) the rejection is the abort itself: silence.
    if (settled) return
    fail(cause instanceof EventStreamError ? cause : new EventStreamError('network', `Stream failed: ${describe(cause, options)}`, { cause }))
  })

  return () => {
    settled = true
    controller.abort()
  }
}

function buildHeaders(options: TransportConnectOptions): Headers {
  // Built on every connect: the token and the last event id change between attempts.
  const headers = new Headers({ Accept: 'text/event-stream' })
  // Before the app's headers, so a Content-Type of its own wins.
  if (options.body !== undefined && typeof options.body !== 'string') headers.set('Content-Type', 'application/json')
  for (const [name, value] of Object.entries(options.headers)) setHeader(headers, name, value)
  if (options.token !== undefined) setHeader(headers, 'Authorization', `Bearer ${options.token}`)
  if (options.lastEventId) headers.set('Last-Event-ID', toLatin1Bytes(options.lastEventId))
  return headers
}

/** A string is sent as is; any other value as JSON. */
const requestBody = (body: unknown): string | undefined => (body === undefined || typeof body === 'string' ? body : JSON.stringify(body))

/**
 * `headers.set`, with a value `fetch` cannot send turned into a terminal `invalid-request` that
 * names the header and the reason. Never the value, nor the platform's message (it quotes the
 * value): it may be the token.
 */
function setHeader(headers: Headers, name: string, value: string): void {
  try {
    headers.set(name, value)
  } catch {
    const reason = !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
      ? 'is not a valid header name'
      : /[^\x00-\xff]/.test(value)
        ? 'has a value with a character outside Latin-1 (header values are bytes 0-255)'
        : /[\0\r\n]/.test(value)
          ? 'has a value with a line break or NUL'
          : 'has a value fetch rejects'
    throw new EventStreamError('invalid-request', `Stream request header ${JSON.stringify(name.slice(0, 100))} ${reason}`)
  }
}

/** UTF-8 bytes of `value`, one char per byte: what a browser EventSource sends for non-ASCII ids. */
function toLatin1Bytes(value: string): string {
  if (/^[\x00-\x7f]*$/.test(value)) return value
  let out = ''
  for (const byte of new TextEncoder().encode(value)) out += String.fromCharCode(byte)
  return out
}

function describe(cause: unknown, options: Pick<TransportConnectOptions, 'token'>): string {
  const err = cause as { message?: unknown; cause?: { message?: unknown; code?: unknown } } | null
  let text = typeof err?.message === 'string' ? err.message : String(cause)
  // undici hides the useful part ("ECONNREFUSED", "other side closed") in `cause`.
  const inner = err?.cause
  if (inner && typeof inner.message === 'string' && inner.message !== text) text += ` (${inner.message})`
  return scrub(text, options.token)
}
