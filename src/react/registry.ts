import { createEventStream, type EventStream, type EventStreamError, type EventStreamOptions, type StreamEvent } from 'use-event-stream/core'

/** Default delay between the last user leaving a stream and its connection closing, in ms. */
export const DEFAULT_GRACE_PERIOD = 1000

/** One consumer of a registry entry (a hook instance). Receives every raw event and error. */
export interface StreamSink {
  /**
   * One delivered event, with its data still the raw string. `memo` is shared by all sinks for
   * this one event, so sinks using the same `parse` function parse it once.
   */
  event(event: StreamEvent<string>, memo: Map<unknown, unknown>): void
  error(error: EventStreamError): void
}

/** A connection shared by every sink acquired under the same key. */
export interface RegistryEntry {
  readonly stream: EventStream<string>
  /** The latest event, so a component joining a running stream can show it at once. */
  readonly latest: StreamEvent<string> | undefined
}

export interface Lease {
  readonly entry: RegistryEntry
  /** Idempotent. The connection closes `gracePeriod` ms after its last lease is released. */
  release(): void
}

interface Entry extends RegistryEntry {
  latest: StreamEvent<string> | undefined
  sinks: Set<StreamSink>
  graceTimer: ReturnType<typeof setTimeout> | undefined
}

/**
 * Reference-counted event streams by key. One instance lives on each `TokenProvider` (and one in
 * each unshared hook), never in module scope, so two providers or two tests never share a
 * connection.
 *
 * The shared stream carries raw strings: parsing, `onEvent` and `reduce` are applied per sink, so
 * hooks with different callbacks can share one connection and each still sees every event.
 */
export interface StreamRegistry {
  /** Delay before a stream nobody uses is closed; read when the last lease is released. */
  gracePeriod: number
  /** A stable number per object (transport, token manager), so they can be part of a string key. */
  idOf(value: object): number
  /**
   * Joins the stream for `key`, creating and connecting it from `options` when there is none.
   * Options other than the key are therefore those of the first user.
   */
  acquire(key: string, options: () => Omit<EventStreamOptions<string>, 'parse' | 'onEvent' | 'onError'>, sink: StreamSink): Lease
  /** Closes every connection now (the provider unmounted). Leases still held become inert. */
  closeAll(): void
}

// A closure rather than a class: private state in locals minifies to one-letter names, where
// class fields keep their names (and, below ES2022, cost a helper call each).
export function createStreamRegistry(gracePeriod = DEFAULT_GRACE_PERIOD): StreamRegistry {
  const entries = new Map<string, Entry>()
  const ids = new WeakMap<object, number>()
  let nextId = 1

  const registry: StreamRegistry = {
    gracePeriod,
    idOf(value) {
      let id = ids.get(value)
      if (id === undefined) {
        id = nextId++
        ids.set(value, id)
      }
      return id
    },
    acquire(key, options, sink) {
      let entry = entries.get(key)
      let created = false
      if (!entry) {
        created = true
        const fresh: Entry = {
          stream: undefined as unknown as EventStream<string>,
          latest: undefined,
          sinks: new Set(),
          graceTimer: undefined,
        }
        ;(fresh as { stream: EventStream<string> }).stream = createEventStream<string>({
          ...options(),
          onEvent(event) {
            fresh.latest = event
            const memo = new Map<unknown, unknown>()
            // A copy: a sink may leave (unmount) while another one handles this event.
            for (const target of Array.from(fresh.sinks)) target.event(event, memo)
          },
          onError(error) {
            for (const target of Array.from(fresh.sinks)) target.error(error)
          },
        })
        entry = fresh
        entries.set(key, entry)
      }
      if (entry.graceTimer !== undefined) {
        clearTimeout(entry.graceTimer)
        entry.graceTimer = undefined
      }
      entry.sinks.add(sink)
      // Connect after the sink is registered so it sees the very first event.
      if (created) entry.stream.connect()
      const held = entry
      let released = false
      return {
        entry: held,
        release: () => {
          if (released) return
          released = true
          held.sinks.delete(sink)
          if (held.sinks.size > 0 || entries.get(key) !== held) return
          held.graceTimer = setTimeout(() => {
            held.graceTimer = undefined
            if (held.sinks.size > 0 || entries.get(key) !== held) return
            entries.delete(key)
            held.stream.close()
          }, registry.gracePeriod)
        },
      }
    },
    closeAll() {
      for (const entry of entries.values()) {
        if (entry.graceTimer !== undefined) clearTimeout(entry.graceTimer)
        entry.graceTimer = undefined
        entry.stream.close()
      }
      entries.clear()
    },
  }
  return registry
}
