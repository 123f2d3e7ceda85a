/**
 * `use-event-stream/core`: the framework-free library. The core (token manager, event stream,
 * the contracts a transport implements), the two built-in transports, and `createEventStream`,
 * which picks one of them by name.
 */
export * from '../core/types'
export * from '../core/errors'
export { backoffDelay, type BackoffOptions } from '../core/backoff'
export { resolvePlatform } from '../core/platform'
export { callSafely, reportError } from '../core/reportError'
export { createListeners, type Listeners, type ListenerHooks } from '../core/subscribable'
export { createEventStreamWith, idleSnapshot, STREAM_DEFAULTS, type EventStream, type EventStreamOptions } from '../core/eventStream'
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
export { createEventStream, resolveTransport } from '../transports/auto'
export { createFetchTransport } from '../transports/fetchTransport'
export { createEventSourceTransport } from '../transports/eventSourceTransport'
export { createTokenManager, defaultRefreshLead, DEFAULT_TOKEN_LIFETIME, IDLE_TOKEN_SNAPSHOT, MIN_WALL_CLOCK_LIFETIME, type TokenManagerOptions } from '../core/tokenManager'
export { fetchTokenFrom, type FetchTokenFromOptions } from '../core/fetchToken'
export { decodeJwtPayload, readJwtTimes, type JwtTimes } from '../core/jwt'
