import { createContext, useEffect, useInsertionEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { createEventStream, createStreamRegistry, createTokenManager, DEFAULT_GRACE_PERIOD, resolvePlatform, type FetchToken, type Platform, type StreamRegistry, type TokenManager } from 'use-event-stream/core'

/** What a provider gives its subtree: one token manager and one registry of shared streams. */
export interface TokenContextValue {
  readonly tokens: TokenManager
  readonly registry: StreamRegistry
  /** The `crossTab` of the hooks below that do not set their own. */
  readonly crossTab: { scope: string } | false | undefined
}

export const TokenContext = createContext<TokenContextValue | null>(null)

interface TokenProviderCommonProps {
  children?: ReactNode
  /**
   * How long a shared stream stays connected after its last component unmounts, in ms, so
   * StrictMode's mount/unmount/mount and quick route changes do not reconnect. Default `1000`.
   */
  gracePeriod?: number
  /**
   * The default `crossTab` of every `useEventStream` below (a hook's own `crossTab`, `false`
   * included, wins): `{ scope }` shares each stream with the other tabs of the same origin that
   * want the same stream with the same scope (use the signed-in user's id), so one tab connects
   * and asks for tokens for all. Default: none (every tab connects on its own).
   */
  crossTab?: { scope: string } | false
}

/** Props of `<TokenProvider fetchToken={…}>`: the provider creates, owns and disposes a token manager. */
export interface TokenProviderFetchProps extends TokenProviderCommonProps {
  /**
   * Asks your backend for a token (see `createTokenManager`); e.g.
   * `fetchTokenFrom('/auth/sse-token')`. The latest function is always the one called: passing a
   * new function on each render does not recreate the manager or drop its token. Required.
   */
  fetchToken: FetchToken
  /**
   * How long before expiry to fetch the next token: ms, or a function of the lifetime (ms).
   * Read once, when the manager is created. Default: `clamp(lifetime × 0.2, 1 s, 5 min)`, capped
   * at half the lifetime.
   */
  refreshLeadTime?: number | ((lifetime: number) => number)
  /** ms before a token request is aborted and retried with backoff; `0` disables. Read once. Default `15000`. */
  timeout?: number
  /** Host facilities for the token manager (clocks, timers, window/document). Read once. Default: the host's. */
  platform?: Partial<Platform>
  tokens?: undefined
}

/** Props of `<TokenProvider tokens={manager}>`: an existing manager, which the provider never disposes. */
export interface TokenProviderManagerProps extends TokenProviderCommonProps {
  /** A token manager you created (`createTokenManager`); you own its lifetime. */
  tokens: TokenManager
  fetchToken?: undefined
  refreshLeadTime?: undefined
  timeout?: undefined
  platform?: undefined
}

export type TokenProviderProps = TokenProviderFetchProps | TokenProviderManagerProps

/** One life of a provider: created at mount, and again when shown after a real unmount. */
interface ProviderState {
  registry: StreamRegistry
  /** The manager the provider created from `fetchToken` (none with `tokens`). */
  own?: TokenManager
  /** The deferred disposal an unmount scheduled; a remount (StrictMode) cancels it. */
  disposeTimer?: unknown
  disposed?: boolean
}

function newState(gracePeriod: number): ProviderState {
  return { registry: createStreamRegistry({ create: createEventStream, gracePeriod }) }
}

/**
 * Gives its subtree one token manager (for `useToken` and `useEventStream`) and one registry in
 * which hooks with the same stream key share a connection.
 *
 * Without `tokens`, it creates a manager from `fetchToken`, keeps it for the provider's whole life
 * (re-renders never recreate it) and disposes it on unmount; with `tokens`, it uses yours and
 * leaves its disposal to you. On unmount every stream of the subtree is closed.
 *
 * @example
 * ```tsx
 * import { TokenProvider, fetchTokenFrom } from 'use-event-stream'
 *
 * const fetchToken = fetchTokenFrom('/auth/sse-token')
 *
 * export function App() {
 *   return (
 *     <TokenProvider fetchToken={fetchToken}>
 *       <Dashboard />
 *     </TokenProvider>
 *   )
 * }
 * ```
 */
export function TokenProvider(props: TokenProviderProps): ReactNode {
  const gracePeriod = props.gracePeriod ?? DEFAULT_GRACE_PERIOD
  const fetchTokenRef = useRef<FetchToken | undefined>(props.fetchToken)
  const [state, setState] = useState(() => newState(gracePeriod))

  // Dev-only, inline so bundlers drop it and its text in production; `typeof
  // process` keeps an unbundled browser (no `process`) from throwing a ReferenceError.
  if (typeof process !== 'undefined' && process.env.NODE_ENV !== 'production' && !props.tokens && typeof props.fetchToken !== 'function') {
    throw new Error('<TokenProvider> needs a token source: pass fetchToken={fetchTokenFrom(\'/auth/sse-token\')} or tokens={createTokenManager({ fetchToken })}.')
  }

  // Creating a manager has no side effects (no request, no timer until it is used), so doing it
  // lazily during render is safe even when React renders twice or discards the render.
  if (!props.tokens && !state.own) {
    state.own = createTokenManager({
      fetchToken: (context) => {
        const fetchToken = fetchTokenRef.current
        if (!fetchToken) return Promise.reject(new Error('<TokenProvider> has no fetchToken'))
        return fetchToken(context)
      },
      refreshLeadTime: props.refreshLeadTime,
      timeout: props.timeout,
      platform: props.platform,
    })
  }
  const tokens = props.tokens ?? (state.own as TokenManager)

  useInsertionEffect(() => {
    fetchTokenRef.current = props.fetchToken
    state.registry.gracePeriod = gracePeriod
  })

  useEffect(() => {
    if (state.disposed) {
      // Shown again after a real unmount (e.g. a hidden <Activity>): start over with fresh parts.
      setState(newState(state.registry.gracePeriod))
      return undefined
    }
    // The provider's platform: a test's virtual clock (or leak check) sees this timer too.
    const platform = resolvePlatform(props.platform)
    if (state.disposeTimer !== undefined) {
      platform.clearTimeout(state.disposeTimer)
      state.disposeTimer = undefined
    }
    return () => {
      // Deferred: StrictMode unmounts and remounts at once, which cancels this; a real unmount
      // closes every stream of the subtree and the manager this provider created.
      state.disposeTimer = platform.setTimeout(() => {
        state.disposeTimer = undefined
        state.disposed = true
        state.registry.closeAll()
        state.own?.dispose()
      }, 0)
    }
  }, [state])

  // By value: an inline `{ scope }` is new on every render.
  const crossTab = props.crossTab
  const value = useMemo<TokenContextValue>(() => ({ tokens, registry: state.registry, crossTab }), [tokens, state.registry, crossTab && crossTab.scope])
  return <TokenContext.Provider value={value}>{props.children}</TokenContext.Provider>
}
