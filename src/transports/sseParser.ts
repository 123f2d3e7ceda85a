/**
 * Server-sent event stream interpretation (WHATWG HTML, "Server-sent events", §9.2.6), byte in,
 * events out, with no DOM and no I/O so it runs in browsers, Node, workers and route handlers.
 *
 * Line splitting is delegated to `getLines` from `@microsoft/fetch-event-source` (its DOM-free
 * part); everything around it is ours, because that package's own field interpretation
 * (`getMessages`) deviates from the spec: it dispatches an empty message for every blank line
 * (keep-alives included), treats a line without a colon as nothing instead of a field with an
 * empty value, accepts `retry: 12abc`, accepts ids containing NUL, and reports the id of a block
 * that is never finished. Around `getLines` we also add what it does not do: strip the leading
 * BOM and bound the length of a line before it is buffered.
 *
 * Internal module: only `fetchTransport.ts` and the conformance suite import it.
 */
import { getLines } from '@microsoft/fetch-event-source/lib/esm/parse.js'
import { EventStreamError } from '../core/errors'
import type { RawEvent } from '../core/types'

/** Options of {@link createSseParser}. */
export interface SseParserOptions {
  /** Called for every dispatched event (a block ended by a blank line with at least one `data` line). */
  onEvent(event: RawEvent): void
  /**
   * Called when a block without data changed the last event id (an id-only block). `''` means
   * the server cleared the id with an empty `id:` field. Default: ignored.
   */
  onLastEventId?(id: string): void
  /** Called for every valid `retry:` field (only ASCII digits), in ms. Default: ignored. */
  onRetry?(ms: number): void
  /**
   * Called once when a line exceeds `maxLineLength` or an event `maxEventSize`; the parser then
   * ignores all further input. Default: ignored (the parser still stops).
   */
  onError?(error: EventStreamError): void
  /**
   * Longest accepted line in bytes, line terminator and leading BOM excluded. Checked while the
   * line is still arriving, so an endless line costs at most this many bytes plus one chunk.
   * Default `Infinity`.
   */
  maxLineLength?: number
  /**
   * Largest accepted event in bytes: the UTF-8 data of one block (its `data` lines joined by LF),
   * checked at each `data` line, so a block of endless short lines costs at most this many bytes
   * plus one line. Other fields do not add up (`event` and `id` replace, comments are skipped).
   * Default `Infinity`.
   */
  maxEventSize?: number
  /**
   * The last event id carried over from a previous connection: like a browser's EventSource,
   * events without an `id:` field report it as their `lastEventId`. Events report `undefined`
   * only while neither this nor a non-empty `id:` field gave the stream an id; after that an
   * empty `id:` field makes it `''` (cleared). Default `undefined`.
   */
  lastEventId?: string
}

/** A push parser: feed it body chunks in order, then `end()` it when the body is done. */
export interface SseParser {
  /** Feeds the next chunk of the response body. A no-op after `end()` or a line-too-long error. */
  push(chunk: Uint8Array): void
  /** Marks the end of the body: an unfinished final block (and unterminated line) is discarded. */
  end(): void
}

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const BOM = [0xef, 0xbb, 0xbf] as const

