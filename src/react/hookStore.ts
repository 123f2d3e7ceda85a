import {
  callSafely,
  createEventStream,
  createListeners,
  createStreamRegistry,
  EventStreamError,
  idleSnapshot,
  parseEventData,
  reportError,
  type EventStreamSnapshot,
  type Lease,
  type SharedStreamOptions,
  type StreamEvent,
  type StreamGap,
  type StreamRegistry,
  type StreamSink,
} from 'use-event-stream/core'
import type { BatchOption, EventParser } from './types'

/** What a hook hands its store on every commit; read at the moment an event arrives. */
export interface HookCallbacks {
  parse: EventParser | undefined
  /** Per-type parsers of an `events` map. */
  parsers: Record<string, EventParser> | undefined
  onEvent: ((event: StreamEvent<any>) => void) | undefined
  onError: ((error: EventStreamError) => void) | undefined
  onGap: ((gap: StreamGap) => void) | undefined
  reduce: ((state: any, event: StreamEvent<any>) => any) | undefined
  initialState: unknown
  batch: BatchOption
}

/** A stream key and how to create the connection when this hook is the first to use the key. */
export interface StreamConfig {
  key: string
  options: () => SharedStreamOptions
}

export interface HookSnapshot extends Omit<EventStreamSnapshot<unknown>, 'lastEvent'> {
  lastEvent: StreamEvent<unknown> | undefined
  state: unknown
  close(): void
  reconnect(): void
}

type ParseResult = { event: StreamEvent<unknown> } | { error: EventStreamError }

/** Idle snapshots by transport name, shared by every store (frozen, so equal across renders). */
const IDLE = new Map<string, EventStreamSnapshot<string>>()
const idle = (transport: string) => IDLE.get(transport) ?? (IDLE.set(transport, idleSnapshot(transport)), IDLE.get(transport)!)

/** The per-hook store's surface; `callbacks` is replaced by the hook on every commit. */
export interface HookStore extends StreamSink {
  callbacks: HookCallbacks
  /** This hook's own registry, used when it does not share through a provider. */
  readonly privateRegistry: StreamRegistry
  /**
   * `useSyncExternalStore` subscribe: joins the stream for `config`. With `null` (disabled) it
   * joins nothing, and the values derived from the stream it left are shown no more.
   */
  subscribe(listener: () => void, registry: StreamRegistry, config: StreamConfig | null): () => void
  /**
   * The snapshot for the stream `key` as rendered now: `idle` until attached to that key, and
   * until then with no `data`/`lastEvent` and `initialState` as `state`, so a render never shows
   * one stream's values under another's key.
   */
  getSnapshot(key: string | null, idleTransport: string, initialState: unknown): HookSnapshot
}

/**
 * The per-hook external store behind `useEventStream`: attaches to a (possibly shared) registry
 * entry while React is subscribed, applies this hook's parse/onEvent/reduce to every event, and
 * throttles notifications when batching. Created in render (pure), wired up only in `subscribe`.
 *
 * A closure rather than a class: private state in locals minifies to one-letter names, where
 * class fields keep their names (and, below ES2022, cost a helper call each).
 */
