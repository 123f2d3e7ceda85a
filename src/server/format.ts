/**
 * Serialising events to the `text/event-stream` wire format (WHATWG HTML, "Server-sent events").
 * A field value may never contain CR, LF (they would start a new field, i.e. let an id or event
 * name inject arbitrary events), so those are rejected; multi-line data becomes several `data:` lines.
 */

/** One event to send. */
export interface SseEvent {
  /**
   * The `id:` field. Clients echo it back as `Last-Event-ID` when they reconnect.
   * Must not contain CR, LF or NUL (a client ignores an id with NUL). Default: no `id:` line.
   */
  id?: string | number
  /** The `event:` field (the event type). Must not contain CR or LF. Default: no line (type `message`). */
  event?: string
  /**
   * The payload. A string is sent as is (split on CR/LF into several `data:` lines, which the client
   * joins with `\n`); any other value is sent as `JSON.stringify(data)`. Required (`undefined` throws).
   */
  data: unknown
  /** The `retry:` field: the client's reconnection delay in ms, a non-negative integer. Default: none. */
  retry?: number
}

/** A comment line (`: text`), ignored by clients; used for heartbeats. */
export interface SseComment {
  /** The comment text; several lines become several comment lines. */
  comment: string
}

/**
 * An id-only block (`id: <id>` and a blank line): moves the client's last event id, what it sends
 * as `Last-Event-ID` when it reconnects, without dispatching an event. For a position that no
 * event marks, such as events sent without ids of their own.
 */
export interface SseIdOnly {
  /** The id. Must not contain CR, LF or NUL. */
  idOnly: string | number
}

/** What an SSE source yields: an event, a comment or an id-only block. */
export type SseMessage = SseEvent | SseComment | SseIdOnly

const LINE_BREAK = /\r\n|\r|\n/

function assertField(name: string, value: string, forbidNul: boolean): void {
  // The value itself is left out of the message: ids can be user-derived and end up in logs.
  if (/[\r\n]/.test(value) || (forbidNul && value.includes('\0'))) {
    throw new TypeError(`SSE ${name} must not contain CR, LF${forbidNul ? ' or NUL' : ''} characters`)
  }
}

/**
 * Serialises one event, terminated by the blank line that makes the client dispatch it.
 * Throws `TypeError` when `id`/`event` contain line breaks (or NUL for `id`), when `data` is
 * `undefined`, or when `retry` is not a non-negative integer.
 *
 * @example
 * formatEvent({ id: 7, event: 'tick', data: { price: 1 } })
 * // 'id: 7\nevent: tick\ndata: {"price":1}\n\n'
 */
export function formatEvent(event: SseEvent): string {
  let out = ''
  if (event.id !== undefined) {
    const id = String(event.id)
    assertField('id', id, true)
    out += `id: ${id}\n`
  }
  if (event.event !== undefined) {
    assertField('event', event.event, false)
    out += `event: ${event.event}\n`
  }
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) throw new TypeError('SSE retry must be a non-negative integer')
    out += `retry: ${event.retry}\n`
  }
  const raw = event.data
  const data = typeof raw === 'string' ? raw : JSON.stringify(raw)
  if (data === undefined) throw new TypeError('SSE data is required (got undefined or a value JSON cannot encode)')
  // One space after the colon: the client strips exactly one, so data starting with a space survives.
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`
  return `${out}\n`
}

/** Serialises a comment (`: text`), one comment line per line of `text`, followed by a blank line. */
export function formatComment(text: string): string {
  return `${text
    .split(LINE_BREAK)
    .map((line) => (line === '' ? ':' : `: ${line}`))
    .join('\n')}\n\n`
}

/** Serialises a bare `retry:` field. */
export function formatRetry(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new TypeError('SSE retry must be a non-negative integer')
  return `retry: ${ms}\n\n`
}

/** Serialises an id-only block. */
export function formatIdOnly(id: string | number): string {
  const text = String(id)
  assertField('id', text, true)
  return `id: ${text}\n\n`
}

/** True when the message is a comment rather than an event. */
export function isSseComment(message: SseMessage): message is SseComment {
  return typeof (message as SseComment).comment === 'string' && !('data' in message)
}

/** True when the message is an id-only block. */
export function isSseIdOnly(message: SseMessage): message is SseIdOnly {
  const id = (message as SseIdOnly).idOnly
  return (typeof id === 'string' || typeof id === 'number') && !('data' in message)
}

/** Serialises an event, a comment or an id-only block. */
export function formatMessage(message: SseMessage): string {
  if (isSseComment(message)) return formatComment(message.comment)
  return isSseIdOnly(message) ? formatIdOnly(message.idOnly) : formatEvent(message)
}
