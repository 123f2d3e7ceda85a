import type { EventStreamOptions, EventStreamSnapshot, STREAM_KEY_OPTIONS, StreamEvent, TokenManager } from 'use-event-stream/core'

/** Turns one event's data string into a value. A throw gives a `'parse'` error; the stream goes on. */
export type EventParser<T = unknown> = (data: string, event: { type: string; id: string | undefined }) => T

/** Event types mapped to their parsers, e.g. `{ tick: (s) => JSON.parse(s) as Tick }`. */
export type EventParsers = Record<string, EventParser>

/** A `StreamEvent` whose `type` is a known literal: the members of `lastEvent`'s union with an `events` map. */
export interface TypedStreamEvent<TType extends string, TData> extends StreamEvent<TData> {
  type: TType
}

/** The discriminated union of events described by an `events` map. */
export type EventsOf<M extends EventParsers> = {
  [K in keyof M & string]: TypedStreamEvent<K, ReturnType<M[K]>>
}[keyof M & string]

/** `false` (default): render on every change. `'frame'`: at most once per animation frame. A number: at most once per that many ms. */
export type BatchOption = false | 'frame' | number

/** The options of the stream key the hook takes as the core does (`tokens` and `events` have forms of their own here). */
type KeyOptionPassedThrough = Exclude<(typeof STREAM_KEY_OPTIONS)[number], 'tokens' | 'events'>

/**
 * Connection options passed through to the core's `createEventStream` (see `EventStreamOptions`):
 * every option of the stream key (`STREAM_KEY_OPTIONS`, from the core's one table of the stream's
 * options) but `tokens` and `events`, which have forms of their own here, plus `lastEventId`,
 * `platform`, `onError` and `onGap`.
 *
 * The options of the stream key are compared by value (a `Transport` object or a `body` function
 * by identity; `crossTab`'s default is the `TokenProvider`'s): changing one reconnects, and hooks
 * share a connection only when they agree on all of them. `lastEventId` and `platform` are read
 * once, when the connection is created. `onError` and `onGap` are read fresh on every call.
 */
export type PassThroughOptions = Pick<EventStreamOptions<unknown>, KeyOptionPassedThrough | 'lastEventId' | 'platform' | 'onError' | 'onGap'>

/** Options of `useEventStream` shared by both forms (`events` as a list or as a map of parsers). */
export interface UseEventStreamBaseOptions<TEvent> extends PassThroughOptions {
  /** `false` keeps the hook `idle` with no connection (like a `null` url). Default `true`. */
  enabled?: boolean
  /**
   * Share one connection with every other hook under the same `TokenProvider` that has the same
   * stream key. `false` gives this hook its own connection. Without a provider every hook has its
   * own connection anyway. Default `true`.
   */
  share?: boolean
  /**
   * Token manager for this stream. Default: the one of the nearest `TokenProvider`, or none
   * without a provider. `false` uses no token even under a provider (cookie or public streams).
   */
  tokens?: false | TokenManager
  /**
   * Caps re-renders caused by events: `false` renders on every event, `'frame'` at most once per
   * animation frame (`requestAnimationFrame`, a 16 ms timer where there is none), a number at most
   * once per that many ms. Status and error changes always render at once; `onEvent` and `reduce`
   * always see every event. Default `false`.
   */
  batch?: BatchOption
  /**
   * Called for every event this hook receives, in order, outside render. Read fresh on each event:
   * a new function does not reconnect. Default none.
   */
  onEvent?: (event: TEvent) => void
}

/**
 * `reduce(state, event)` folds every event into `state`, outside render, so a burst loses nothing.
 * It is read fresh on every event; `initialState` is read when the hook mounts and when the stream
 * key changes (which resets `state`). Without `reduce`, `state` is `undefined`.
 */
export type ReducerOptions<TEvent, TState> =
  | {
      /** Folds each event into `state`. Read fresh on every event. */
      reduce: (state: TState, event: TEvent) => TState
      /** `state` before the first event, and again after the stream key changes. Required with `reduce`. */
      initialState: TState
    }
  | { reduce?: undefined; initialState?: undefined }

/** `useEventStream` options with `events` as a list of type names and one `parse` for all. */
export interface UseEventStreamListOptions<TData> extends UseEventStreamBaseOptions<StreamEvent<TData>> {
  /** Event types this hook receives; part of the stream key (order does not matter). Default `['message']`. */
  events?: readonly string[]
  /**
   * Turns the data string into `TData`; `TData` is inferred from it. Applied per hook (hooks sharing
   * a connection may parse differently; hooks passing the same function parse each event once).
   * Read fresh on each event. Default: the data string unchanged.
   */
  parse?: EventParser<TData>
}

/** `useEventStream` options with `events` as a map from type name to parser: `lastEvent` is a discriminated union. */
export interface UseEventStreamMapOptions<M extends EventParsers> extends UseEventStreamBaseOptions<EventsOf<M>> {
  /**
   * Event types mapped to their parsers, e.g. `{ tick: (s) => JSON.parse(s) as Tick }`. The type
   * names are part of the stream key; the parsers are read fresh on each event.
   */
  events: M
  /** Not used with an `events` map: each type has its own parser. */
  parse?: never
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * What `useEventStream` returns: the stream snapshot (discriminated on `status`) with `data` and
 * `lastEvent` as this hook parsed them, plus `state`, `close()` and `reconnect()`. A new object
 * only when something changed.
 */
export type UseEventStreamResult<TEvent extends StreamEvent<any> = StreamEvent<string>, TState = undefined> = DistributiveOmit<
  EventStreamSnapshot<TEvent['data']>,
  'data' | 'lastEvent'
> & {
  /** Latest parsed data. */
  data: TEvent['data'] | undefined
  /** Latest event. */
  lastEvent: TEvent | undefined
  /** The `reduce` result (`initialState` before the first event). */
  state: TState
  /** Closes the connection (shared: for every hook using it). `reconnect()` starts it again. */
  close(): void
  /** Drops the connection and connects again now, with a fresh attempt counter. */
  reconnect(): void
}

/** Every option `useEventStream` accepts, in the loose form the implementation reads (internal). */
export type HookOptions = UseEventStreamBaseOptions<StreamEvent<any>> & {
  events?: readonly string[] | EventParsers
  parse?: EventParser
  reduce?: (state: any, event: StreamEvent<any>) => any
  initialState?: unknown
}
