/**
 * Streaming an async source of events to a client, with heartbeats and prompt cleanup when the
 * client leaves. One engine (`streamSse`) drives both adapters: a WHATWG `Response`
 * (`createSseResponse`) and a Node `ServerResponse` (`pipeSseToNode`).
 */
import { formatComment, formatMessage, formatRetry, type SseMessage } from './format'
import { canPush, LIVE_PUSH, type LiveTarget } from './live'
import { readLastEventId, type AnyRequest } from './request'
import { ABORTED, untilStopped, type StopSlot } from './stop'

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

/** Where the engine writes text. */
export interface SseSink {
  /**
   * Writes `chunk`. Returning nothing means the sink took it and has room for more: the next
   * write may follow at once. A returned promise means it has to wait (backpressure): nothing more
   * is written until it settles, and it must settle within `writeTimeout`.
   */
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
   * idle watchdogs see traffic: measured from the last write. `0` disables. Default `15000`.
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


/**
 * Text held back while a write is in flight, joined into the next write. Bounds what a slow
 * client costs; a client that keeps up gets each event at once.
 */
const LOOKAHEAD_BYTES = 64 * 1024

// An event log's entries are frozen and the same object reaches every reader of the instance that
// pulls it (replay, catch-up): serialised once, not once per client. Live entries do not come this
// way: the log pushes them to the stream already formatted (see ./live.ts).
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
 * `timer` re-armed for `ms` from now, or a new one calling `callback(arg)`. `refresh()` reuses Node's timer object: no
 * allocation per write; runtimes whose timers are plain numbers get a new one.
 */
function rearm<A>(timer: Timer | undefined, callback: (arg: A) => void, ms: number, arg: A): Timer {
  if (timer !== undefined && typeof (timer as { refresh?: unknown }).refresh === 'function') return (timer as { refresh(): Timer }).refresh()
  if (timer !== undefined) clearTimeout(timer)
  return setTimeout(callback, ms, arg)
}

/**
 * `Date.now()`, read once per synchronous turn: a fan-out that writes one entry to thousands of
 * streams stamps all their writes with one clock read (a clock read costs about as much as the
 * rest of a write).
 */
let turnNow: number | undefined
function now(): number {
  if (turnNow === undefined) {
    turnNow = Date.now()
    queueMicrotask(() => (turnNow = undefined))
  }
  return turnNow
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function'
}

/**
 * One stream's state: its output, in order, and how it stops. A sink write that returns nothing is
 * done at once (a Node response below its high-water mark): no promise, no timer. One that returns
 * a promise is in flight until it settles, watched by `writeTimeout`; text sent meanwhile waits in
 * `pending` and goes out in one write when it completes. Heartbeats, pulled messages and pushed live
 * entries all go this way.
 *
 * The stream stops through one `AbortController` (the signal the source gets), whoever stops it:
 * the client leaving, a failed or timed-out write, the source ending. This object is that signal's
 * listener (`handleEvent`) and its timers' argument, so a connection costs one object here and no
 * closures. A class: a fan-out calls `push` on thousands of these per entry, and one object with its
 * fields in place, behind methods every stream shares, is what keeps that call cheap.
 */
class SseWriter implements LiveTarget, StopSlot {
  /** Text sent while a write is in flight. */
  pending = ''
  /** The write the sink has not completed yet (settles, never rejects). */
  inFlight: Promise<void> | undefined
  /** Set when the stream stops: nothing more is written. */
  stopped = false
  /** When the last write started or completed (ms, {@link now}). */
  lastWrite = now()
  /** Set when a write did not complete within `writeTimeout`. */
  timedOut = false
  /** Ends the wait in progress (`untilStopped`) when the stream stops. */
  wake: (() => void) | undefined
  private writeTimer: Timer | undefined
  private heartbeatTimer: Timer | undefined

  constructor(
    private readonly sink: SseSink,
    private readonly writeTimeout: number,
    /** The stream's one stop: aborted when the client is gone or stuck, or the stream ends. */
    private readonly stop: AbortController,
  ) {}

  /** Writes `text` after everything sent before it. */
  send(text: string): void {
    if (this.stopped) return
    if (this.inFlight === undefined) this.write(text)
    else this.pending += text
  }

  /** {@link LiveTarget.push}: sends `text`; `false` once the stream holds back 64 kB or stopped. */
  push(text: string): boolean {
    this.send(text)
    return !this.stopped && this.pending.length < LOOKAHEAD_BYTES
  }

  /** Whether the stream holds back as much as it may: pull nothing more until the write in flight completes. */
  get full(): boolean {
    return this.inFlight !== undefined && this.pending.length >= LOOKAHEAD_BYTES
  }

