import { useContext, useInsertionEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { createEventStream, createStreamRegistry, DEFAULT_GRACE_PERIOD, resolveTransport, STREAM_KEY_OPTIONS, type SharedStreamOptions, type StreamEvent, type StreamSink } from 'use-event-stream/core'
import { createHookStore } from './hookStore'
import { TokenContext } from './TokenProvider'
import type { EventParsers, EventsOf, HookOptions, ReducerOptions, UseEventStreamListOptions, UseEventStreamMapOptions, UseEventStreamResult } from './types'

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
export function useEventStream(url: string | URL | null | undefined, options: HookOptions = {}): UseEventStreamResult<StreamEvent<unknown>, unknown> {
  const context = useContext(TokenContext)
  const latest = useRef(options)
  // This hook's own registry, for a stream it does not share through a provider.
  const [privateRegistry] = useState(() => createStreamRegistry({ create: createEventStream }))
  const tokens = options.tokens === false ? undefined : (options.tokens ?? context?.tokens)
  const registry = (options.share ?? true) && context ? context.registry : privateRegistry
  const connection = (options.enabled ?? true) && url != null ? connectionOptions(url, options, tokens, options.crossTab ?? context?.crossTab) : undefined
  const key = connection ? registry.keyOf(connection.url, connection) : null
  // The transport the idle (and server) snapshot names, predicted without touching the host.
  const idleTransport = resolveTransport({ ...options, tokens }).name

  // Before the subscription (a passive effect), so the first event already sees them.
  useInsertionEffect(() => {
    latest.current = options
    // An unshared stream under a provider still honours the provider's grace period.
    privateRegistry.gracePeriod = context ? context.registry.gracePeriod : DEFAULT_GRACE_PERIOD
  })

  // A store per stream key: `connection` and `initialState` are read when the key changes (the
  // rest of the connection is read once, when it is created; an inline `[]` must not make every
  // render's snapshot new).
  const store = useMemo(
    () =>
      createHookStore(
        latest,
        idleTransport,
        options.initialState,
        // How the store joins its stream: with itself as a sink, created from `connection` if nobody
        // uses it yet. None while disabled.
        connection && key !== null ? (sink: StreamSink) => registry.acquire(key, () => connection, sink) : undefined,
      ),
    [registry, key, idleTransport],
  )
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot) as UseEventStreamResult<StreamEvent<unknown>, unknown>
}

/** The options of the connection, from which the registry computes the stream key. Pure: runs during render. */
function connectionOptions(url: string | URL, options: HookOptions, tokens: SharedStreamOptions['tokens'], crossTab: SharedStreamOptions['crossTab']): SharedStreamOptions {
  const connection: SharedStreamOptions = { url, lastEventId: options.lastEventId, platform: options.platform }
  for (const name of STREAM_KEY_OPTIONS) (connection as Record<string, unknown>)[name] = options[name as keyof HookOptions]
  // The hook's own forms of these: a token manager from the provider (or none), `events` as a
  // list or as the keys of a map of parsers, and the provider's `crossTab` by default.
  const events = options.events
  connection.tokens = tokens
  connection.events = events && (Array.isArray(events) ? events : Object.keys(events))
  connection.crossTab = crossTab
  return connection
}
