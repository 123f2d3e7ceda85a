/**
 * The React entry of use-event-stream: `TokenProvider`, `useToken`, `useEventStream`, and the
 * core's public classes and types a React app needs. The build adds "use client" on line 1.
 * The core is imported through its package name so every entry shares one copy at run time.
 */
export { TokenProvider, type TokenProviderProps, type TokenProviderFetchProps, type TokenProviderManagerProps } from './react/TokenProvider'
export { useToken, type UseTokenResult } from './react/useToken'
export { useEventStream } from './react/useEventStream'
export type {
  BatchOption,
  EventParser,
  EventParsers,
  EventsOf,
  TypedStreamEvent,
  UseEventStreamResult,
} from './react/types'

export {
  createTokenManager,
  fetchTokenFrom,
  createEventStream,
  EventStreamError,
  TokenError,
  UnauthorizedError,
  isUnauthorized,
  type TokenManagerOptions,
  type FetchTokenFromOptions,
  type EventStream,
  type EventStreamOptions,
  type EventStreamErrorKind,
  type TokenErrorKind,
  type EventStreamSnapshot,
  type EventStreamStatus,
  type StreamEvent,
  type StreamGap,
  type TokenManager,
  type TokenSnapshot,
  type TokenStatus,
  type FetchToken,
  type TokenFetchReason,
  type TokenResponse,
  type Transport,
  type TransportName,
  type RotationPolicy,
  type ReconnectOptions,
  type Platform,
} from 'use-event-stream/core'
