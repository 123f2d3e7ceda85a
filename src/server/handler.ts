/**
 * One handler for an SSE endpoint behind stream tokens: read the token, verify it, answer 401 or
 * stream, and end the stream when the token expires. The same options give a fetch handler
 * (Next.js route handlers, Hono, Bun, Deno, workers) and a Node handler (`node:http`, Express,
 * Fastify's `reply.raw`).
 */
import type { EventLog } from './eventLog'
import type { SseMessage } from './format'
import { verifySseToken, type SseTokenPayload, type SseTokenSecret } from './jwt'
import { readLastEventId, readSseToken, unauthorizedResponse, type NodeRequestLike } from './request'
import { createSseResponse, pipeSseToNode, type NodeResponseLike, type SseSourceContext, type StreamSseOptions } from './stream'

/** What a handler's source function receives: the stream context and the verified claims. */
export interface SseHandlerContext extends SseSourceContext {
  /** The claims of the verified token (`sub`, `exp`, your own `claims`). */
  payload: SseTokenPayload
}

/** Options of {@link createSseHandler}. */
export interface CreateSseHandlerOptions extends Omit<StreamSseOptions, 'signal' | 'lastEventId'> {
  /** HS256 secret the tokens are verified with. Required; a missing or empty one throws a `TypeError`. */
  secret: SseTokenSecret
  /**
   * What to stream: an async iterable, or a function of the context (with the token's claims, to
   * pick or filter a user's events) building one per connection. Give `source` or `log`.
   */
  source?: AsyncIterable<SseMessage> | ((context: SseHandlerContext) => AsyncIterable<SseMessage>)
  /** An event log to stream, resumed after the client's `Last-Event-ID`. Give `source` or `log`. */
  log?: EventLog
  /** With `log`: newest entries a client with no usable id gets first. Default `0`. */
  initial?: number
  /** With `log`: announce trimmed entries with a `stream-gap` event. Default `true`. */
  gapEvent?: boolean
  /**
   * End each stream when its token expires, so the client has to come back with a fresh one
   * (revocation takes effect within one token lifetime). Default `true`.
   */
  closeAtExpiry?: boolean
  /** Required `aud`. Default `'sse'`. */
  audience?: string
  /** Expected `iss`. Default: not checked. */
  issuer?: string
  /** Accepted clock skew in seconds. Default `0`. */
  clockToleranceSeconds?: number
  /** Accept `?token=` (the browser's `EventSource` cannot send headers). Default `true`. */
  query?: boolean
  /** Query parameter carrying the token. Default `'token'`. */
  queryParam?: string
  /** Extra or overriding response headers on the stream. Default: none. */
  headers?: Record<string, string>
}

/** The Node response a handler writes: a `ServerResponse` fits. */
export type SseHandlerNodeResponse = Omit<NodeResponseLike, 'end'> & { end(chunk?: string): unknown }

/** The two forms of one handler. */
export interface SseHandler {
  /** For fetch-style servers: `(request) => Response` (a 401 or the stream). */
  fetch(request: Request): Promise<Response>
  /**
   * For Node: writes a 401 or the stream into `res`; resolves when the response is done. Errors
   * of the source go to `onError` and break the stream off; it never rejects.
   */
  node(req: NodeRequestLike, res: SseHandlerNodeResponse): Promise<void>
}

/** Longest delay `setTimeout` honours; a later expiry re-arms. */
const MAX_TIMER = 2 ** 31 - 1

/**
 * A handler for an SSE endpoint: token from `Authorization: Bearer` or `?token=`, verified with
 * `secret` (401 with a JSON reason otherwise, nothing from the request echoed), then `source` or
 * `log` streamed with heartbeats and `writeTimeout`, ended at the token's expiry.
 *
 * @example
 * const stream = createSseHandler({ secret: process.env.SSE_SECRET!, log })
 * export const GET = stream.fetch // Next.js route handler
 * createServer(stream.node).listen(8080) // node:http
 */
