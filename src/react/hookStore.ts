import { EventStreamError, type EventStreamOptions, type EventStreamSnapshot, type StreamEvent, type TransportName } from 'use-event-stream/core'
import { StreamRegistry, type Lease, type StreamSink } from './registry'
import type { BatchOption, EventParser } from './types'

/** What a hook hands its store on every commit; read at the moment an event arrives. */
export interface HookCallbacks {
  parse: EventParser | undefined
  /** Per-type parsers of an `events` map. */
  parsers: Record<string, EventParser> | undefined
  onEvent: ((event: StreamEvent<any>) => void) | undefined
  onError: ((error: EventStreamError) => void) | undefined
  reduce: ((state: any, event: StreamEvent<any>) => any) | undefined
  initialState: unknown
  batch: BatchOption
}

/** A stream key and how to create the connection when this hook is the first to use the key. */
export interface StreamConfig {
  key: string
  options: () => Omit<EventStreamOptions<string>, 'parse' | 'onEvent' | 'onError'>
}

export interface HookSnapshot extends Omit<EventStreamSnapshot<unknown>, 'lastEvent'> {
  lastEvent: StreamEvent<unknown> | undefined
  state: unknown
  close(): void
  reconnect(): void
}

type ParseResult = { event: StreamEvent<unknown> } | { error: EventStreamError }

// Frozen: shared by every store, never mutated.
const IDLE: Record<TransportName, EventStreamSnapshot<string>> = {
  fetch: idle('fetch'),
  eventsource: idle('eventsource'),
}

function idle(transport: TransportName): EventStreamSnapshot<string> {
  return Object.freeze({
    status: 'idle',
    data: undefined,
    lastEvent: undefined,
    lastEventId: undefined,
    error: undefined,
    attempt: 0,
    retryAt: undefined,
    transport,
    eventCount: 0,
    openCount: 0,
  })
}

function rethrowLater(error: unknown): void {
  // A consumer callback's bug must neither break the fan-out to other hooks nor vanish silently.
  queueMicrotask(() => {
    throw error
  })
}

/**
 * The per-hook external store behind `useEventStream`: attaches to a (possibly shared) registry
 * entry while React is subscribed, applies this hook's parse/onEvent/reduce to every event, and
 * throttles notifications when batching. Created in render (pure), wired up only in `subscribe`.
 */
export class HookStore implements StreamSink {
  callbacks: HookCallbacks
  /** This hook's own registry, used when it does not share through a provider. */
  readonly privateRegistry = new StreamRegistry()

  private readonly listeners = new Set<() => void>()
  private lease: Lease | undefined
  private attachedKey: string | null = null
  /** Key of the stream the derived values below belong to; they reset when it changes. */
  private derivedKey: string | null = null
  private unsubscribeStream: (() => void) | undefined

  private data: unknown = undefined
  private lastEvent: StreamEvent<unknown> | undefined = undefined
  private state: unknown
  private parseError: { error: EventStreamError; streamError: EventStreamError | undefined; openCount: number } | undefined
  /** Bumped whenever a derived value changes; part of the snapshot cache key. */
  private version = 0
  private urgent = false

  private cache: { stream: EventStreamSnapshot<string>; version: number; result: HookSnapshot } | undefined
  private notified: { status: string; error: unknown } | undefined
  private pendingFlush: (() => void) | undefined

  constructor(callbacks: HookCallbacks) {
    this.callbacks = callbacks
    this.state = callbacks.initialState
  }

  readonly close = (): void => {
    this.lease?.entry.stream.close()
  }

  readonly reconnect = (): void => {
    this.lease?.entry.stream.reconnect()
  }

