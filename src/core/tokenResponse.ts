// What a token request's outcome means, for `fetchTokenFrom` (an HTTP response) and the token
// manager (whatever `fetchToken` resolved or rejected with): read once, the same way for both.
import { TokenError, UnauthorizedError } from './errors'
import { isAccessDenied } from './http'

/** A token response, read and checked: what the token manager measures a lifetime from. */
export interface ReadTokenResponse {
  token: string
  /** Seconds, server-relative (OAuth `expires_in`). */
  expiresIn?: number
  /** Ms since the epoch, in the server's idea of the wall clock. */
  expiresAt?: number
}

/**
 * The one reader of token responses, for `fetchTokenFrom` (a JSON body) and the token manager
 * (whatever `fetchToken` resolved with). Accepts a bare token string, `{ token, expiresIn }`, the
 * OAuth shape `{ access_token, expires_in }`, `expiresIn` as a numeric string, and `expiresAt` as
 * ms since the epoch, a `Date` or a date string. Anything else is a `TokenError` of kind
 * `'invalid-response'` whose message starts with `source` and never contains the token.
 */
export function readTokenResponse(response: unknown, source: string): ReadTokenResponse {
  const invalid = (detail: string) =>
    new TokenError('invalid-response', `${source} answered ${detail}; expected { token, expiresIn } (expiresIn in seconds)`)
  if (typeof response === 'string') {
    if (response.length === 0) throw invalid('an empty token')
    return { token: response }
  }
  if (typeof response !== 'object' || response === null || Array.isArray(response)) throw invalid('something that is not an object')
  const body = response as Record<string, unknown>
  const token = body.token ?? body.access_token
  if (typeof token !== 'string' || token.length === 0) throw invalid('without a token')
  // Some OAuth servers send expires_in as a numeric string.
  const expiresIn = readNumber(body.expiresIn ?? body.expires_in, Number)
  if (expiresIn !== undefined) {
    if (Number.isNaN(expiresIn) || expiresIn <= 0) throw invalid('with an invalid expiresIn')
    return { token, expiresIn }
  }
  const expiresAt = readNumber(body.expiresAt instanceof Date ? body.expiresAt.getTime() : body.expiresAt, Date.parse)
  if (expiresAt !== undefined) {
    if (Number.isNaN(expiresAt)) throw invalid('with an invalid expiresAt')
    return { token, expiresAt }
  }
  return { token }
}

/**
 * A field that may be a number or a non-blank string (read by `parse`): `undefined` when absent
 * (`undefined` or `null`), `NaN` when it is not a finite number.
 */
function readNumber(raw: unknown, parse: (text: string) => number): number | undefined {
  if (raw === undefined || raw === null) return undefined
  const value = typeof raw === 'string' && raw.trim() !== '' ? parse(raw) : raw
  return typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN
}

/**
 * A failed token request as a `TokenError`, the one place that decides its kind: 401/403 (or an
 * `UnauthorizedError`) is `'unauthorized'`, which the manager treats as terminal; another status
 * is `'http'`; no status at all is `'network'` (both retried). The message is `<request> failed
 * (<status, or the error's type>)`: never the error's own text nor a server's body, which could
 * quote the token. `cause` keeps the original error for debugging.
 */
export function tokenRequestError(request: string, failure: { status?: number; retryAfter?: number; cause?: unknown }): TokenError {
  const { status, cause } = failure
  const kind = isAccessDenied(status) || cause instanceof UnauthorizedError ? 'unauthorized' : status === undefined ? 'network' : 'http'
  const what = status !== undefined ? `HTTP ${status}` : cause instanceof Error ? cause.name : typeof cause
  return new TokenError(kind, `${request} failed (${what})`, failure)
}
