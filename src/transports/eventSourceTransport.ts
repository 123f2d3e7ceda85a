/**
 * The `eventsource` transport: the platform's native `EventSource`, token in the query string.
 *
 * The native object reconnects by itself, but always to the URL it was built with, so after a
 * token rotation it would keep presenting the stale token. We therefore close it on its first
 * `error` and let the event stream decide about the next attempt (with a fresh URL).
 *
 * Statuses: a browser's `error` event carries no detail, so a 401, a 503 with `Retry-After`, a 204
 * and a wrong content type would all look like a network failure. When the native object fails
 * before it opened with `readyState` `CLOSED` (a response it will not retry), one probe request
 * (`platform.fetch`, same URL) reads the status and headers, and the outcome is classified exactly
 * like the fetch transport's own response. The cost: one extra request per such failure, carrying
 * the token in its URL like the EventSource's. Without `fetch`, or when the probe fails or is
 * answered with an event stream (the failure was transient), the error stays `kind: 'network'`.
 * The `eventsource` npm package (Node) adds `code` (the HTTP status) to its error event; when
 * present it is used directly, except for 429 and 503, where the probe reads `Retry-After`.
 *
 * Heartbeat comments are invisible through this API, so activity (for the idle watchdog) is
 * signalled on `open` and on every event: give an idle timeout longer than the server's heartbeat
 * period plus its event gaps, or use the fetch transport.
 */
import { EventStreamError } from '../core/errors'
import type { EventSourceLike, Transport, TransportConnectOptions, TransportHandlers } from '../core/types'
import { scrub, showUrl } from '../core/redact'
import { classifyStreamResponse } from './streamResponse'

/** `EventSource.CLOSED`; read from the constant because a platform constructor may lack statics. */
const CLOSED = 2

/**
 * Creates the eventsource transport (`name: 'eventsource'`), built on `options.platform.EventSource`
 * (default `globalThis.EventSource`; in Node pass the `eventsource` package's constructor).
 *
 * Per `connect`: the token goes into the `tokenQueryParam` query parameter and the last event id
 * (when set) into `lastEventIdQueryParam`, each replacing any value already in the URL;
 * `withCredentials` is passed through. One listener per type in `options.events`. The first
 * `error` closes the native object and is reported once (after the status probe, see above);
 * after abort nothing is reported and a probe in flight is aborted.
 *
 * Event ids: events before the connection's first id report the id it resumed from
 * (`options.lastEventId`), since a fresh native object reports `''` there. An empty id never
 * replaces a known one: the `eventsource` npm package (4.x) reports `''` for every event without
 * an id of its own (browsers report the stream's last id), and a browser reports `''` after the
 * server cleared the id, where resuming from the last id and dropping the repeats loses nothing.
 * `hasOwnId` is `false` when the id did not change, and unknown (`undefined`) when it did: the
 * event carried it, or an id-only block before it set it, which this API does not show.
 */
export function createEventSourceTransport(): Transport {
  // No request headers, and a status only when the probe (or the platform's error event) finds it.
  return { name: 'eventsource', capabilities: { headers: false, statuses: false, requestBody: false }, connect: connectEventSource }
}

/** The stream URL for one attempt: token and last event id as query parameters. */
function buildEventSourceUrl(options: Pick<TransportConnectOptions, 'url' | 'token' | 'lastEventId' | 'tokenQueryParam' | 'lastEventIdQueryParam'>): URL {
  const url = new URL(options.url.toString())
  // `set` (not `append`): a URL from a previous attempt or the caller must not keep a stale value.
  if (options.token !== undefined) url.searchParams.set(options.tokenQueryParam, options.token)
  if (options.lastEventId) url.searchParams.set(options.lastEventIdQueryParam, options.lastEventId)
  return url
}