  /** `useSyncExternalStore` subscribe: joins the stream for `config` (none when disabled). */
  subscribe(listener: () => void, registry: StreamRegistry, config: StreamConfig | null): () => void {
    this.listeners.add(listener)
    if (config && !this.lease) this.attach(registry, config)
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.detach()
    }
  }

  /** The snapshot for the stream `key` as rendered now; `idle` until attached to that key. */
  getSnapshot(key: string | null, idleTransport: TransportName): HookSnapshot {
    const stream = key !== null && key === this.attachedKey && this.lease ? this.lease.entry.stream.getSnapshot() : IDLE[idleTransport]
    const cache = this.cache
    if (cache && cache.stream === stream && cache.version === this.version) return cache.result
    const parseError = this.parseError
    // A parse error stands until the stream reports something newer (a new error or a new open),
    // like the core does with its own parse errors.
    const error =
      parseError && stream !== IDLE[idleTransport] && parseError.streamError === stream.error && parseError.openCount === stream.openCount
        ? parseError.error
        : stream.error
    const result = {
      ...stream,
      error,
      data: this.data,
      lastEvent: this.lastEvent,
      state: this.state,
      close: this.close,
      reconnect: this.reconnect,
    } as HookSnapshot
    this.cache = { stream, version: this.version, result }
    return result
  }

  // ---------------------------------------------------------------------------------------------
  // StreamSink: called by the registry entry for every event and error, before the stream's
  // snapshot changes (so the notification that follows carries both).

  event(raw: StreamEvent<string>, memo: Map<unknown, unknown>): void {
    const callbacks = this.callbacks
    const parser = callbacks.parsers ? callbacks.parsers[raw.type] : callbacks.parse
    const result = parser ? parseOnce(parser, raw, memo) : { event: raw as StreamEvent<unknown> }
    if ('error' in result) {
      const stream = this.lease?.entry.stream.getSnapshot()
      this.parseError = { error: result.error, streamError: stream?.error, openCount: stream?.openCount ?? 0 }
      this.urgent = true
      this.version++
      if (callbacks.onError) {
        try {
          callbacks.onError(result.error)
        } catch (error) {
          rethrowLater(error)
        }
      }
      return
    }
    const event = result.event
    this.data = event.data
    this.lastEvent = event
    if (callbacks.onEvent) {
      try {
        callbacks.onEvent(event)
      } catch (error) {
        rethrowLater(error)
      }
    }
    if (callbacks.reduce) {
      try {
        this.state = callbacks.reduce(this.state, event)
      } catch (error) {
        rethrowLater(error)
      }
    }
    this.version++
  }

  error(error: EventStreamError): void {
    const onError = this.callbacks.onError
    if (!onError) return
    try {
      onError(error)
    } catch (thrown) {
      rethrowLater(thrown)
    }
  }

  // ---------------------------------------------------------------------------------------------

  private attach(registry: StreamRegistry, config: StreamConfig): void {
    const reset = config.key !== this.derivedKey
    if (reset) {
      this.derivedKey = config.key
      this.data = undefined
      this.lastEvent = undefined
      this.parseError = undefined
      this.state = this.callbacks.initialState
      this.version++
    }
    const lease = registry.acquire(config.key, config.options, this)
    this.lease = lease
    this.attachedKey = config.key
    const latest = lease.entry.latest
    if (reset && latest) {
      // Joining a running shared stream: show its latest event (no onEvent/reduce: it is not new).
      const parser = this.callbacks.parsers ? this.callbacks.parsers[latest.type] : this.callbacks.parse
      const result = parser ? parseOnce(parser, latest, new Map()) : { event: latest as StreamEvent<unknown> }
      if ('event' in result) {
        this.data = result.event.data
        this.lastEvent = result.event
      }
    }
    this.notified = { status: lease.entry.stream.getSnapshot().status, error: lease.entry.stream.getSnapshot().error }
    this.unsubscribeStream = lease.entry.stream.subscribe(this.onStreamChange)
  }

  private detach(): void {
    this.cancelFlush()
    this.unsubscribeStream?.()
    this.unsubscribeStream = undefined
    this.lease?.release()
    this.lease = undefined
    this.attachedKey = null
  }

  private readonly onStreamChange = (): void => {
    const snapshot = this.lease?.entry.stream.getSnapshot()
    if (!snapshot) return
    const important = this.urgent || !this.notified || snapshot.status !== this.notified.status || snapshot.error !== this.notified.error
    if (this.callbacks.batch === false || important) this.flush()
    else this.scheduleFlush(this.callbacks.batch)
  }

  private flush(): void {
    this.cancelFlush()
    this.urgent = false
    const snapshot = this.lease?.entry.stream.getSnapshot()
    if (snapshot) this.notified = { status: snapshot.status, error: snapshot.error }
    for (const listener of Array.from(this.listeners)) listener()
  }

  private scheduleFlush(batch: 'frame' | number): void {
    if (this.pendingFlush) return
    const run = () => {
      this.pendingFlush = undefined
      this.flush()
    }
    const g = globalThis as { requestAnimationFrame?: (cb: () => void) => number; cancelAnimationFrame?: (handle: number) => void }
    if (batch === 'frame' && typeof g.requestAnimationFrame === 'function' && typeof g.cancelAnimationFrame === 'function') {
      const handle = g.requestAnimationFrame(run)
      const cancel = g.cancelAnimationFrame
      this.pendingFlush = () => cancel(handle)
    } else {
      const handle = setTimeout(run, batch === 'frame' ? 16 : Math.max(0, batch))
      this.pendingFlush = () => clearTimeout(handle)
    }
  }

  private cancelFlush(): void {
    const cancel = this.pendingFlush
    this.pendingFlush = undefined
    cancel?.()
  }
}

function parseOnce(parser: EventParser, raw: StreamEvent<string>, memo: Map<unknown, unknown>): ParseResult {
  let result = memo.get(parser) as ParseResult | undefined
  if (result) return result
  try {
    const data = parser(raw.raw, { type: raw.type, id: raw.id })
    result = { event: { ...raw, data } }
  } catch (cause) {
    const where = raw.id === undefined ? '' : ` (id ${raw.id})`
    result = { error: new EventStreamError('parse', `Could not parse a "${raw.type}" event${where}`, { cause }) }
  }
  memo.set(parser, result)
  return result
}
