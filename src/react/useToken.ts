import { useCallback, useContext, useMemo, useSyncExternalStore } from 'react'
import { IDLE_TOKEN_SNAPSHOT, type TokenError, type TokenSnapshot, type TokenStatus } from 'use-event-stream/core'
import { TokenContext } from './TokenProvider'

/** What `useToken` returns. Deliberately never the token itself. */
export interface UseTokenResult {
  /** `'idle'` until a stream (or `refresh()`) first asks for a token; then `loading`, `valid`, `refreshing`, `error`, `unauthorized`. */
  status: TokenStatus
  /** When the current token expires (wall clock, ms since the epoch). */
  expiresAt: number | undefined
  /** Lifetime of the current token in ms. */
  lifetime: number | undefined
  /** When the next refresh (or retry) is due (wall clock, ms since the epoch). */
  refreshAt: number | undefined
  /** Last failure, kept while a still-valid token stays in use. */
  error: TokenError | undefined
  /**
   * Fetches a new token now; streams switch to it by their `rotation` policy. After
   * `'unauthorized'` it tries once more (a "sign in again" button). Resolves when the attempt ends
   * and never rejects: a failure shows in `status` and `error`. Stable across renders.
   */
  refresh(): Promise<void>
}

/**
 * The state of the nearest `TokenProvider`'s token manager, for status badges and "session
 * expiring" UIs. Re-renders when the state changes. Throws outside a `TokenProvider`.
 *
 * @example
 * ```tsx
 * function TokenBadge() {
 *   const { status, expiresAt, refresh } = useToken()
 *   if (status === 'unauthorized') return <button onClick={refresh}>Sign in again</button>
 *   return <span>token {status}{expiresAt ? `, expires ${new Date(expiresAt).toLocaleTimeString()}` : ''}</span>
 * }
 * ```
 */
export function useToken(): UseTokenResult {
  const context = useContext(TokenContext)
  if (!context) {
    // The how-to-fix part is dev-only (it would only add bytes to production bundles);
    // production keeps what went wrong.
    throw new Error(
      'useToken() must be used inside a <TokenProvider>' +
        (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production'
          ? ". Wrap your app: <TokenProvider fetchToken={fetchTokenFrom('/auth/sse-token')}>…</TokenProvider> (or pass tokens={manager})."
          : ''),
    )
  }
  const { tokens } = context
  const subscribe = useCallback((listener: () => void) => tokens.subscribe(listener), [tokens])
  const getSnapshot = useCallback(() => tokens.getSnapshot(), [tokens])
  const snapshot = useSyncExternalStore(subscribe, getSnapshot, getServerSnapshot)
  const refresh = useCallback(
    () =>
      tokens.refresh().then(
        () => undefined,
        () => undefined,
      ),
    [tokens],
  )
  return useMemo(
    () => ({
      status: snapshot.status,
      expiresAt: snapshot.expiresAt,
      lifetime: snapshot.lifetime,
      refreshAt: snapshot.refreshAt,
      error: snapshot.error,
      refresh,
    }),
    [snapshot, refresh],
  )
}

function getServerSnapshot(): TokenSnapshot {
  return IDLE_TOKEN_SNAPSHOT
}
