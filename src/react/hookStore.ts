import {
  callSafely,
  createEventStream,
  createStreamRegistry,
  EventStreamError,
  idleSnapshot,
  parseEventData,
  reportError,
  type EventStreamSnapshot,
  type Lease,
  type RegistryEntry,
  type SharedStreamOptions,
  type StreamEvent,
  type StreamRegistry,
  type StreamSink,
} from 'use-event-stream/core'
import { scheduleFlush } from './batching'
import type { HookOptions } from './types'

/** What a hook made of its stream's events. Replaced, never changed: a new object means new values. */
interface Values {
  data: unknown
  lastEvent: StreamEvent<unknown> | undefined
  state: unknown
}

/** A stream's values before its first event. */
const initialValues = (state: unknown): Values => ({ data: undefined, lastEvent: undefined, state })

export interface HookSnapshot extends Omit<EventStreamSnapshot<unknown>, 'lastEvent'>, Values {
  close(): void
  reconnect(): void
}

export interface HookStore {
  /** The options of the last commit: the callbacks, parsers and `batch` used for the next event. */
  options: HookOptions
  /** This hook's own registry, used when it does not share through a provider. */
  readonly privateRegistry: StreamRegistry
  /**
   * `useSyncExternalStore`'s subscribe: joins the stream `key` of `registry` (created from
   * `connection` if nobody uses it yet) until unsubscribed. With a `null` key (disabled) it joins
   * nothing, and forgets the values of the stream it left.
   */
  subscribe(listener: () => void, registry: StreamRegistry, key: string | null, connection: SharedStreamOptions | undefined): () => void
  /**
   * The snapshot to render for the stream `key`: `idle` until this hook has joined that stream, and
   * until then with no `data`/`lastEvent` and `initialState` as `state`, so a render never shows
   * one stream's values under another's key.
   */
  getSnapshot(key: string | null, idleTransport: string, initialState: unknown): HookSnapshot
}

/**
 * The external store behind one `useEventStream`: while React is subscribed it holds a lease on a
 * (possibly shared) stream of a registry and is one of the stream's sinks, applying this hook's
 * `parse`, `onEvent` and `reduce` to every event. Created during render (no side effects); joins a
 * stream only in `subscribe`.
 */
export function createHookStore(options: HookOptions): HookStore {
  let lease: Lease | undefined
  /** The stream key `values` belong to; `null` before the first stream and while disabled. */
  let valuesKey: string | null = null
  let values = initialValues(options.initialState)
  /** `useSyncExternalStore`'s listener (it subscribes once per subscribe function). */
  let notify = (): void => {}
  /** Cancels the render batch waiting to flush, if any (`batch`). */
  let cancelFlush: (() => void) | undefined
  /** The last snapshot returned, and what it was made of. */
  let snapshot: HookSnapshot | undefined
  let snapshotStream: EventStreamSnapshot<string> | undefined
  let snapshotValues: unknown
  let idle: EventStreamSnapshot<string> | undefined

  /** `event` as the latest: `data` and `lastEvent` (`state` is `reduce`'s). */
  function show(event: StreamEvent<unknown>): void {
    values = { ...values, data: event.data, lastEvent: event }
  }

  const close = (): void => lease?.entry.stream.close()
  const reconnect = (): void => lease?.entry.stream.reconnect()

  /** `raw` as this hook parses it, or the parse error. `memo` is shared by every sink of one event, so a parser runs once per event. */
  function parseEvent(raw: StreamEvent<string>, memo: Map<unknown, unknown>): StreamEvent<unknown> | EventStreamError {
    const { events, parse } = store.options
    const parser = events && !Array.isArray(events) ? (events as Record<string, typeof parse>)[raw.type] : parse
    if (!parser) return raw
    if (!memo.has(parser)) {
      const outcome = parseEventData(parser, raw.type, raw.raw, raw.id)
      memo.set(parser, outcome.error ?? { ...raw, data: outcome.data })
    }
    return memo.get(parser) as StreamEvent<unknown> | EventStreamError
  }

  /** Shows an event that is not new to the stream, so neither `onEvent` nor `reduce` sees it: a running stream's latest one when this hook joins. */
  function showLatest(latest: StreamEvent<string> | undefined): void {
    const event = latest && parseEvent(latest, new Map())
    if (event && !(event instanceof EventStreamError)) show(event)
  }

  function cancelPendingFlush(): void {
    cancelFlush?.()
    cancelFlush = undefined
  }

  function flush(): void {
    cancelPendingFlush()
    notify()
  }

  function onStreamChange({ stream, platform }: RegistryEntry): void {
    const now = stream.getSnapshot()
    // A tab following another tab's stream is shown the group's latest event when it joins.
    if (!values.lastEvent) showLatest(now.lastEvent)
    const batch = store.options.batch
    // Status and error changes render at once; events wait for the batch. Compared with what was
    // last rendered (not with the last notification), so `batch` can change between two events.
    const rendered = snapshotStream
    if (batch === undefined || batch === false || now.status !== rendered?.status || now.error !== rendered.error) flush()
    else cancelFlush ??= scheduleFlush(batch, platform, flush)
  }

  const sink: StreamSink = {
    // Called by the registry for every event and error, before the stream's snapshot changes, so
    // the notification that follows carries both.
    event(raw, memo) {
      const { onEvent, onError, reduce } = store.options
      const event = parseEvent(raw, memo)
      // As in the core: a parse error goes to `onError`; the snapshot's `error` is the stream's.
      if (event instanceof EventStreamError) return callSafely(onError, event)
      show(event)
      callSafely(onEvent, event)
      if (reduce) {
        try {
          values = { ...values, state: reduce(values.state, event) }
        } catch (error) {
          reportError(error)
        }
      }
    },
    error: (error) => callSafely(store.options.onError, error),
    gap: (gap) => callSafely(store.options.onGap, gap),
  }

  const store: HookStore = {
    options,
    privateRegistry: createStreamRegistry({ create: createEventStream }),

    subscribe(listener, registry, key, connection) {
      if (key === null || !connection) {
        // Disabled: the next stream, even with the same key, starts from `initialState`.
        valuesKey = null
        return () => {}
      }
      if (key !== valuesKey) {
        valuesKey = key
        values = initialValues(store.options.initialState)
      }
      const held = (lease = registry.acquire(key, () => connection, sink))
      // Joining a running shared stream: show its latest event.
      if (!values.lastEvent) showLatest(held.entry.latest ?? held.entry.stream.getSnapshot().lastEvent)
      notify = listener
      const unsubscribe = held.entry.stream.subscribe(() => onStreamChange(held.entry))
      return () => {
        cancelPendingFlush()
        unsubscribe()
        held.release()
        lease = undefined
      }
    },

    getSnapshot(key, idleTransport, initialState) {
      const own = key !== null && key === valuesKey
      if (idle?.transport !== idleTransport) idle = idleSnapshot(idleTransport)
      const stream = own && lease ? lease.entry.stream.getSnapshot() : idle
      const shown = own ? values : initialState
      if (!snapshot || stream !== snapshotStream || shown !== snapshotValues) {
        snapshotStream = stream
        snapshotValues = shown
        // Not `own`: `stream` is the idle snapshot, whose `data`, `lastEvent` and `error` are undefined.
        snapshot = { ...stream, ...(own ? values : { state: initialState }), close, reconnect } as HookSnapshot
      }
      return snapshot
    },
  }
  return store
}
