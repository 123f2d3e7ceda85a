/**
 * String transport names (`'auto' | 'eventsource' | 'fetch'`) and the `createEventStream` that
 * accepts them. Kept apart from `eventStream.ts` so that an app which passes a transport object to
 * `createEventStreamWith` never bundles the other transport (and, for the eventsource transport,
 * never bundles `@microsoft/fetch-event-source`).
 */
import { createEventStreamWith, type EventStream, type EventStreamOptions } from './eventStream'
import { resolvePlatform } from './platform'
import { createEventSourceTransport } from '../transports/eventSourceTransport'
import { createFetchTransport } from '../transports/fetchTransport'
import type { Platform, Transport, TransportName } from './types'

/** Resolves `'auto'` and names to a transport. */
export function resolveTransport(choice: EventStreamOptions['transport'], hasTokens: boolean, platform: Platform): Transport {
  if (choice && typeof choice === 'object') return choice
  const name = choice === 'fetch' || choice === 'eventsource' ? choice : autoTransport(hasTokens, platform)
  return name === 'fetch' ? createFetchTransport() : createEventSourceTransport()
}

function autoTransport(hasTokens: boolean, platform: Platform): TransportName {
  const streamingFetch = typeof platform.fetch === 'function' && typeof (globalThis as any).ReadableStream === 'function'
  if (hasTokens && streamingFetch) return 'fetch'
  if (platform.EventSource) return 'eventsource'
  return 'fetch'
}

/**
 * Creates a reconnecting event stream; `transport` may be a name, `'auto'` (default) or a
 * `Transport` object. Bundles both built-in transports: use `createEventStreamWith(transport,
 * options)` to ship only one.
 *
 * @example
 * const tokens = createTokenManager({ fetchToken: fetchTokenFrom('/api/sse-token') })
 * const stream = createEventStream({ url: '/api/stream', tokens, parse: JSON.parse })
 * stream.subscribe(() => console.log(stream.getSnapshot().status))
 * stream.connect()
 */
export function createEventStream<TData = string>(options: EventStreamOptions<TData>): EventStream<TData> {
  return createEventStreamWith(resolveTransport(options.transport, !!options.tokens, resolvePlatform(options.platform)), options)
}
