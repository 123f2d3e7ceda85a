import { useCallback, useContext, useInsertionEffect, useState, useSyncExternalStore } from 'react'
import { DEFAULT_GRACE_PERIOD, resolveTransport, STREAM_KEY_OPTIONS, type SharedStreamOptions, type StreamEvent, type StreamRegistry, type TokenManager } from 'use-event-stream/core'
import { createHookStore, type HookCallbacks, type StreamConfig } from './hookStore'
import { TokenContext } from './TokenProvider'
import type {
  EventParser,
  EventParsers,
  EventsOf,
  ReducerOptions,
  UseEventStreamBaseOptions,
  UseEventStreamListOptions,
  UseEventStreamMapOptions,
  UseEventStreamResult,
} from './types'

/** Every option `useEventStream` accepts, in the loose form the implementation reads. */
type AnyOptions = UseEventStreamBaseOptions<StreamEvent<any>> & {
  events?: readonly string[] | EventParsers
  parse?: EventParser
  reduce?: (state: any, event: StreamEvent<any>) => any
  initialState?: unknown
}

/**
 * Subscribes a component to a Server-Sent Events stream and returns its state.
 *
 * Under a `TokenProvider`, each connection gets a fresh token from the provider's manager, and
 * hooks with the same stream key (url without the token parameter, transport, credentials, event
 * types, headers and the other connection options) share one connection, closed `gracePeriod` ms
 * after the last of them unmounts. Without a provider the hook still works, with no token (cookie
 * or public streams) and a connection of its own.
 *
 * A `null` url or `enabled: false` keeps the hook `idle` without any request, with no `data` or
 * `lastEvent` and `state` at `initialState`. Changing the stream key reconnects and resets `data`,
 * `lastEvent` and `state`, from the very render that changes it: no render shows one stream's
 * values under another's key. `parse`, `onEvent`, `onError` and `reduce` are read fresh on every
 * event, so passing new functions never reconnects. A callback that throws is reported (the host's
 * `reportError`) and breaks nothing: other hooks on the same connection still get every event.
 *
 * Server rendering returns the `idle` snapshot and hydrates without mismatch; nothing touches
 * `window` or `document` during render.
 *
 * @example
 * ```tsx
 * type Tick = { symbol: string; price: number }
 *
 * function Ticker() {
 *   const { status, data, state: history } = useEventStream('/api/prices', {
 *     parse: (s) => JSON.parse(s) as Tick,
 *     reduce: (list: Tick[], event) => [...list.slice(-99), event.data],
 *     initialState: [],
 *     batch: 'frame',
 *   })
 *   if (status === 'failed') return <p>Price feed unavailable</p>
 *   return <p>{data ? `${data.symbol} ${data.price}` : 'waiting…'} ({history.length} ticks)</p>
 * }
 * ```
 *
 * @example
 * ```tsx
 * // One parser per event type: lastEvent is a union discriminated on `type`.
 * const { lastEvent } = useEventStream('/api/feed', {
 *   events: { tick: (s) => JSON.parse(s) as Tick, news: (s) => s },
 * })
 * if (lastEvent?.type === 'tick') lastEvent.data.price // Tick
 * ```
 */
export function useEventStream<M extends EventParsers, TState = undefined>(
  url: string | URL | null | undefined,
  options: UseEventStreamMapOptions<M> & ReducerOptions<EventsOf<M>, TState>,
): UseEventStreamResult<EventsOf<M>, TState>
export function useEventStream<TData = string, TState = undefined>(
  url: string | URL | null | undefined,
  options?: UseEventStreamListOptions<TData> & ReducerOptions<StreamEvent<TData>, TState>,
): UseEventStreamResult<StreamEvent<TData>, TState>
export function useEventStream(url: string | URL | null | undefined, options: AnyOptions = {}): UseEventStreamResult<StreamEvent<unknown>, unknown> {
  const context = useContext(TokenContext)
  const [store] = useState(() => createHookStore(callbacksOf(options)))
  const tokens = options.tokens === false ? undefined : (options.tokens ?? context?.tokens)
  const registry = (options.share ?? true) && context ? context.registry : store.privateRegistry
  const config = (options.enabled ?? true) && url != null ? streamConfig(url, options, tokens, options.crossTab ?? context?.crossTab, registry) : null
  const key = config?.key ?? null
  // The transport the idle (and server) snapshot names, predicted without touching the host.
  const idleTransport = resolveTransport({ transport: options.transport, tokens, headers: options.headers, method: options.method, body: options.body }).name

  // Before the subscription below (a passive effect), so the first event already sees them.
  useInsertionEffect(() => {
    store.callbacks = callbacksOf(options)
    // An unshared stream under a provider still honours the provider's grace period.
    store.privateRegistry.gracePeriod = context ? context.registry.gracePeriod : DEFAULT_GRACE_PERIOD
  })

  // `config` is deliberately captured only when the key changes: everything else in it is read
  // once, when the connection is created.
  const subscribe = useCallback((listener: () => void) => store.subscribe(listener, registry, config), [store, registry, key])
  // `initialState` is what a render shows as `state` before this hook has joined the stream for
  // `key`; captured with the key (like `config`), so an inline `[]` does not make every render's
  // snapshot new.
  const getSnapshot = useCallback(() => store.getSnapshot(key, idleTransport, options.initialState), [store, key, idleTransport])
  const getServerSnapshot = useCallback(() => store.getSnapshot(null, idleTransport, options.initialState), [store, idleTransport])
  return useSyncExternalStore(subscribe, getSnapshot, getServerSnapshot) as UseEventStreamResult<StreamEvent<unknown>, unknown>
}

function callbacksOf(options: AnyOptions): HookCallbacks {
  const events = options.events
  return {
    parse: options.parse,
    parsers: events && !isList(events) ? events : undefined,
    onEvent: options.onEvent,
    onError: options.onError,
    onGap: options.onGap,
    reduce: options.reduce,
    initialState: options.initialState,
    batch: options.batch ?? false,
  }
}

function isList(events: readonly string[] | EventParsers): events is readonly string[] {
  return Array.isArray(events)
}

/**
 * The stream key (which connections are interchangeable) and the connection's options. Pure:
 * runs during render.
 */
function streamConfig(url: string | URL, options: AnyOptions, tokens: TokenManager | undefined, crossTab: AnyOptions['crossTab'], registry: StreamRegistry): StreamConfig {
  const connection: SharedStreamOptions = { url, lastEventId: options.lastEventId, platform: options.platform }
  for (const name of STREAM_KEY_OPTIONS) (connection as Record<string, unknown>)[name] = options[name as keyof AnyOptions]
  // The hook's own forms of these: a token manager from the provider (or none), `events` as a
  // list or as the keys of a map of parsers, and the provider's `crossTab` by default.
  connection.tokens = tokens
  connection.events = options.events === undefined ? undefined : isList(options.events) ? options.events : Object.keys(options.events)
  connection.crossTab = crossTab
  return { key: registry.keyOf(url, connection), options: () => connection }
}
