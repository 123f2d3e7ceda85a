/**
 * Streaming an async source of events to a client, with heartbeats and prompt cleanup when the
 * client leaves. One engine (`streamSse`) drives both adapters: a WHATWG `Response`
 * (`createSseResponse`) and a Node `ServerResponse` (`pipeSseToNode`).
 */
import { formatComment, formatMessage, formatRetry, type SseMessage } from './format'
import { readLastEventId, type AnyRequest } from './request'

/** What a source function receives. */
export interface SseSourceContext {
  /** The id the client resumes from (`Last-Event-ID` or `lastEventId` query), if any. */
  lastEventId: string | undefined
  /**
   * Aborted when the client disconnects or the stream is stopped. The source must stop then,
   * including while it waits for data: see {@link SseSource}.
   */
  signal: AbortSignal
}

/**
 * Events to send: an async iterable, or a function building one per connection.
 *
 * How a source is stopped: when the client leaves (or `signal` of the options aborts, or a write
 * fails) the context's `signal` aborts, the stream ends at once, and the iterator's `return()` is
 * called. That `return()` is enough for a hand-written iterator whose `return()` settles a pending
 * `next()`. It is not enough for an async generator: JavaScript queues a generator's `return()`
 * behind its pending `next()`, so a generator waiting on a quiet channel would never reach its
 * `finally`. A generator must therefore end its waits when `signal` aborts: iterate
 * `events.on(emitter, name, { signal })`, or race each wait against the signal. An `AbortError`
 * the source throws once `signal` has aborted is not an error: the stream still ends normally.
 *
 * A frozen message (`Object.freeze`, as event log entries are) is taken as immutable: it is
 * serialised once, however many streams send it.
 *
 * @example
 * async function* feed({ signal }: SseSourceContext) {
 *   for await (const [event] of on(bus, 'event', { signal })) yield { id: event.id, data: event }
 * }
 */
export type SseSource = AsyncIterable<SseMessage> | ((context: SseSourceContext) => AsyncIterable<SseMessage>)

/** Where the engine writes text. A returned promise is awaited before the next event (backpressure). */
export interface SseSink {
  write(chunk: string): void | Promise<void>
  /**
   * Called once when a write has not completed within `writeTimeout`: drop the connection (its
   * buffers are full and the client is not reading). Default: nothing (the stream still ends).
   */
  destroy?(): void
}

/** Options shared by every way of streaming. */
export interface StreamSseOptions {
  /**
   * Idle time in ms after which a `: heartbeat` comment is written, so proxies and clients'
   * idle watchdogs see traffic. Re-armed after every write. `0` disables. Default `15000`.
   */
  heartbeatMs?: number
  /** Text of the heartbeat comment. Default `'heartbeat'`. */
  heartbeatComment?: string
  /** Written first as a `retry:` field (client reconnection delay, ms). Default: none. */
  retry?: number
  /** Stops the stream when aborted. Default: none (adapters add the client's disconnect). */
  signal?: AbortSignal
  /** Passed to a source function. Default: read from `request` by the adapters. */
  lastEventId?: string
  /** Called when the source throws; the stream is then broken off (not ended cleanly). Default: none. */
  onError?: (error: unknown) => void
  /**
   * Longest time in ms one write (an event, a heartbeat) may take. A client that stops reading
   * fills the socket's buffers and its write never completes: past this, the stream ends and the
   * connection is dropped (`pipeSseToNode` destroys the socket, `createSseResponse` errors the
   * body), so a silent client cannot hold a socket forever. `0` disables. Default `30000`.
   */
  writeTimeout?: number
}

/** Default SSE response headers. `Connection` is added separately (HTTP/1.x only). */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  // no-store rather than no-cache: an event stream must never be stored by a cache or a service worker.
  'Cache-Control': 'no-store',
  // nginx buffers proxied responses unless told otherwise, which would hold events back.
  'X-Accel-Buffering': 'no',
})

const ABORTED = Symbol('aborted')

/**
 * Text pulled ahead of the socket while a write is in flight, joined into the next write. Bounds
 * what a slow client costs; a client that keeps up gets each event at once, in its own write.
 */
const LOOKAHEAD_BYTES = 64 * 1024

// An event log's entries are frozen and the same object reaches every reader of the instance:
// serialised once, not once per client.
const serialised = new WeakMap<object, string>()
function serialise(message: SseMessage): string {
  if (message === null || typeof message !== 'object' || !Object.isFrozen(message)) return formatMessage(message)
  let text = serialised.get(message)
  if (text === undefined) {
    text = formatMessage(message)
    serialised.set(message, text)
  }
  return text
}

