/**
 * What the head of a stream response means: shared by the fetch transport (its own response) and
 * the eventsource transport's status probe, so both classify a status the same way. Kept apart from
 * `fetchTransport.ts` so the eventsource transport never pulls in `@microsoft/fetch-event-source`.
 */
import { EventStreamError } from '../core/errors'
import { isAccessDenied } from '../core/http'
import { scrub } from '../core/redact'
import { parseRetryAfter } from '../core/retryAfter'

/**
 * Classifies a stream response by its status and content type:
 * - `undefined`: 200 with `text/event-stream` (any case, any parameters): an event stream;
 * - `'no-content'`: 204, the server says "stop";
 * - an `EventStreamError`: 401/403 → `unauthorized`; any other status → `http` with `status` and
 *   `retryAfter` (ms, from `Retry-After`, against `now`); 200 with another type → `content-type`.
 *
 * `headers` is `undefined` where only the status is known (the `eventsource` npm package's error
 * `code`). `at` starts every message: the redacted URL, never one holding a token. The body is
 * not read.
 */
export function classifyStreamResponse({ status, headers, at, now, token }: {
  status: number
  headers: Pick<Headers, 'get'> | undefined
  at: string
  now: number
  /** Cut out of anything the server chose that the message quotes. */
  token: string | undefined
}): EventStreamError | 'no-content' | undefined {
  if (status === 204) return 'no-content'
  if (isAccessDenied(status)) return new EventStreamError('unauthorized', `${at} rejected: HTTP ${status}`, { status })
  if (status !== 200) {
    return new EventStreamError('http', `${at} failed: HTTP ${status}`, {
      status,
      retryAfter: parseRetryAfter(headers?.get('retry-after') ?? null, now),
    })
  }
  const contentType = headers?.get('content-type')
  if ((contentType ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream') return undefined
  // The content type is server-chosen: capped so a hostile one stays short, and a server that
  // echoes the token into it does not get the token into the message.
  const shown = contentType === undefined ? 'unknown' : contentType === null ? 'none' : scrub(JSON.stringify(contentType.slice(0, 100)), token)
  return new EventStreamError('content-type', `${at}: content type ${shown}, expected text/event-stream`, { status })
}
