import type { EventStreamError } from './errors'

/** What the stream knows when a connection fails. */
export interface FailureContext {
  /** A token manager supplies the stream's tokens. */
  tokens: boolean
  /** The stream already refreshed its token once since its last open (after a 401/403). */
  refreshed: boolean
  /** The transport may hide the status of a refused attempt (the native `EventSource`). */
  statusesHidden: boolean
  /** The failed connection had opened. */
  opened: boolean
}

/**
 * What to do about a failed connection:
 * - `'stop'`: end `failed` with the error (nothing would change on another try);
 * - `'refresh'`: the server refused the token: reconnect at once with a newer one;
 * - `'retry-newer-token'`: back off, and ask for a newer token than the one just used (the
 *   refusal may have been a 401 the transport could not show);
 * - `'retry'`: back off, then try again.
 *
 * Pure: the table in docs/states-and-errors.md ("What each outcome does") is this function.
 */
export type FailureAction = 'stop' | 'refresh' | 'retry-newer-token' | 'retry'

export function decideOnFailure(error: EventStreamError, context: FailureContext): FailureAction {
  const { kind, status } = error
  if (kind === 'unauthorized') {
    // One refresh: the token may have been revoked or expired early. A second refusal, of a
    // newer token, is final; without a token manager there is nothing to refresh.
    return context.tokens && !context.refreshed ? 'refresh' : 'stop'
  }
  // Not retryable: a 4xx other than 408/429, a wrong content type, an over-long line or event, a
  // request that cannot be made. (An undefined status compares false.)
  if ((kind === 'http' && status! < 500 && status !== 408 && status !== 429) || kind === 'content-type' || kind === 'line-too-long' || kind === 'invalid-request') {
    return 'stop'
  }
  // A refusal whose status the transport hid may have been an expired or revoked token: the
  // next attempt asks for a newer one (once per run of failures).
  if (context.statusesHidden && context.tokens && !context.opened && status === undefined && !context.refreshed) return 'retry-newer-token'
  return 'retry'
}