type Timer = ReturnType<typeof setTimeout>

/**
 * `timer` re-armed for `ms` from now, or a new one. `refresh()` reuses Node's timer object: no
 * allocation per event; runtimes whose timers are plain numbers get a new one.
 */
function rearm(timer: Timer | undefined, callback: () => void, ms: number): Timer {
  if (timer !== undefined && typeof (timer as { refresh?: unknown }).refresh === 'function') return (timer as { refresh(): Timer }).refresh()
  if (timer !== undefined) clearTimeout(timer)
  return setTimeout(callback, ms)
}

/**
 * Pulls messages from `source` and writes them to `sink` until the source ends, `signal` aborts,
 * or a write fails; then aborts the source's signal and calls its iterator's `return()` without
 * waiting for it (see {@link SseSource} for what a source must do). Resolves when streaming stops;
 * rejects only if the source throws before the stop (after calling `onError`).
 */
export async function streamSse(source: SseSource, sink: SseSink, options: StreamSseOptions = {}): Promise<void> {
  const { heartbeatMs = 15_000, heartbeatComment = 'heartbeat', retry, writeTimeout = 30_000 } = options
  if (typeof writeTimeout !== 'number' || !(writeTimeout >= 0)) throw new TypeError('streamSse: writeTimeout must be a number of ms ≥ 0 (0 disables)')
  const controller = new AbortController()
  const outer = options.signal
  const onOuterAbort = () => controller.abort(outer?.reason)
  if (outer?.aborted) return
  outer?.addEventListener('abort', onOuterAbort, { once: true })

  // Every wait (the source's next(), a write) is raced against the stop. One abort listener for the
  // whole stream wakes whichever wait is current; racing against one long-lived promise instead
  // would leave a reaction on it per event, each holding that event until the stream ends.
  // The wake happens inside the abort dispatch, before any promise reaction: an AbortError the
  // source throws because of the same abort arrives too late to count as a failure.
  let wake: ((stopped: typeof ABORTED) => void) | undefined
  const onStop = () => wake?.(ABORTED)
  controller.signal.addEventListener('abort', onStop, { once: true })
  const untilStopped = async <T>(promise: Promise<T>): Promise<T | typeof ABORTED> => {
    if (controller.signal.aborted) return ABORTED
    try {
      return await new Promise<T | typeof ABORTED>((resolve, reject) => {
        wake = resolve
        promise.then(resolve, reject)
      })
    } finally {
      wake = undefined
    }
  }

  let heartbeat: Timer | undefined
  const armHeartbeat = () => {
    if (heartbeatMs > 0 && !controller.signal.aborted) heartbeat = rearm(heartbeat, beat, heartbeatMs)
  }
  // One timer for the whole stream, re-armed with refresh() as each write starts: a timer per
  // write would cost an allocation per event. It only acts if a write is still pending.
  let writing = false
  let timedOut = false
  let writeTimer: Timer | undefined
  const onWriteTimeout = () => {
    if (!writing || controller.signal.aborted) return
    timedOut = true
    controller.abort()
  }
  const startWrite = () => {
    writing = true
    if (writeTimeout > 0) writeTimer = rearm(writeTimer, onWriteTimeout, writeTimeout)
  }
  // Writes are chained: a heartbeat firing during a slow (e.g. byte-by-byte) write must not
  // interleave its bytes with the event's.
  let chain: Promise<unknown> = Promise.resolve()
  const write = (chunk: string): Promise<void> => {
    const next = chain
      .then(() => {
        startWrite()
        return sink.write(chunk)
      })
      .then(() => {
        writing = false
        armHeartbeat()
      })
    chain = next.catch(() => {})
    return next
  }
  function beat() {
    // A failed heartbeat means the client is gone.
    write(formatComment(heartbeatComment)).catch(() => controller.abort())
  }

  let iterator: AsyncIterator<SseMessage> | undefined
  let finished = false
  try {
    const iterable = typeof source === 'function' ? source({ lastEventId: options.lastEventId, signal: controller.signal }) : source
    iterator = iterable[Symbol.asyncIterator]()
    if (retry !== undefined) await write(formatRetry(retry))
    armHeartbeat()
    // Events pulled while a write is in flight wait in `pending` and go out together in the next
    // write: one write per client per flush, however many events arrived meanwhile.
    let pending = ''
    let inFlight: Promise<void> | undefined
    const flush = () => {
      if (inFlight !== undefined || pending === '' || controller.signal.aborted) return
      const chunk = pending
      pending = ''
      inFlight = write(chunk).then(
        () => {
          inFlight = undefined
          flush()
        },
        () => {
          inFlight = undefined
          controller.abort() // the client went away mid-write
        },
      )
    }
    while (!controller.signal.aborted) {
      if (inFlight !== undefined && pending.length >= LOOKAHEAD_BYTES) {
        if ((await untilStopped(inFlight)) === ABORTED) break
        continue
      }
      const result = await untilStopped(iterator.next())
      if (result === ABORTED) break
      if (result.done) {
        finished = true
        break
      }
      pending += serialise(result.value)
      flush()
    }
    // The source ended: what it sent is written before the stream ends.
    for (let i = 0; finished && i < 1_000_000 && (inFlight !== undefined || pending !== ''); i++) {
      flush()
      if (inFlight === undefined || (await untilStopped(inFlight)) === ABORTED) break
    }
  } catch (error) {
    finished = true // a throwing iterator is already closed
    options.onError?.(error)
    throw error
  } finally {
    if (heartbeat !== undefined) clearTimeout(heartbeat)
    if (writeTimer !== undefined) clearTimeout(writeTimer)
    if (timedOut) sink.destroy?.()
    outer?.removeEventListener('abort', onOuterAbort)
    controller.signal.removeEventListener('abort', onStop)
    controller.abort()
    const it = iterator
    if (!finished && typeof it?.return === 'function') {
      // Not awaited: an async generator's return() waits for its pending next(), which may never come.
      Promise.resolve()
        .then(() => it.return!())
        .catch(() => {})
    }
  }
}

