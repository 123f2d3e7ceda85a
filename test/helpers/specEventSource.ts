// An `EventSource` for Node with a browser's semantics, for `platform.EventSource`: built on the
// global `fetch` and its own parser written from the WHATWG HTML "Server-sent events" section. The
// `eventsource` npm package differs from browsers where the library has to be right (it reports
// each event's own id instead of the stream's last one, and its error events carry the status);
// this one does what a browser does:
//
// - the last-event-id buffer: an `id:` field sets it (unless the value contains NUL), even in a
//   block with no data; every dispatched MessageEvent carries it as `lastEventId` (so an id-less
//   event after an id reports that id, and an id-only block moves the `lastEventId` of the next
//   event); `''` after an empty `id:`. An unfinished block at the end of the body is dropped.
// - the request: `Accept: text/event-stream`, `Cache-Control: no-cache`, `Last-Event-ID` only on
//   its own reconnects (and only when the last event id is not empty), never on the first request.
// - errors are plain `Event('error')`: no status, no message. A non-200 status or a content type
//   other than `text/event-stream` fails the connection (readyState CLOSED, then `error`, no retry);
//   a network failure or a clean end of the body reestablishes it (readyState CONNECTING, `error`,
//   then a new request after the reconnection time: 3000 ms, or the last valid `retry:` field).
// - `close()` aborts the request; nothing is dispatched after it.
//
// Where the spec leaves a choice, it follows Chromium and Firefox: the last event id survives the
// object's own reconnects (the new connection's parser starts from it), and a network failure is
// always retried. The `on*` handlers run before `addEventListener` listeners of the same type (a
// browser runs them in the order they were registered).

/** The spec's three states, also on the constructor as in browsers. */
const CONNECTING = 0
const OPEN = 1
const CLOSED = 2

/** Default reconnection time, in ms (the spec leaves it to the user agent; browsers use 3 s). */
export const DEFAULT_RECONNECTION_TIME = 3000

type Handler = ((this: SpecEventSource, ev: any) => any) | null

/**
 * A WHATWG `EventSource` over `fetch`. Pass the class itself as `platform.EventSource`. The
 * constructor accepts `init.fetch` too (not part of the standard) so a test can count requests.
 */
export class SpecEventSource extends EventTarget {
  static readonly CONNECTING = CONNECTING
  static readonly OPEN = OPEN
  static readonly CLOSED = CLOSED
  readonly CONNECTING = CONNECTING
  readonly OPEN = OPEN
  readonly CLOSED = CLOSED

  readonly url: string
  readonly withCredentials: boolean
  onopen: Handler = null
  onmessage: Handler = null
  onerror: Handler = null

  #readyState: number = CONNECTING
  /** The object's "last event ID string": sent as `Last-Event-ID` on its own reconnects. */
  #lastEventId = ''
  #reconnectionTime = DEFAULT_RECONNECTION_TIME
  #controller: AbortController | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #fetch: typeof fetch
  readonly #origin: string

  constructor(url: string | URL, init: { withCredentials?: boolean; fetch?: typeof fetch } = {}) {
    super()
    // As the browser: an unparsable URL throws a SyntaxError from the constructor.
    let parsed: URL
    try {
      parsed = new URL(String(url), (globalThis as { location?: { href: string } }).location?.href)
    } catch {
      throw new DOMException(`Failed to construct 'EventSource': The URL '${String(url)}' is invalid.`, 'SyntaxError')
    }
    this.url = parsed.href
    this.#origin = parsed.origin
    this.withCredentials = !!init.withCredentials
    this.#fetch = init.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args))
    // The handler attributes: one listener per type, calling whatever handler is set at the time.
    for (const type of ['open', 'message', 'error'] as const) {
      super.addEventListener(type, (ev) => {
        const handler = type === 'open' ? this.onopen : type === 'message' ? this.onmessage : this.onerror
        if (typeof handler === 'function') handler.call(this, ev)
      })
    }
    this.#connect()
  }

  get readyState(): number {
    return this.#readyState
  }

  close(): void {
    this.#readyState = CLOSED
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#controller?.abort()
    this.#controller = undefined
  }

