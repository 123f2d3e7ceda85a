import { parseRetryAfter } from './retryAfter'
import { readTokenResponse, tokenRequestError } from './tokenResponse'
import { TokenError } from './errors'
import { cancelBody } from './http'
import type { FetchToken, TokenResponse } from './types'

/** Options of {@link fetchTokenFrom}. */
export interface FetchTokenFromOptions {
  /** HTTP method. Default `'POST'` (a token request changes server state and must not be cached). */
  method?: string
  /**
   * Whether cookies go with the request. Default `'include'`: the token endpoint usually
   * authenticates the user by their session cookie, possibly on another origin.
   */
  credentials?: RequestCredentials
  /**
   * Extra request headers (e.g. a CSRF token), or a function returning them, called before every
   * request so values read at request time stay current. `Accept: application/json` is added
   * unless given. Default: none.
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>)
  /**
   * Request body. A plain object is sent as JSON (with `Content-Type: application/json` unless a
   * content type is given); anything else is passed to `fetch` unchanged. Default: no body.
   */
  body?: BodyInit | Record<string, unknown> | null
  /** `fetch` implementation. Default: `globalThis.fetch`, looked up at request time. */
  fetch?: typeof fetch
}

/**
 * Builds a `fetchToken` for `createTokenManager` that asks the app's own endpoint for a token,
 * the common case (`POST` with the session cookie).
 *
 * The response must be JSON: `{ token, expiresIn }` (expiresIn in **seconds**), the OAuth shape
 * `{ access_token, expires_in }`, `{ token, expiresAt }` (ms since the epoch), `{ token }`, or a
 * bare JSON string. A non-2xx answer rejects with a `TokenError` carrying `status` (kind
 * `'unauthorized'` for 401/403, which the token manager treats as terminal; `'http'` otherwise,
 * which it retries); a body without a token rejects with kind `'invalid-response'`; a network
 * failure with kind `'network'`. Messages name the endpoint without its query string and never
 * contain the response body.
 *
 * @example
 * ```ts
 * const tokens = createTokenManager({
 *   fetchToken: fetchTokenFrom('/auth/sse-token', { headers: () => ({ 'x-csrf-token': readCsrf() }) }),
 * })
 * ```
 */
export function fetchTokenFrom(url: string | URL, options: FetchTokenFromOptions = {}): FetchToken {
  // Every message starts with it; the URL shown has no credentials, query or fragment.
  const subject = `The token endpoint ${describeEndpoint(url)}`
  return async ({ signal }) => {
    const doFetch = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch
    if (typeof doFetch !== 'function') {
      throw new TokenError('network', 'fetchTokenFrom: no fetch implementation available; pass options.fetch')
    }
    const headers = new Headers(typeof options.headers === 'function' ? await options.headers() : options.headers)
    if (!headers.has('accept')) headers.set('accept', 'application/json')
    let body: BodyInit | null | undefined
    if (isPlainObject(options.body)) {
      body = JSON.stringify(options.body)
      if (!headers.has('content-type')) headers.set('content-type', 'application/json')
    } else {
      body = options.body as BodyInit | null | undefined
    }

    let response: Response
    try {
      response = await doFetch(url, { method: options.method ?? 'POST', credentials: options.credentials ?? 'include', headers, body, signal })
    } catch (error) {
      // An abort is the manager's own doing (dispose); let it through untouched.
      if (signal.aborted) throw error
      throw tokenRequestError(subject, { cause: error })
    }

    if (!response.ok) {
      // The body is not read: it could echo anything, and nothing in it changes what we do.
      cancelBody(response)
      // A rate-limited or overloaded endpoint says when to come back (429/503 `Retry-After`).
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), Date.now())
      throw tokenRequestError(subject, { status: response.status, retryAfter })
    }

    let data: unknown
    try {
      data = await response.json()
    } catch (error) {
      if (signal.aborted) throw error
      throw new TokenError('invalid-response', `${subject} did not answer with JSON`)
    }
    return readTokenResponse(data, subject)
  }
}

/** The endpoint as it may appear in messages: no credentials, no query, no fragment. */
function describeEndpoint(url: string | URL): string {
  const text = url.toString()
  try {
    const parsed = new URL(text)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    // Relative URL (browser): keep only the path.
    return text.split(/[?#]/, 1)[0] ?? ''
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