/** Options of {@link createSseResponse}. */
export interface CreateSseResponseOptions extends StreamSseOptions {
  /**
   * The incoming request: its `signal` stops the stream on disconnect and its `Last-Event-ID`
   * (or `lastEventId` query) is passed to a source function. Default: none.
   */
  request?: Request
  /** Extra or overriding response headers. Default: none. */
  headers?: Record<string, string>
}

/**
 * A streaming `Response` for fetch-style servers (Next.js route handlers, Hono, Bun, Deno, workers).
 * Headers: `Content-Type: text/event-stream; charset=utf-8`, `Cache-Control: no-store`,
 * `X-Accel-Buffering: no`, `Connection: keep-alive` (dropped where the runtime forbids it).
 * The stream stops (the context's signal aborts and the iterator's `return()` is called: see
 * {@link SseSource}) when the request's signal aborts, `options.signal` aborts, or the body is
 * cancelled; it then ends normally.
 *
 * @example
 * export function GET(request: Request) {
 *   const token = readSseToken(request)
 *   if (!token) return unauthorizedResponse()
 *   return createSseResponse(({ lastEventId, signal }) => feed(lastEventId, signal), { request })
 * }
 */
export function createSseResponse(source: SseSource, options: CreateSseResponseOptions = {}): Response {
  const encoder = new TextEncoder()
  const stop = new AbortController()
  // The caller's signals may outlive this response (a server-wide shutdown signal): their
  // listeners are removed when the stream ends.
  const signals = [options.signal, options.request?.signal].filter((s): s is AbortSignal => s !== undefined)
  const onAbort = (event: Event) => stop.abort((event.target as AbortSignal).reason)
  for (const signal of signals) {
    if (signal.aborted) stop.abort(signal.reason)
    else signal.addEventListener('abort', onAbort, { once: true })
  }

  let controller!: ReadableStreamDefaultController<Uint8Array>
  // The writer waiting for the reader to ask for more, woken by pull(), cancel() or the stop.
  let wakeWriter: (() => void) | undefined
  const onStop = () => wakeWriter?.()
  stop.signal.addEventListener('abort', onStop, { once: true })
  let closed = false
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    pull() {
      wakeWriter?.()
    },
    cancel(reason) {
      closed = true
      stop.abort(reason)
    },
  })

  const sink: SseSink = {
    async write(chunk) {
      if (closed) throw new Error('stream closed')
      controller.enqueue(encoder.encode(chunk))
      // Wait for the consumer to ask for more, so a slow client does not make us buffer forever.
      if ((controller.desiredSize ?? 1) <= 0 && !stop.signal.aborted) {
        await new Promise<void>((resolve) => (wakeWriter = resolve))
        wakeWriter = undefined
      }
    },
    destroy() {
      // Erroring the body is how a fetch-style server learns to drop the connection.
      if (!closed) {
        closed = true
        controller.error(new Error('write timed out: the client stopped reading'))
      }
    },
  }

  const lastEventId = options.lastEventId ?? (options.request ? readLastEventId(options.request) : undefined)
  const cleanUp = () => {
    for (const signal of signals) signal.removeEventListener('abort', onAbort)
    stop.signal.removeEventListener('abort', onStop)
  }
  streamSse(source, sink, { ...options, lastEventId, signal: stop.signal }).then(
    () => {
      cleanUp()
      if (!closed) {
        closed = true
        controller.close()
      }
    },
    (error: unknown) => {
      cleanUp()
      if (!closed) {
        closed = true
        controller.error(error)
      }
    },
  )

  const headers = new Headers(SSE_HEADERS)
  try {
    headers.set('Connection', 'keep-alive')
  } catch {
    // Some runtimes treat Connection as a forbidden header (HTTP/2): leaving it out is correct there.
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value)
  return new Response(body, { status: 200, headers })
}