/** Creates a spec-conformant SSE parser (see the module comment for what it adds to `getLines`). */
export function createSseParser(options: SseParserOptions): SseParser {
  const maxLineLength = options.maxLineLength ?? Infinity
  const maxEventSize = options.maxEventSize ?? Infinity
  // `ignoreBOM: true` because the decoder would otherwise strip a BOM at the start of *every*
  // line; only the stream's first BOM goes (handled below), a later one is content.
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })

  let stopped = false
  // Bytes held back while we cannot yet tell whether the stream starts with a BOM.
  let bomPrefix: Uint8Array | undefined = new Uint8Array(0)
  // Bytes of the current, unterminated line that `getLines` is buffering.
  let pendingLineBytes = 0

  // The data lines of the current block joined by '\n', or `undefined` before its first `data`
  // line: a string, not an array to `join`, saves two allocations per event (one line is typical).
  let dataBuffer: string | undefined
  // Bytes of `dataBuffer` (counted from the lines, so nothing is encoded twice).
  let dataBytes = 0
  let eventType = ''
  // `undefined` until the stream has an id (see `lastEventId` in the options); '' once cleared.
  let idBuffer = options.lastEventId
  let lastEventId = idBuffer
  // The current block had a (valid) `id` field: reported as `hasOwnId`.
  let ownId = false

  const fail = (message: string) => {
    stopped = true
    options.onError?.(new EventStreamError('line-too-long', message))
  }
  const lineTooLong = (length: number) => fail(`Line over maxLineLength (${maxLineLength} B; saw ${length})`)

  const dispatch = () => {
    // The spec sets the last event id on every blank line, data or not (that is how id-only
    // blocks move it); the data and type buffers are reset either way.
    const idChanged = idBuffer !== lastEventId
    lastEventId = idBuffer
    const hasOwnId = ownId
    ownId = false
    const type = eventType || 'message'
    const data = dataBuffer
    dataBuffer = undefined
    dataBytes = 0
    eventType = ''
    if (data !== undefined) {
      options.onEvent({ type, data, lastEventId, hasOwnId })
    } else if (idChanged) {
      // Only ever from one string to another: once set, the id never goes back to `undefined`.
      options.onLastEventId?.(lastEventId!)
    }
  }

  /** `valueBytes`: the UTF-8 length of `value`, known from the line without encoding it again. */
  const processField = (field: string, value: string, valueBytes: number) => {
    switch (field) {
      case 'event':
        eventType = value
        break
      case 'data':
        // An empty `data` line still counts: `data\n\n` dispatches an event whose data is ''.
        dataBytes += dataBuffer === undefined ? valueBytes : valueBytes + 1
        // Lines are bounded one by one; without this a block that never ends (no blank line)
        // would grow without limit one short line at a time.
        if (dataBytes > maxEventSize) {
          return fail(`Event over maxEventSize (${maxEventSize} B of data lines before the blank line that ends it; saw ${dataBytes})`)
        }
        dataBuffer = dataBuffer === undefined ? value : `${dataBuffer}\n${value}`
        break
      case 'id':
        if (value.includes('\0')) break
        ownId = true
        // An empty id clears an id the stream had; where it had none there is nothing to clear.
        if (value || idBuffer !== undefined) idBuffer = value
        break
      case 'retry':
        // The spec applies `retry` as soon as its line is read, even if the block never ends.
        if (/^[0-9]+$/.test(value)) options.onRetry?.(Number.parseInt(value, 10))
        break
      default:
      // Unknown fields are ignored.
    }
  }

  const onLine = (line: Uint8Array) => {
    if (stopped) return
    if (line.length > maxLineLength) return lineTooLong(line.length)
    if (line.length === 0) return dispatch()
    // Comments (heartbeats) are skipped before decoding: they are the most frequent line of all.
    if (line[0] === COLON) return
    const text = decoder.decode(line)
    const colon = text.indexOf(':')
    if (colon === -1) return processField(text, '', 0)
    // Exactly one leading space is part of the syntax, further ones belong to the value.
    const skip = text.charCodeAt(colon + 1) === 0x20 ? 2 : 1
    // Only `data` reads the byte count; its name is 4 ASCII bytes, so the colon's index in the
    // text is its index in the line.
    processField(text.slice(0, colon), text.slice(colon + skip), line.length - (colon + skip))
  }

  const splitLines = getLines(onLine)

  const feed = (chunk: Uint8Array) => {
    // `getLines` concatenates every chunk of an unterminated line into one growing buffer, so
    // an endless line is caught here, before it reaches it. Only the complete lines of this
    // chunk are fed first, so the events before the long line are dispatched whatever the
    // chunking was.
    let lastBreak = -1
    for (let i = chunk.length - 1; i >= 0; i--) {
      const byte = chunk[i]
      if (byte === LF || byte === CR) {
        lastBreak = i
        break
      }
    }
    const tail = lastBreak === -1 ? pendingLineBytes + chunk.length : chunk.length - 1 - lastBreak
    if (tail > maxLineLength) {
      if (lastBreak !== -1) splitLines(chunk.subarray(0, lastBreak + 1))
      if (!stopped) lineTooLong(tail)
      return
    }
    pendingLineBytes = tail
    splitLines(chunk)
  }

  return {
    push(chunk) {
      if (stopped || chunk.length === 0) return
      if (bomPrefix !== undefined) {
        // Only the first BOM of the stream is stripped, and it may arrive split over chunks.
        const head = concat(bomPrefix, chunk)
        let matched = 0
        while (matched < BOM.length && matched < head.length && head[matched] === BOM[matched]) matched++
        if (matched === head.length && matched < BOM.length) {
          bomPrefix = head
          return
        }
        bomPrefix = undefined
        chunk = matched === BOM.length ? head.subarray(BOM.length) : head
        if (chunk.length === 0) return
      }
      feed(chunk)
    },
    end() {
      if (stopped) return
      stopped = true
      // Whatever is left (a partial BOM, an unterminated line, a block without its blank line)
      // is discarded: the spec dispatches nothing at end of file.
      bomPrefix = undefined
    },
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
