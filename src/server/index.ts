/**
 * `use-event-stream/server`: helpers for the backend half of an SSE endpoint behind short-lived
 * tokens. No React, no DOM. Works with WHATWG `Request`/`Response` and with Node's `node:http`.
 * `mintSseToken`/`verifySseToken` load the optional `jose` package on first call.
 */
export { formatEvent, formatComment, formatRetry, formatIdOnly, formatMessage, isSseComment, isSseIdOnly, type SseEvent, type SseComment, type SseIdOnly, type SseMessage } from './format'
export {
  readSseToken,
  readLastEventId,
  redactToken,
  redactAuthorization,
  unauthorizedResponse,
  type AnyRequest,
  type NodeRequestLike,
  type ReadSseTokenOptions,
  type ReadLastEventIdOptions,
  type UnauthorizedResponseOptions,
} from './request'
export {
  streamSse,
  createSseResponse,
  pipeSseToNode,
  SSE_HEADERS,
  type SseSource,
  type SseSourceContext,
  type SseSink,
  type StreamSseOptions,
  type CreateSseResponseOptions,
  type PipeSseToNodeOptions,
  type NodeResponseLike,
} from './stream'
export {
  mintSseToken,
  verifySseToken,
  type MintSseTokenOptions,
  type VerifySseTokenOptions,
  type VerifySseTokenResult,
  type SseTokenFailure,
  type SseTokenPayload,
  type SseTokenSecret,
} from './jwt'
export {
  createSseHandler,
  type CreateSseHandlerOptions,
  type SseHandler,
  type SseHandlerContext,
  type SseHandlerNodeResponse,
} from './handler'
export {
  createMemoryEventLog,
  STREAM_GAP_EVENT,
  type StreamGapEvent,
  type EventLog,
  type EventLogEntry,
  type EventLogInput,
  type EventLogReadOptions,
  type MemoryEventLogOptions,
} from './eventLog'
