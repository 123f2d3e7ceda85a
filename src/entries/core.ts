/**
 * `use-event-stream/core`: the framework-free library. The core (token manager, event stream,
 * the contracts a transport implements), the two built-in transports, and `createEventStream`,
 * which picks one of them by name.
 */
export * from '../core/types'
export * from '../core/errors'
export { callSafely, reportError } from '../core/reportError'
export { parseEventData, type ParseOutcome } from '../core/parseEvent'
export { resolvePlatform } from '../core/platform'
export { STREAM_GAP_EVENT } from '../core/gap'
export { createStreamPosition, type StreamPosition, type ReplayFilter } from '../core/position'
export { createListeners, type Listeners, type ListenerHooks } from '../core/subscribable'
export { iterateEvents, type IterateEventsOptions, type IterationGap } from '../core/iterate'
export { createEventStreamWith, idleSnapshot, type EventStream, type EventStreamOptions } from '../core/eventStream'
export { overlapRotation } from '../core/rotation'
export { reconnectRotation, noRotation, type TokenRotation } from '../core/streamTokens'
export {
  createStreamRegistry,
  DEFAULT_GRACE_PERIOD,
  STREAM_KEY_OPTIONS,
  type Lease,
  type RegistryEntry,
  type SharedStreamOptions,
  type StreamRegistry,
  type StreamRegistryOptions,
  type StreamSink,
} from '../core/registry'
export { createEventStream, resolveTransport } from './createEventStream'
export { createFetchTransport } from '../transports/fetchTransport'
export { createEventSourceTransport } from '../transports/eventSourceTransport'
export { createTokenManager, IDLE_TOKEN_SNAPSHOT, type TokenManagerOptions } from '../core/tokenManager'
export { fetchTokenFrom, type FetchTokenFromOptions } from '../core/fetchToken'
