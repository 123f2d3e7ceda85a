/**
 * The built-in transports by name (`'auto' | 'eventsource' | 'fetch'`) and the `createEventStream`
 * that accepts them. It sits above the core and both transports: the core knows neither, and an
 * app that passes one transport to `createEventStreamWith` never bundles the other (nor, for the
 * eventsource transport, `@microsoft/fetch-event-source`).
 */
import { createEventStreamWith, STREAM_DEFAULTS, type EventStream, type EventStreamOptions } from '../core/eventStream'
import { resolvePlatform } from '../core/platform'
import { overlapRotation } from '../core/rotation'
import { noRotation, reconnectRotation } from '../core/streamTokens'
import { createCrossTabEventStream } from '../crossTab/lazy'
import type { Platform, Transport, TransportName } from '../core/types'
import { createEventSourceTransport } from '../transports/eventSourceTransport'
import { createFetchTransport } from '../transports/fetchTransport'

/**
 * Resolves `'auto'` and names to a transport. Without `platform` it predicts the choice without
 * touching the host, as a binding needs during server rendering (the host is assumed to have both
 * `fetch` and `EventSource`).
 */
export function resolveTransport(options: Pick<EventStreamOptions<unknown>, 'transport' | 'tokens' | 'headers' | 'method' | 'body'>, platform?: Platform): Transport {
  const choice = options.transport
  if (choice && typeof choice === 'object') return choice
  const name = choice === 'fetch' || choice === 'eventsource' ? choice : autoTransport(options, platform)
  return name === 'fetch' ? createFetchTransport() : createEventSourceTransport()
}

/**
 * The `'auto'` rule: fetch when the stream needs what only fetch can do (a token kept out of the
 * URL, request headers, a request body or method) and the host streams responses; otherwise the native EventSource where
 * there is one. `platform` may be omitted to predict the choice without touching the host (server
 * rendering): the host is then assumed to have both.
 */
function autoTransport(options: Pick<EventStreamOptions<unknown>, 'tokens' | 'headers' | 'method' | 'body'>, platform?: Platform): TransportName {
  const needsFetch =
    !!options.tokens || (!!options.headers && Object.keys(options.headers).length > 0) || options.body !== undefined || (options.method ?? STREAM_DEFAULTS.method).toUpperCase() !== 'GET'
  if (!platform) return needsFetch ? 'fetch' : 'eventsource'
  const streamingFetch = typeof platform.fetch === 'function' && typeof platform.ReadableStream === 'function'
  if (needsFetch && streamingFetch) return 'fetch'
  if (platform.EventSource) return 'eventsource'
  return 'fetch'
}

/**
 * `options` with `rotation` as the unit `createEventStreamWith` takes: the names `'reconnect'` and
 * `'none'`, and `'overlap'` (the default), resolved as transport names are.
 */
function withRotationUnit<T extends EventStreamOptions<any>>(options: T): T {
  const rotation = options.rotation ?? STREAM_DEFAULTS.rotation
  if (typeof rotation === 'function' || !options.tokens) return options
  return { ...options, rotation: rotation === 'reconnect' ? reconnectRotation : rotation === 'none' ? noRotation : overlapRotation }
}

/**
 * Creates a reconnecting event stream; `transport` may be a name, `'auto'` (default) or a
 * `Transport` object. Bundles both built-in transports: use `createEventStreamWith(transport,
 * options)` to ship only one. `crossTab` shares the stream with other tabs (see its documentation);
 * an empty or missing `crossTab.scope` throws an `EventStreamError` of kind `'invalid-request'`.
 *
 * @example
 * const tokens = createTokenManager({ fetchToken: fetchTokenFrom('/api/sse-token') })
 * const stream = createEventStream({ url: '/api/stream', tokens, parse: JSON.parse })
 * stream.subscribe(() => console.log(stream.getSnapshot().status))
 * stream.connect()
 */
export function createEventStream<TData = string>(options: EventStreamOptions<TData>): EventStream<TData> {
  const transport = resolveTransport(options, resolvePlatform(options.platform))
  // With `crossTab`, the stream may be another tab's, relayed (the cross-tab part loads on demand).
  return createCrossTabEventStream(withRotationUnit(options), (streamOptions) => createEventStreamWith(transport, streamOptions))
}