export function createSseHandler(options: CreateSseHandlerOptions): SseHandler {
  if (options === null || typeof options !== 'object' || ArrayBuffer.isView(options)) {
    throw new TypeError('createSseHandler takes an options object: { secret, source | log, closeAtExpiry?, ... }')
  }
  const { secret, log, source, closeAtExpiry = true } = options
  if (typeof secret === 'string' ? secret === '' : !ArrayBuffer.isView(secret) || secret.byteLength === 0) {
    throw new TypeError('createSseHandler: secret must be a non-empty string or Uint8Array')
  }
  if ((log === undefined) === (source === undefined)) throw new TypeError('createSseHandler: give a source or log, exactly one')
  if (log !== undefined && typeof log.read !== 'function') throw new TypeError('createSseHandler: log must be an EventLog')
  const verifyOptions = {
    secret,
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: options.clockToleranceSeconds } : {}),
  }
  const tokenOptions = { ...(options.query !== undefined ? { query: options.query } : {}), ...(options.queryParam !== undefined ? { queryParam: options.queryParam } : {}) }
  const { initial, gapEvent } = options
  const streamOptions = {
    heartbeatMs: options.heartbeatMs,
    heartbeatComment: options.heartbeatComment,
    retry: options.retry,
    writeTimeout: options.writeTimeout,
    onError: options.onError,
    headers: options.headers,
  }

  /** The per-connection source, ending at the token's expiry when asked. */
  const sourceFor = (payload: SseTokenPayload) => (context: SseSourceContext): AsyncIterable<SseMessage> => {
    const exp = payload.exp
    if (closeAtExpiry && typeof exp === 'number') {
      // The stream's own signal cannot be aborted from here: stop through the iterable instead.
      return untilExpiry(exp * 1000, context, (ctx) => open(payload, ctx))
    }
    return open(payload, context)
  }
  const open = (payload: SseTokenPayload, context: SseSourceContext): AsyncIterable<SseMessage> => {
    if (log) return log.read({ after: context.lastEventId, signal: context.signal, initial, gapEvent })
    return typeof source === 'function' ? source({ ...context, payload }) : source!
  }

  return {
    async fetch(request: Request): Promise<Response> {
      const verified = await verifySseToken(readSseToken(request, tokenOptions), verifyOptions)
      if (!verified.ok) return unauthorizedResponse('A valid stream token is required', { reason: verified.reason })
      return createSseResponse(sourceFor(verified.payload), { ...streamOptions, request })
    },

    async node(req: NodeRequestLike, res: SseHandlerNodeResponse): Promise<void> {
      const verified = await verifySseToken(readSseToken(req, tokenOptions), verifyOptions)
      if (!verified.ok) {
        const denied = unauthorizedResponse('A valid stream token is required', { reason: verified.reason })
        res.writeHead(denied.status, Object.fromEntries(denied.headers))
        res.end(await denied.text())
        return
      }
      await pipeSseToNode(res, sourceFor(verified.payload), { ...streamOptions, lastEventId: readLastEventId(req) }).catch(() => {})
    },
  }
}

/**
 * The iterable `build` makes, with its own signal that also aborts at `expiresAt` (ms since the
 * epoch); the iteration then ends normally. The timer goes when the stream stops.
 */
function untilExpiry(expiresAt: number, context: SseSourceContext, build: (context: SseSourceContext) => AsyncIterable<SseMessage>): AsyncIterable<SseMessage> {
  const stop = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = () => {
    const left = expiresAt - Date.now()
    if (left <= 0) return stop.abort()
    timer = setTimeout(arm, Math.min(left, MAX_TIMER))
  }
  const onStop = () => {
    if (timer !== undefined) clearTimeout(timer)
    stop.abort()
  }
  if (context.signal.aborted) stop.abort()
  else context.signal.addEventListener('abort', onStop, { once: true })
  stop.signal.addEventListener('abort', () => {
    if (timer !== undefined) clearTimeout(timer)
    context.signal.removeEventListener('abort', onStop)
  }, { once: true })
  arm()
  const inner = build({ lastEventId: context.lastEventId, signal: stop.signal })
  return {
    [Symbol.asyncIterator]() {
      const it = inner[Symbol.asyncIterator]()
      // A pending next() of a generator is not ended by return(): race it against the expiry.
      let wake: ((result: IteratorResult<SseMessage>) => void) | undefined
      const onExpiry = () => wake?.({ done: true, value: undefined })
      stop.signal.addEventListener('abort', onExpiry, { once: true })
      return {
        next: () =>
          stop.signal.aborted
            ? Promise.resolve({ done: true, value: undefined })
            : new Promise<IteratorResult<SseMessage>>((resolve, reject) => {
                wake = resolve
                it.next().then(resolve, (error: unknown) => (stop.signal.aborted ? resolve({ done: true, value: undefined }) : reject(error)))
              }).finally(() => (wake = undefined)),
        return: () => {
          stop.abort()
          void Promise.resolve(it.return?.()).catch(() => {})
          return Promise.resolve({ done: true, value: undefined })
        },
      }
    },
  }
}
