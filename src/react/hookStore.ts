import {
  callSafely,
  EventStreamError,
  idleSnapshot,
  parseEventData,
  reportError,
  type EventStreamSnapshot,
  type Lease,
  type RegistryEntry,
  type StreamEvent,
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

export interface HookSnapshot extends Omit<EventStreamSnapshot<unknown>, 'lastEvent'>, Values {
  close(): void
  reconnect(): void
}

/** An external store for `useSyncExternalStore`: both functions are stable, and need no `this`. */
export interface HookStore {
  /** Joins the stream (when there is one to join) until unsubscribed. */
  subscribe(listener: () => void): () => void
  /** `idle` with `initialState` until subscribed (also the server's snapshot), then the stream's. A new object only when something changed. */
  getSnapshot(): HookSnapshot
}

/**
 * The external store behind one `useEventStream` for one stream: the hook makes a new one when
 * the stream key changes, so the render that changes it already shows the new stream's `idle` and
 * `initialState`, and no render mixes two streams' values. Created during render (no side
 * effects). While React is subscribed it holds a lease on the (possibly shared) stream and is one
 * of its sinks, applying this hook's `parse`, `onEvent` and `reduce` to every event.
 *
 * @param latest the options of the hook's last commit: callbacks, parsers and `batch` are read at each event.
 * @param join leases the stream with this store as a sink; none while the hook is disabled.
 */
export function createHookStore(latest: { readonly current: HookOptions }, idleTransport: string, initialState: unknown, join: ((sink: StreamSink) => Lease) | undefined): HookStore {
  const idle = idleSnapshot(idleTransport)
  let lease: Lease | undefined
  let values: Values = { data: undefined, lastEvent: undefined, state: initialState }
  /** `useSyncExternalStore`'s listener (it subscribes once per subscribe function). */
  let notify = (): void => {}
  /** Cancels the render batch waiting to flush, if any (`batch`). */
  let cancelFlush: (() => void) | undefined
  /** The last snapshot returned, and what it was made of. */
  let snapshot: HookSnapshot | undefined
  let snapshotStream: EventStreamSnapshot<string> | undefined
  let snapshotValues: Values | undefined

  /** `event` as the latest: `data` and `lastEvent` (`state` is `reduce`'s). */
  function show(event: StreamEvent<unknown>): void {
    values = { ...values, data: event.data, lastEvent: event }
  }

  const close = (): void => lease?.entry.stream.close()
  const reconnect = (): void => lease?.entry.stream.reconnect()

  /** `raw` as this hook parses it, or the parse error. `memo` is shared by every sink of one event, so a parser runs once per event. */
  function parseEvent(raw: StreamEvent<string>, memo: Map<unknown, unknown>): StreamEvent<unknown> | EventStreamError {
    const { events, parse } = latest.current
    const parser = events && !Array.isArray(events) ? (events as Record<string, typeof parse>)[raw.type] : parse
    if (!parser) return raw
    if (!memo.has(parser)) {
      const outcome = parseEventData(parser, raw.type, raw.raw, raw.id)
      memo.set(parser, outcome.error ?? { ...raw, data: outcome.data })
    }
    return memo.get(parser) as StreamEvent<unknown> | EventStreamError
  }

  /** Shows an event that is not new to the stream, so neither `onEvent` nor `reduce` sees it: a running stream's latest one when this hook joins. */
  function showLatest(latestEvent: StreamEvent<string> | undefined): void {
    const event = latestEvent && parseEvent(latestEvent, new Map())
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
    const batch = latest.current.batch
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
      const { onEvent, onError, reduce } = latest.current
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
    error: (error) => callSafely(latest.current.onError, error),
    gap: (gap) => callSafely(latest.current.onGap, gap),
  }

  return {
    subscribe(listener) {
      if (!join) return () => {}
      const held = (lease = join(sink))
      // Joining a running shared stream: show its latest event. (StrictMode subscribes twice.)
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

    getSnapshot() {
      const stream = lease ? lease.entry.stream.getSnapshot() : idle
      if (!snapshot || stream !== snapshotStream || values !== snapshotValues) {
        snapshotStream = stream
        snapshotValues = values
        snapshot = { ...stream, ...values, close, reconnect } as HookSnapshot
      }
      return snapshot
    },
  }
}