  /** A `: heartbeat` comment whenever nothing was written for `ms`: one timer per stream, armed once per idle period (a write only notes the time). */
  startHeartbeat(ms: number, text: string): void {
    this.heartbeatTimer = setTimeout(heartbeat, ms, this, ms, text)
  }

  /** The stop signal's abort: nothing more is written and the wait in progress ends. */
  handleEvent(): void {
    this.close()
    this.wake?.()
  }

  /** Stops writing and clears the timers. */
  close(): void {
    this.stopped = true
    if (this.writeTimer !== undefined) clearTimeout(this.writeTimer)
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer)
  }

  /** Called by the heartbeat timer. */
  beat(ms: number, text: string): void {
    if (this.stopped) return
    let wait = ms - (now() - this.lastWrite)
    if (wait <= 0) {
      // A write still in flight is watched by writeTimeout already: no heartbeat queues behind it.
      if (this.inFlight === undefined) this.send(text)
      wait = ms
    }
    this.heartbeatTimer = setTimeout(heartbeat, wait, this, ms, text)
  }

  /** Called by the write timer. */
  writeTimedOut(): void {
    if (this.inFlight === undefined || this.stopped) return
    this.timedOut = true
    this.stop.abort()
  }

  private written(): void {
    this.inFlight = undefined
    this.lastWrite = now()
    if (this.pending === '' || this.stopped) return
    const chunk = this.pending
    this.pending = ''
    this.write(chunk)
  }

  private write(chunk: string): void {
    let result: void | Promise<void>
    try {
      result = this.sink.write(chunk)
    } catch {
      this.stop.abort() // the client went away
      return
    }
    this.lastWrite = now()
    if (!isThenable(result)) return
    // One timer for the whole stream, re-armed as each write that has to wait starts.
    if (this.writeTimeout > 0) this.writeTimer = rearm(this.writeTimer, writeTimedOut, this.writeTimeout, this)
    this.inFlight = Promise.resolve(result).then(
      () => this.written(),
      () => {
        this.inFlight = undefined
        this.stop.abort() // the client went away mid-write
      },
    )
  }
}

function heartbeat(writer: SseWriter, ms: number, text: string): void {
  writer.beat(ms, text)
}

function writeTimedOut(writer: SseWriter): void {
  writer.writeTimedOut()
}

function checkWriteTimeout(writeTimeout: unknown): void {
  if (typeof writeTimeout !== 'number' || !(writeTimeout >= 0)) throw new TypeError('streamSse: writeTimeout must be a number of ms ≥ 0 (0 disables)')
}

/**
 * Pulls messages from `source` and writes them to `sink` until the source ends, `signal` aborts,
 * or a write fails; then aborts the source's signal and calls its iterator's `return()` without
 * waiting for it (see {@link SseSource} for what a source must do). Resolves when streaming stops;
 * rejects only if the source throws before the stop (after calling `onError`).
 *
 * An event log's `read()` also pushes its live entries, formatted once for every stream of the
 * instance, straight into this stream's writes (./live.ts); the iterator then carries replay and
 * catch-up only.
 */
export async function streamSse(source: SseSource, sink: SseSink, options: StreamSseOptions = {}): Promise<void> {
  checkWriteTimeout(options.writeTimeout ?? 30_000)
  const outer = options.signal
  if (outer?.aborted) return
  const stop = new AbortController()
  const onOuterAbort = () => stop.abort(outer?.reason)
  outer?.addEventListener('abort', onOuterAbort, { once: true })
  try {
    await runStream(source, sink, options, stop)
  } finally {
    outer?.removeEventListener('abort', onOuterAbort)
  }
}

/**
 * {@link streamSse} on the caller's own stop controller: its signal is the one the source gets, and
 * the adapters abort it straight from their own causes (the connection closing, the request's
 * signal), so a connection has one stop signal however many layers it goes through. Ignores
 * `options.signal` (the caller links it to `stop`). Aborts `stop` when streaming stops.
 */
