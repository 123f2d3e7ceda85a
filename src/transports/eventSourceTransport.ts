/**
 * The `eventsource` transport: the platform's native `EventSource`, token in the query string.
 *
 * The native object reconnects by itself, but always to the URL it was built with, so after a
 * token rotation it would keep presenting the stale token. We therefore close it on its first
 * `error` and let the event stream decide about the next attempt (with a fresh URL).
 *
 * Limitation (browsers): the `error` event carries no detail. A 401, a 500, a wrong content type
 * and a refused connection look the same, so all of them are reported as `kind: 'network'`. The
 * one hint available is `readyState` at that moment: `CLOSED` before `open` means the browser
 * "failed the connection" (a response it will not retry: non-200 or wrong content type), which the
 * message mentions. The `eventsource` npm package (Node) adds `code` (the HTTP status) to its
 * error event; when present it is used for a precise kind, but nothing depends on it.
 *
 * Heartbeat comments are invisible through this API, so activity (for the idle watchdog) is
 * signalled on `open` and on every event: give an idle timeout longer than the server's heartbeat
 * period plus its event gaps, or use the fetch transport.
 */
import { EventStreamError } from '../core/errors'
import type { EventSourceLike, Transport, TransportConnectOptions, TransportHandlers } from '../core/types'
import { redactUrl, scrub } from './redact'

/** `EventSource.CLOSED`; read from the constant because a platform constructor may lack statics. */
const CLOSED = 2

/**
 * Creates the eventsource transport (`name: 'eventsource'`), built on `options.platform.EventSource`
 * (default `globalThis.EventSource`; in Node pass the `eventsource` package's constructor).
 *
 * Per `connect`: the token goes into the `tokenQueryParam` query parameter and the last event id
 * (when set) into `lastEventIdQueryParam`, each replacing any value already in the URL;
 * `withCredentials` is passed through. One listener per type in `options.events`. The first
 * `error` closes the native object and is reported once; after abort nothing is reported.
 */
export function createEventSourceTransport(): Transport {
  return { name: 'eventsource', connect: connectEventSource }
}

/** The stream URL for one attempt: token and last event id as query parameters. */
export function buildEventSourceUrl(options: Pick<TransportConnectOptions, 'url' | 'token' | 'lastEventId' | 'tokenQueryParam' | 'lastEventIdQueryParam'>): URL {
  const url = new URL(options.url.toString())
  // `set` (not `append`): a URL from a previous attempt or the caller must not keep a stale value.
  if (options.token !== undefined) url.searchParams.set(options.tokenQueryParam, options.token)
  if (options.lastEventId) url.searchParams.set(options.lastEventIdQueryParam, options.lastEventId)
  return url
}

function connectEventSource(options: TransportConnectOptions, handlers: TransportHandlers): () => void {
  const token = options.token
  let settled = false
  let opened = false
  let source: EventSourceLike | undefined
  const listeners: Array<[string, (ev: any) => void]> = []
  const at = `EventSource ${redactUrl(options.url, options)}`

  const teardown = () => {
    if (!source) return
    for (const [type, listener] of listeners) source.removeEventListener(type, listener)
    source.close()
    source = undefined
  }
  const settle = (report: () => void) => {
    if (settled) return
    settled = true
    teardown()
    report()
  }
  const fail = (error: EventStreamError) => settle(() => handlers.onError(error))

  const wanted = new Set(options.events)
  const onError = (ev: { code?: unknown; message?: unknown } | null) => {
    const readyState = source?.readyState
    const status = typeof ev?.code === 'number' ? ev.code : undefined
    const reason = typeof ev?.message === 'string' && ev.message ? `: ${scrub(ev.message, token)}` : ''
    if (status === 204) return settle(() => handlers.onClose({ noContent: true }))
    // Messages: what failed, the redacted URL and the status where known. The explanations of
    // the browser's silence are dev-only (DESIGN rule 4) so production bundles stay small; the
    // condition is written inline because bundlers only drop a branch they can see is dead.
    if (status === 401 || status === 403) return fail(new EventStreamError('unauthorized', `${at} rejected: HTTP ${status}`, { status }))
    if (status === 200) return fail(new EventStreamError('content-type', `${at}: not an event stream${reason}`, { status }))
    if (status! >= 100) return fail(new EventStreamError('http', `${at} failed: HTTP ${status}`, { status }))
    const refused = !opened && readyState === CLOSED
    fail(
      new EventStreamError(
        'network',
        (opened ? `${at}: connection lost` : refused ? `${at} refused` : `${at}: could not connect`) +
          reason +
          (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production'
            ? refused
              ? ' (a non-200 status or a wrong content type: the browser does not tell which)'
              : opened
                ? ''
                : ' (the browser hides the cause: an HTTP error and a network failure look the same)'
            : ''),
      ),
    )
  }

  try {
    const EventSourceImpl = options.platform.EventSource ?? (globalThis as { EventSource?: TransportConnectOptions['platform']['EventSource'] }).EventSource
    if (typeof EventSourceImpl !== 'function') {
      throw new EventStreamError('network', 'No EventSource: pass platform.EventSource')
    }
    source = new EventSourceImpl(buildEventSourceUrl(options).toString(), { withCredentials: options.withCredentials })
    // One listener per type, the lifecycle types first. A server event named `open` or `error`
    // arrives through the same listener as the native lifecycle event; only the server's carry
    // `data`, and they are delivered only when asked for.
    for (const type of new Set(['open', 'error', ...wanted])) {
      const listener = (ev: any) => {
        if (settled) return
        if ((type === 'open' || type === 'error') && typeof ev?.data !== 'string') {
          if (type === 'error') return onError(ev)
          opened = true
          handlers.onOpen()
          if (!settled) handlers.onActivity()
        } else if (wanted.has(type)) {
          handlers.onActivity()
          if (!settled) {
            handlers.onEvent({
              type,
              // `String` keeps a string as it is (the only kind a WHATWG EventSource delivers).
              data: String(ev.data),
              lastEventId: (typeof ev.lastEventId === 'string' && ev.lastEventId) || undefined,
            })
          }
        }
      }
      listeners.push([type, listener])
      source.addEventListener(type, listener)
    }
  } catch (cause) {
    teardown()
    const error = cause instanceof EventStreamError ? cause : new EventStreamError('network', `${at}: ${scrub(String((cause as Error)?.message ?? cause), token)}`)
    // No `cause`: a constructor error quotes the URL, token included. Reported asynchronously like every other outcome: the caller has not stored the abort
    // function yet while `connect` is still running.
    queueMicrotask(() => fail(error))
  }

  return () => {
    settled = true
    teardown()
  }
}
