/**
 * Reading what an SSE request carries (token, last event id) from either a WHATWG `Request`
 * (Next.js route handlers, Hono, workers) or a Node `IncomingMessage`, and redacting it for logs.
 * Nothing here throws on malformed input: a bad header or query string reads as "absent".
 */
import { redactUrl } from '../core/redact'

/** The parts of a Node `IncomingMessage` the helpers read (structural, so `@types/node` is not required). */
export interface NodeRequestLike {
  /** Request target, e.g. `/stream?token=...`. */
  url?: string | undefined
  headers: Record<string, string | string[] | undefined>
}

/** A WHATWG `Request` or a Node `IncomingMessage`. */
export type AnyRequest = Request | NodeRequestLike

function isWebRequest(request: AnyRequest): request is Request {
  return typeof (request as Request).headers?.get === 'function'
}

/** A header's value, `undefined` when absent; repeated Node headers take the first value. */
function readHeader(request: AnyRequest, name: string): string | undefined {
  if (isWebRequest(request)) return request.headers.get(name) ?? undefined
  const value = request.headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/**
 * The query string's parameters. Only the part after `?` is parsed: request targets such as `//x`
 * make `new URL(target, base)` throw or pick a different host, and `URLSearchParams` never throws
 * (stray `%` is kept, invalid UTF-8 becomes U+FFFD).
 */
export function readQuery(request: AnyRequest): URLSearchParams {
  const url = request.url ?? ''
  const start = url.indexOf('?')
  if (start < 0) return new URLSearchParams()
  const end = url.indexOf('#', start)
  return new URLSearchParams(url.slice(start + 1, end < 0 ? undefined : end))
}

/** Options of {@link readSseToken}. */
export interface ReadSseTokenOptions {
  /**
   * Accept a token in the query string. Set `false` when every client uses the fetch transport
   * (`Authorization: Bearer`): tokens in URLs end up in access logs, and with `false` a request that
   * carries one only there reads as having no token. Default `true` (the browser's `EventSource`
   * cannot send headers).
   */
  query?: boolean
  /** Query parameter carrying the token (the `EventSource` path, which cannot send headers). Default `'token'`. */
  queryParam?: string
}

/** Where {@link readSseTokenWithSource} found the token. */
export type SseTokenSource = 'header' | 'query'

/**
 * The token and where it came from: `Authorization: Bearer <token>` first (fetch clients), then the
 * query parameter (native `EventSource`) unless `query: false`. A non-Bearer `Authorization`
 * header is ignored.
 * The token is returned verbatim (only trimmed): judging its shape is the verifier's job, so a
 * garbled header yields "malformed" rather than "missing".
 */
export function readSseTokenWithSource(
  request: AnyRequest,
  options: ReadSseTokenOptions = {},
): { token: string; source: SseTokenSource } | undefined {
  const authorization = readHeader(request, 'authorization')
  if (authorization !== undefined) {
    const match = /^[ \t]*Bearer(?:[ \t]+(.*))?$/i.exec(authorization)
    const token = match?.[1]?.trim()
    if (token) return { token, source: 'header' }
  }
  if (options.query === false) return undefined
  const fromQuery = readQuery(request).get(options.queryParam ?? 'token')
  if (fromQuery) return { token: fromQuery, source: 'query' }
  return undefined
}

/**
 * The SSE token of a request: `Authorization: Bearer` or the `token` query parameter (accept both:
 * fetch-based clients send the header, the browser's `EventSource` can only use the URL). A
 * deployment whose clients all use fetch passes `{ query: false }` to refuse tokens in URLs.
 *
 * @example
 * const token = readSseToken(request)
 * if (!token) return unauthorizedResponse('missing token')
 */
export function readSseToken(request: AnyRequest, options: ReadSseTokenOptions = {}): string | undefined {
  return readSseTokenWithSource(request, options)?.token
}

/** Options of {@link readLastEventId}. */
export interface ReadLastEventIdOptions {
  /** Query parameter read when the header is absent (clients that resume through the URL). Default `'lastEventId'`. */
  queryParam?: string
}

/**
 * Header values reach JavaScript as one character per byte (latin1) in Node and undici, while
 * clients send UTF-8. Re-decode when the characters are bytes forming valid UTF-8; otherwise keep
 * the value as it is (it was already text, or it was never UTF-8).
 */
function decodeLatin1AsUtf8(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value
  const bytes = Uint8Array.from(value, (c) => c.charCodeAt(0))
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return value
  }
}