async function runStream(source: SseSource, sink: SseSink, options: StreamSseOptions, stop: AbortController): Promise<void> {
  const { heartbeatMs = 15_000, heartbeatComment = 'heartbeat', retry, writeTimeout = 30_000 } = options
  checkWriteTimeout(writeTimeout)
  if (stop.signal.aborted) return
  const writer = new SseWriter(sink, writeTimeout, stop)
  stop.signal.addEventListener('abort', writer, { once: true })

  let iterator: AsyncIterator<SseMessage> | undefined
  let finished = false
  try {
    const iterable = typeof source === 'function' ? source({ lastEventId: options.lastEventId, signal: stop.signal }) : source
    if (canPush(iterable)) iterable[LIVE_PUSH](writer)
    iterator = iterable[Symbol.asyncIterator]()
    if (retry !== undefined) writer.send(formatRetry(retry))
    if (heartbeatMs > 0) writer.startHeartbeat(heartbeatMs, formatComment(heartbeatComment))
    while (!writer.stopped) {
      if (writer.full) {
        if ((await untilStopped(writer, writer.inFlight!)) === ABORTED) break
        continue
      }
      const result = await untilStopped(writer, iterator.next())
      if (result === ABORTED) break
      if (result.done) {
        finished = true
        break
      }
      writer.send(serialise(result.value))
    }
    // The source ended: what it sent is written before the stream ends.
    for (let i = 0; finished && writer.inFlight !== undefined && i < 1_000_000; i++) {
      if ((await untilStopped(writer, writer.inFlight)) === ABORTED) break
    }
  } catch (error) {
    finished = true // a throwing iterator is already closed
    options.onError?.(error)
    throw error
  } finally {
    writer.close()
    if (writer.timedOut) sink.destroy?.()
    stop.signal.removeEventListener('abort', writer)
    stop.abort()
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
    write(chunk) {
      if (closed) throw new Error('stream closed')
      controller.enqueue(encoder.encode(chunk))
      if ((controller.desiredSize ?? 1) > 0 || stop.signal.aborted) return
      // Wait for the consumer to ask for more, so a slow client does not make us buffer forever.
      return new Promise<void>((resolve) => (wakeWriter = resolve)).then(() => {
        wakeWriter = undefined
      })
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
  // `stop` is the stream's own stop signal: the one the source gets.
  runStream(source, sink, { ...options, lastEventId }, stop).then(
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
  /** Buffers `chunk`; `false` once the buffer is over its high-water mark (then `'drain'` follows). */
  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean
  /** Bytes buffered and not yet handed to the socket. */
  readonly writableLength: number
  end(): unknown
  destroy(error?: Error): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
  removeListener(event: 'close' | 'drain', listener: () => void): unknown
}

/**
 * The last text written to any Node response, and its bytes. A fan-out writes the same text to
 * every caught-up response in turn: it is encoded once and the bytes are shared, where a string
 * would be encoded again for every socket. Node never changes the bytes it is given to write.
 */
let lastText = ''
let lastBytes: Uint8Array | undefined

function bytesOf(text: string): Uint8Array {
  if (lastBytes === undefined || text !== lastText) {
    lastText = text
    lastBytes = Buffer.from(text, 'utf8')
  }
  return lastBytes
}

/** Writes into a Node response (a class: a fan-out calls `write` on thousands of these per entry). */
class NodeResponseSink implements SseSink {
  constructor(private readonly response: NodeResponseLike) {}

  write(chunk: string): void | Promise<void> {
    const response = this.response
    if (response.destroyed || response.writableEnded) throw new Error('response closed')
    // Taken below the high-water mark; above it, the write completes when the response drains.
    if (response.write(bytesOf(chunk))) return
    return new Promise<void>((resolve, reject) => {
      const drained = () => {
        response.removeListener('close', closed)
        resolve()
      }
      const closed = () => {
        response.removeListener('drain', drained)
        reject(new Error('response closed'))
      }
      response.once('drain', drained)
      response.once('close', closed)
    })
  }

  destroy(): void {
    // end() would queue behind the stuck bytes: only destroying frees the socket.
    if (!this.response.destroyed) this.response.destroy()
  }
}

/** Resolves once the bytes `response` buffered have been handed to the socket, or it closed. */
function flushed(response: NodeResponseLike): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      response.removeListener('close', done)
      resolve()
    }
    response.once('close', done)
    // Write callbacks run in order: an empty write's runs once everything before it has left.
    response.write('', done)
  })
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
 * Writes the SSE headers unless already sent, writes each message at once while the response
 * takes it (below its high-water mark), else waits for `'drain'` and sends what arrived meanwhile
 * in one write (holding at most 64 kB), and stops the source when the connection closes. Resolves when streaming stops; if the
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
  // The stream's one stop signal (the source's): aborted when the connection closes or `options.signal` aborts.
  const stop = new AbortController()
  const onClose = () => stop.abort()
  response.once('close', onClose)
  if (options.signal?.aborted) stop.abort()
  else options.signal?.addEventListener('abort', onClose, { once: true })

  const sink = new NodeResponseSink(response)
  const lastEventId = options.lastEventId ?? (options.request ? readLastEventId(options.request) : undefined)
  try {
    await runStream(source, sink, { ...options, lastEventId }, stop)
    if (response.writableEnded || response.destroyed) return
    if (options.end !== false) response.end()
    // Left open for the caller: what was written has left the response's buffer when this resolves.
    else if (response.writableLength > 0) await flushed(response)
  } catch (error) {
    if (!response.destroyed) response.destroy()
    throw error
  } finally {
    response.removeListener('close', onClose)
    options.signal?.removeEventListener('abort', onClose)
  }
}