export function createHookStore(initialCallbacks: HookCallbacks): HookStore {
  const listeners = createListeners({ last: () => detach() })
  let lease: Lease | undefined
  let attachedKey: string | null = null
  /** Key of the stream the derived values below belong to; they reset when it changes. */
  let derivedKey: string | null = null
  let unsubscribeStream: (() => void) | undefined

  let data: unknown
  let lastEvent: StreamEvent<unknown> | undefined
  let state: unknown = initialCallbacks.initialState
  /** Bumped whenever a derived value changes; part of the snapshot cache key. */
  let version = 0

  /**
   * The last snapshot returned and what it was made from. `cachedTag` is `version` for a snapshot
   * showing the derived values, -1 for one showing none (it depends only on the stream snapshot
   * and `initialState`).
   */
  let cached: HookSnapshot | undefined
  let cachedStream: EventStreamSnapshot<string> | undefined
  let cachedTag = 0
  let cachedInitial: unknown
  /** The stream snapshot of the last notification (snapshots are immutable: a reference will do). */
  let notified: EventStreamSnapshot<string> | undefined
  let pendingFlush: (() => void) | undefined

  const streamSnapshot = () => lease?.entry.stream.getSnapshot()
  const close = (): void => {
    lease?.entry.stream.close()
  }
  const reconnect = (): void => {
    lease?.entry.stream.reconnect()
  }
  const parserFor = (type: string) => (store.callbacks.parsers ? store.callbacks.parsers[type] : store.callbacks.parse)

  function attach(registry: StreamRegistry, config: StreamConfig): void {
    const reset = config.key !== derivedKey
    if (reset) {
      derivedKey = config.key
      data = undefined
      lastEvent = undefined
      state = store.callbacks.initialState
      version++
    }
    lease = registry.acquire(config.key, config.options, store)
    attachedKey = config.key
    const snapshot = lease.entry.stream.getSnapshot()
    // Joining a running shared stream: show its latest event.
    if (reset) showLatest(lease.entry.latest ?? snapshot.lastEvent)
    notified = snapshot
    unsubscribeStream = lease.entry.stream.subscribe(onStreamChange)
  }

  /**
   * Shows an event that is not new to the stream (no onEvent/reduce): the latest one of a stream
   * this hook joins, or the one a tab following another tab's stream is shown when it joins.
   */
  function showLatest(latest: StreamEvent<string> | undefined): void {
    if (!latest) return
    const parser = parserFor(latest.type)
    const result = parser ? parseOnce(parser, latest, new Map()) : { event: latest as StreamEvent<unknown> }
    if ('event' in result) {
      data = result.event.data
      lastEvent = result.event
      version++
    }
  }

  function detach(): void {
    cancelFlush()
    unsubscribeStream?.()
    unsubscribeStream = undefined
    lease?.release()
    lease = undefined
    attachedKey = null
  }

  function onStreamChange(): void {
    const snapshot = streamSnapshot()
    if (!snapshot) return
    if (!lastEvent) showLatest(snapshot.lastEvent)
    const important = !notified || snapshot.status !== notified.status || snapshot.error !== notified.error
    const batch = store.callbacks.batch
    if (batch === false || important) flush()
    else scheduleFlush(batch)
  }

  function flush(): void {
    cancelFlush()
    const snapshot = streamSnapshot()
    if (snapshot) notified = snapshot
    listeners.notify()
  }

  function scheduleFlush(batch: 'frame' | number): void {
    if (pendingFlush) return
    const run = () => {
      pendingFlush = undefined
      flush()
    }
    // The stream's platform: a test's virtual clock (or leak check) sees these timers too.
    const platform = lease!.entry.platform
    const { requestAnimationFrame, cancelAnimationFrame } = platform
    if (batch === 'frame' && requestAnimationFrame && cancelAnimationFrame) {
      const handle = requestAnimationFrame(run)
      pendingFlush = () => cancelAnimationFrame(handle)
    } else {
      const handle = platform.setTimeout(run, batch === 'frame' ? 16 : Math.max(0, batch))
      pendingFlush = () => platform.clearTimeout(handle)
    }
  }

  function cancelFlush(): void {
    const cancel = pendingFlush
    pendingFlush = undefined
    cancel?.()
  }

  const store: HookStore = {
    callbacks: initialCallbacks,
    privateRegistry: createStreamRegistry({ create: createEventStream }),

    subscribe(listener, registry, config) {
      const unsubscribe = listeners.subscribe(listener)
      // Disabled: no snapshot shows the derived values while `derivedKey` is null, and the next
      // `attach`, even to the same key, resets them.
      if (!config) derivedKey = null
      else if (!lease) attach(registry, config)
      return unsubscribe
    },

    getSnapshot(key, idleTransport, initialState) {
      const stream = key !== null && key === attachedKey && lease ? lease.entry.stream.getSnapshot() : idle(idleTransport)
      // The derived values belong to `derivedKey`. Until `subscribe` has moved this hook to a new
      // key (after the render that changed it), they are the previous stream's: not shown.
      const own = key !== null && key === derivedKey
      const tag = own ? version : -1
      if (cached && cachedStream === stream && cachedTag === tag && cachedInitial === initialState) return cached
      cachedStream = stream
      cachedTag = tag
      cachedInitial = initialState
      // Not `own`: `stream` is the idle snapshot, whose `data`, `lastEvent` and `error` are undefined.
      return (cached = (own ? { ...stream, data, lastEvent, state, close, reconnect } : { ...stream, state: initialState, close, reconnect }) as HookSnapshot)
    },

    // StreamSink: called by the registry entry for every event and error, before the stream's
    // snapshot changes (so the notification that follows carries both).

    event(raw, memo) {
      const callbacks = store.callbacks
      const parser = parserFor(raw.type)
      const result = parser ? parseOnce(parser, raw, memo) : { event: raw as StreamEvent<unknown> }
      if ('error' in result) {
        // As in the core: a parse error goes to `onError`; the snapshot's `error` is the stream's.
        callSafely(callbacks.onError, result.error)
        return
      }
      const event = result.event
      data = event.data
      lastEvent = event
      callSafely(callbacks.onEvent, event)
      if (callbacks.reduce) {
        try {
          state = callbacks.reduce(state, event)
        } catch (error) {
          reportError(error)
        }
      }
      version++
    },

    error(error) {
      callSafely(store.callbacks.onError, error)
    },

    gap(gap) {
      callSafely(store.callbacks.onGap, gap)
    },
  }
  return store
}

function parseOnce(parser: EventParser, raw: StreamEvent<string>, memo: Map<unknown, unknown>): ParseResult {
  let result = memo.get(parser) as ParseResult | undefined
  if (result) return result
  const parsed = parseEventData(parser, raw.type, raw.raw, raw.id)
  result = parsed.error ? { error: parsed.error } : { event: { ...raw, data: parsed.data } }
  memo.set(parser, result)
  return result
}
