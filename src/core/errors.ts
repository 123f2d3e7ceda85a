/**
 * Typed errors. Messages are written for developers and never contain a token: URLs are
 * redacted before they reach a message, and server bodies are not echoed.
 */
import { isAccessDenied } from './http'

/** Why an event stream failed or had to reconnect. */
export type EventStreamErrorKind =
  /** 401/403 from the stream twice in a row, or a terminal token failure. */
  | 'unauthorized'
  /** Any other HTTP status the stream does not accept (read by the eventsource transport's status probe in browsers). */
  | 'http'
  /** Network failure, dropped connection, or (eventsource transport) an unspecified error. */
  | 'network'
  /** 200 without `text/event-stream`. */
  | 'content-type'
  /** The consumer's `parse` threw; the stream goes on. */
  | 'parse'
  /** The token manager could not supply a token. */
  | 'token'
  /** No bytes for `idleTimeout` ms. */
  | 'idle-timeout'
  /** A line exceeded `maxLineLength`, or an event `maxEventSize`. */
  | 'line-too-long'
  /** The request cannot be made as configured (a header value `fetch` rejects, an invalid URL): not retried. */
  | 'invalid-request'
  /** The host is offline. */
  | 'offline'
  /** Gave up after `reconnect.maxAttempts`. */
  | 'max-attempts'
  /** `iterateEvents`: the consumer fell `bufferSize` events behind with `onOverflow: 'error'`. */
  | 'overflow'

// Fields are `declare`d and assigned in the constructor (same own, enumerable properties as
// initialised fields): a class-field initialiser is lowered to a `__publicField(this, …)` call per
// field for targets before ES2022, which costs bytes in every app bundle.

/** What every typed error of the library carries: a `kind`, and the HTTP details when there are some. */
class KindedError<K extends string> extends Error {
  declare readonly kind: K
  /** HTTP status, when known (the eventsource transport in a browser reads it with its status probe). */
  declare readonly status: number | undefined
  /** Server-requested delay before the next attempt, from `Retry-After`, in ms. */
  declare readonly retryAfter: number | undefined

  constructor(name: string, kind: K, message: string, options: { status?: number; retryAfter?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = name
    this.kind = kind
    this.status = options.status
    this.retryAfter = options.retryAfter
  }
}

export class EventStreamError extends KindedError<EventStreamErrorKind> {
  constructor(kind: EventStreamErrorKind, message: string, options: { status?: number; retryAfter?: number; cause?: unknown } = {}) {
    super('EventStreamError', kind, message, options)
  }
}

/** Why the token manager could not supply a token. */
export type TokenErrorKind =
  /** The token endpoint refused the user (its own 401/403, or `UnauthorizedError`): terminal until `refresh()`. */
  | 'unauthorized'
  /** Another HTTP status from the token endpoint (`status` set); retried with backoff. */
  | 'http'
  /** The request failed or timed out; retried with backoff. */
  | 'network'
  /** The answer had no token, or an unreadable expiry; retried with backoff. */
  | 'invalid-response'
  /** The manager was disposed. */
  | 'disposed'

/** A token manager's failure; `retryAfter` is the token endpoint's `Retry-After`: the next attempt waits at least this long. */
export class TokenError extends KindedError<TokenErrorKind> {
  constructor(kind: TokenErrorKind, message: string, options: { status?: number; retryAfter?: number; cause?: unknown } = {}) {
    super('TokenError', kind, message, options)
  }
}

/**
 * Throw (or reject with) this from `fetchToken` when the user is not allowed a token: the token
 * manager stops retrying and every stream depending on it ends `failed` with `kind: 'unauthorized'`.
 * Errors carrying `status` 401 or 403 are treated the same way.
 */
export class UnauthorizedError extends Error {
  declare readonly name: string
  declare readonly status: number
  constructor(message = 'Not authorized to obtain a stream token', status = 401) {
    super(message)
    this.name = 'UnauthorizedError'
    this.status = status
  }
}

/** True for errors that mean "this user may not have a token": retrying will not help. */
export function isUnauthorized(error: unknown): boolean {
  if (error instanceof UnauthorizedError) return true
  if (error instanceof TokenError) return error.kind === 'unauthorized'
  return isAccessDenied((error as { status?: unknown } | null)?.status)
}