function connectEventSource(options: TransportConnectOptions, handlers: TransportHandlers): () => void {
  const token = options.token
  // The exact URL of this attempt, for the native object and for a status probe.
  const url = buildEventSourceUrl(options).toString()
  let settled = false
  let opened = false
  let source: EventSourceLike | undefined
  let probe: AbortController | undefined
  const listeners: Array<[string, (ev: any) => void]> = []
  const at = `EventSource ${showUrl(options)}`

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
  // A fresh native object reports `lastEventId: ''` until the server sends an id on this
  // connection (it never saw the id we resumed from), so until then that id stands.
  let previousId = options.lastEventId
  const onError = (ev: { code?: unknown; message?: unknown } | null) => {
    // `CLOSED` before `open`: the browser got a response it will not retry (a non-200 status or a
    // wrong content type) and does not say which; a network failure leaves it `CONNECTING`.
    const refused = !opened && source?.readyState === CLOSED
    const reason = typeof ev?.message === 'string' && ev.message ? `: ${scrub(ev.message, token)}` : ''
    const fetchImpl = options.platform.fetch
    // The explanations are dev-only so production bundles stay small; the condition is written
    // inline because bundlers only drop a branch they can see is dead.
    const network = new EventStreamError(
      'network',
      (opened ? `${at}: connection lost` : refused ? `${at} refused` : `${at}: could not connect`) +
        reason +
        (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production'
          ? refused
            ? fetchImpl
              ? ' (the browser hides the status, and a probe request to read it failed or was answered with an event stream)'
              : ' (a non-200 status or a wrong content type: the browser does not tell which, and without platform.fetch it cannot be probed)'
            : opened
              ? ''
              : ' (the browser hides the cause: an HTTP error and a network failure look the same)'
          : ''),
    )
    const conclude = (outcome: EventStreamError | 'no-content' | undefined) =>
      outcome === 'no-content' ? settle(() => handlers.onClose({ noContent: true })) : fail(outcome ?? network)
    // The `eventsource` npm package (Node) reports the status as `code`, but not the headers:
    // for the statuses that come with a `Retry-After` (429, 503) the probe reads them.
    const code = typeof ev?.code === 'number' && ev.code >= 100 ? ev.code : undefined
    const headersMatter = code === 429 || code === 503
    if (code !== undefined && !(headersMatter && typeof fetchImpl === 'function')) {
      return conclude(classifyStreamResponse({ status: code, headers: undefined, at, now: options.platform.now(), token }))
    }
    if (!(refused || headersMatter) || typeof fetchImpl !== 'function') return fail(network)
    // One probe per failed attempt: the same URL again with fetch, which sees the status and
    // headers, classified exactly as the fetch transport classifies its own response. Only the
    // head is needed, so the request is aborted once it arrives (or when the attempt is aborted).
    teardown()
    const controller = (probe = new AbortController())
    // Inside a promise: a platform fetch that throws instead of rejecting counts as a failed probe.
    new Promise<Response>((resolve) =>
      resolve(
        fetchImpl(url, {
          headers: { Accept: 'text/event-stream' },
          cache: 'no-store',
          credentials: options.withCredentials ? 'include' : 'same-origin',
          signal: controller.signal,
        }),
      ),
    ).then(
      (response) => {
        controller.abort()
        conclude(classifyStreamResponse({ status: response.status, headers: response.headers, at, now: options.platform.now(), token }))
      },
      () => fail(network),
    )
  }

  try {
    const EventSourceImpl = options.platform.EventSource
    if (typeof EventSourceImpl !== 'function') {
      throw new EventStreamError('network', 'No EventSource: pass platform.EventSource')
    }
    source = new EventSourceImpl(url, { withCredentials: options.withCredentials })
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
            // '' is the id of an event without one in the `eventsource` package, and a cleared id
            // in browsers: either way the resume point stands (a replaying server repeats what
            // came after it, and the stream drops those repeats).
            const native: string = typeof ev.lastEventId === 'string' ? ev.lastEventId : ''
            const lastEventId = native || previousId
            // Unchanged: the event had no id of its own. Changed: it had one, or an id-only block
            // before it set the id; this API cannot tell, so `hasOwnId` stays unknown.
            const hasOwnId = lastEventId === previousId ? false : undefined
            previousId = lastEventId
            // `String` keeps a string as it is (the only kind a WHATWG EventSource delivers).
            handlers.onEvent({ type, data: String(ev.data), lastEventId, hasOwnId })
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
    probe?.abort()
  }
}