/** Where {@link readLastEventIdWithSource} found the id. */
export type LastEventIdSource = 'header' | 'query'

/** Like {@link readLastEventId}, also telling where the id came from. */
export function readLastEventIdWithSource(
  request: AnyRequest,
  options: ReadLastEventIdOptions = {},
): { lastEventId: string; source: LastEventIdSource } | undefined {
  const header = readHeader(request, 'last-event-id')
  if (header) return { lastEventId: decodeLatin1AsUtf8(header), source: 'header' }
  const fromQuery = readQuery(request).get(options.queryParam ?? 'lastEventId')
  if (fromQuery) return { lastEventId: fromQuery, source: 'query' }
  return undefined
}

/**
 * The id a reconnecting client resumes from: the `Last-Event-ID` header (sent by `EventSource`
 * and fetch clients), else the `lastEventId` query parameter. `undefined` when absent or empty.
 */
export function readLastEventId(request: AnyRequest, options: ReadLastEventIdOptions = {}): string | undefined {
  return readLastEventIdWithSource(request, options)?.lastEventId
}

/**
 * The URL with the values of credential query parameters replaced by `[redacted]`, for logs and
 * error messages: `token`, `access_token`, `jwt`, `api_key`, `signature` and the like, whole or as
 * the last word of the name (`x-amz-signature`), matched case-insensitively and after
 * percent-decoding (`t%6Fken=` is caught too), plus userinfo. The same policy the client uses
 * for its error messages. Works on absolute URLs and bare request targets (`/stream?token=...`);
 * everything else is kept byte for byte.
 *
 * @param params further names to redact (e.g. your own `tokenQueryParam`). Default none.
 * @example
 * redactToken('/stream?channel=a&token=eyJ...') // '/stream?channel=a&token=[redacted]'
 */
export function redactToken(url: string | URL, params: readonly string[] = []): string {
  return redactUrl(url, params)
}

/** An `Authorization` header value with its credentials replaced: `'Bearer eyJ...'` → `'Bearer [redacted]'`. */
export function redactAuthorization(header: string | undefined | null): string {
  if (!header) return ''
  const match = /^\s*(\S+)\s+\S/.exec(header)
  return match ? `${match[1]} [redacted]` : '[redacted]'
}

/** Options of {@link unauthorizedResponse}. */
export interface UnauthorizedResponseOptions {
  /** Machine-readable cause added to the body as `reason` (e.g. `'expired'`). Default: none. */
  reason?: string
  /** Extra response headers. Default: none. */
  headers?: Record<string, string>
}

/**
 * A 401 `Response` with a JSON body `{ error: 'unauthorized', message, reason? }` and
 * `WWW-Authenticate: Bearer` (RFC 6750), `Cache-Control: no-store`. Nothing from the request is
 * echoed, so the token cannot leak through the body. Pass a message you wrote, not request data.
 */
export function unauthorizedResponse(message = 'A valid stream token is required', options: UnauthorizedResponseOptions = {}): Response {
  const body: Record<string, string> = { error: 'unauthorized', message }
  if (options.reason !== undefined) body.reason = options.reason
  const challenge = options.reason === undefined || options.reason === 'missing' ? 'Bearer' : 'Bearer error="invalid_token"'
  return new Response(JSON.stringify(body), {
    status: 401,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'WWW-Authenticate': challenge,
      ...options.headers,
    },
  })
}