/** The parts of a Node `ServerResponse` the Node adapter uses (structural; `http.ServerResponse` fits). */
export interface NodeResponseLike {
  readonly headersSent: boolean
  readonly writableEnded: boolean
  readonly destroyed: boolean
  /** `http.ServerResponse#req`, used to skip `Connection` on HTTP/2. */
  readonly req?: { httpVersionMajor?: number } | undefined
  writeHead(statusCode: number, headers: Record<string, string>): unknown
  flushHeaders?(): void
  write(chunk: string, callback: (error?: Error | null) => void): boolean
  end(): unknown
  destroy(error?: Error): unknown
  once(event: 'close', listener: () => void): unknown
  removeListener(event: 'close', listener: () => void): unknown
}

/** Options of {@link pipeSseToNode}. */
export interface PipeSseToNodeOptions extends StreamSseOptions {
  /** The incoming request, to read `Last-Event-ID` for a source function. Default: none. */
  request?: AnyRequestForNode
  /** Extra or overriding response headers. Default: none. */
  headers?: Record<string, string>
  /** End the response when the source ends. Default `true`. */
  end?: boolean
}

type AnyRequestForNode = AnyRequest

/**
 * Streams `source` into a Node `ServerResponse` (`node:http`, Express, Fastify's `reply.raw`).
 * Writes the SSE headers unless already sent, writes what the source yields while the previous
 * write is still being flushed in one write (pulling at most 64 kB ahead of the socket), and stops
 * the source when the connection closes. Resolves when streaming stops; if the
 * source throws, the socket is destroyed so the client sees a broken stream, not a clean end.
 */
export async function pipeSseToNode(response: NodeResponseLike, source: SseSource, options: PipeSseToNodeOptions = {}): Promise<void> {
  if (!response.headersSent) {
    const headers: Record<string, string> = { ...SSE_HEADERS }
    if ((response.req?.httpVersionMajor ?? 1) < 2) headers.Connection = 'keep-alive'
    Object.assign(headers, options.headers)
    response.writeHead(200, headers)
    response.flushHeaders?.()
  }
  const stop = new AbortController()
  const onClose = () => stop.abort()
  response.once('close', onClose)
  if (options.signal?.aborted) stop.abort()
  else options.signal?.addEventListener('abort', onClose, { once: true })

  const sink: SseSink = {
    write(chunk) {
      if (response.destroyed || response.writableEnded) return Promise.reject(new Error('response closed'))
      return new Promise<void>((resolve, reject) => {
        response.write(chunk, (error) => (error ? reject(error) : resolve()))
      })
    },
    destroy() {
      // end() would queue behind the stuck bytes: only destroying frees the socket.
      if (!response.destroyed) response.destroy()
    },
  }
  const lastEventId = options.lastEventId ?? (options.request ? readLastEventId(options.request) : undefined)
  try {
    await streamSse(source, sink, { ...options, lastEventId, signal: stop.signal })
    if (options.end !== false && !response.writableEnded && !response.destroyed) response.end()
  } catch (error) {
    if (!response.destroyed) response.destroy()
    throw error
  } finally {
    response.removeListener('close', onClose)
    options.signal?.removeEventListener('abort', onClose)
  }
}