  /** One fetch of the stream, from the request to the end of its body. */
  #connect(): void {
    const controller = (this.#controller = new AbortController())
    const headers: Record<string, string> = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' }
    // Empty on the first request (a new object has no last event id), so never sent then.
    // The spec sends the id UTF-8 encoded; a header value is a byte string, one character per byte.
    if (this.#lastEventId !== '') headers['Last-Event-ID'] = String.fromCharCode(...new TextEncoder().encode(this.#lastEventId))
    const request = new Promise<Response>((resolve) =>
      resolve(this.#fetch(this.url, { headers, cache: 'no-store', credentials: this.withCredentials ? 'include' : 'same-origin', signal: controller.signal })),
    )
    request.then(
      (response) => {
        if (controller.signal.aborted) return void response.body?.cancel().catch(() => {})
        if (response.status !== 200 || essence(response.headers.get('content-type')) !== 'text/event-stream') {
          response.body?.cancel().catch(() => {})
          return this.#fail()
        }
        if (!response.body) return this.#reestablish(controller)
        this.#readyState = OPEN
        this.dispatchEvent(new Event('open'))
        return this.#read(response.body, controller)
      },
      () => this.#reestablish(controller),
    )
  }

  async #read(body: ReadableStream<Uint8Array>, controller: AbortController): Promise<void> {
    const parser = new SpecSseParser(this.#lastEventId, {
      dispatch: (type, data, lastEventId) => this.#dispatch(type, data, lastEventId, controller),
      retry: (ms) => (this.#reconnectionTime = ms),
    })
    const reader = body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (controller.signal.aborted) return
        if (done) break
        parser.feed(value)
      }
    } catch {
      // A network failure (or the abort of close(), which the check below ignores).
    } finally {
      reader.releaseLock()
    }
    if (controller.signal.aborted) return
    // End of the body, clean or not: an unfinished block is dropped, and the connection reestablished.
    this.#reestablish(controller)
  }

  #dispatch(type: string, data: string | undefined, lastEventId: string, controller: AbortController): void {
    if (controller.signal.aborted || controller !== this.#controller) return
    // Set for every completed block, id-only blocks included: the next reconnect resumes from it.
    this.#lastEventId = lastEventId
    if (data === undefined) return
    if (this.#readyState === CLOSED) return
    this.dispatchEvent(new MessageEvent(type, { data, lastEventId, origin: this.#origin }))
  }

  /** Non-200 or wrong content type: closed for good, one plain `error`. */
  #fail(): void {
    if (this.#readyState === CLOSED) return
    this.#readyState = CLOSED
    this.#controller = undefined
    this.dispatchEvent(new Event('error'))
  }

  /** Network failure or end of the body: CONNECTING, one plain `error`, a new request later. */
  #reestablish(controller: AbortController): void {
    if (controller !== this.#controller || this.#readyState === CLOSED) return
    this.#controller = undefined
    this.#readyState = CONNECTING
    this.dispatchEvent(new Event('error'))
    // A listener may have closed it.
    if (this.#readyState !== CONNECTING) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#readyState === CONNECTING) this.#connect()
    }, this.#reconnectionTime)
  }
}

/** The MIME type's essence: `Text/Event-Stream; charset=utf-8` → `text/event-stream`. */
function essence(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase()
}

/** What {@link SpecSseParser} reports. */
export interface SseSink {
  /** A blank line ended a block; `data` is `undefined` when the block had no `data:` field. */
  dispatch(type: string, data: string | undefined, lastEventId: string): void
  /** A valid `retry:` field (ASCII digits only). */
  retry(ms: number): void
}

/**
 * The spec's event-stream interpretation over one connection's bytes: UTF-8 (one leading BOM
 * dropped, invalid bytes replaced), lines ended by CRLF, LF or CR (also split across chunks).
 * `dispatch` is called at every blank line with the block's type, data (`undefined` when the
 * block had no data: only the last event id is to be set) and the last-event-id buffer.
 */
export class SpecSseParser {
  readonly #decoder = new TextDecoder('utf-8')
  readonly #sink: SseSink
  #line = ''
  #skipLF = false
  #data = ''
  #hasData = false
  #type = ''
  #lastEventIdBuffer: string

  /** `lastEventId`: the buffer's start value (the object's last event id, `''` for a new object). */
  constructor(lastEventId: string, sink: SseSink) {
    this.#lastEventIdBuffer = lastEventId
    this.#sink = sink
  }

  feed(bytes: Uint8Array): void {
    this.#text(this.#decoder.decode(bytes, { stream: true }))
  }

  #text(text: string): void {
    if (text === '') return
    let start = 0
    // A CR ended the previous chunk: an LF starting this one belongs to it.
    if (this.#skipLF && text.charCodeAt(0) === 10) start = 1
    this.#skipLF = false
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      const line = this.#line + text.slice(start, i)
      this.#line = ''
      if (c === 13) {
        if (i + 1 === text.length) this.#skipLF = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
      this.#processLine(line)
    }
    this.#line += text.slice(start)
  }

  #processLine(line: string): void {
    if (line === '') return this.#dispatchBlock()
    if (line.charCodeAt(0) === 58 /* : */) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'event':
        this.#type = value
        break
      case 'data':
        this.#data += value + '\n'
        this.#hasData = true
        break
      case 'id':
        if (!value.includes('\0')) this.#lastEventIdBuffer = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#sink.retry(Number(value))
        break
      default:
      // Unknown fields are ignored.
    }
  }

  #dispatchBlock(): void {
    const lastEventId = this.#lastEventIdBuffer
    if (!this.#hasData) {
      // An id-only (or empty, or event-only) block: the last event id is set, nothing dispatched.
      this.#type = ''
      this.#sink.dispatch('message', undefined, lastEventId)
      return
    }
    const data = this.#data.slice(0, -1)
    const type = this.#type || 'message'
    this.#data = ''
    this.#hasData = false
    this.#type = ''
    this.#sink.dispatch(type, data, lastEventId)
  }
}
