import type { EventStream, EventStreamOptions } from './eventStream'
import { STREAM_DEFAULTS, STREAM_KEY_OPTIONS } from './streamOptions'
import { resolvePlatform } from './platform'
import type { EventStreamError } from './errors'
import type { Platform, StreamEvent, StreamGap } from './types'

/**
 * Streams shared by key with reference counts: what a framework binding needs so that many
 * components showing the same feed make one connection. Framework-free (the React binding is one
 * user; a Vue or Svelte binding would be another). A registry lives on an app-level object (React:
 * each `TokenProvider`, and each unshared hook), never in module scope, so two apps or two tests
 * never share a connection.
 *
 * The shared stream carries raw strings: parsing and every per-consumer callback are applied by
 * each sink, so consumers with different callbacks can share one connection and each still sees
 * every event.
 */

/** The connection options of a shared stream (callbacks are per sink). */
export type SharedStreamOptions = Omit<EventStreamOptions<string>, 'parse' | 'onEvent' | 'onError' | 'onGap'>

export { STREAM_KEY_OPTIONS }

/** One consumer of a shared stream. Receives every raw event and error, before the snapshot changes. */
export interface StreamSink {
  /**
   * One delivered event, with its data still the raw string. `memo` is shared by all sinks for
   * this one event, so sinks using the same `parse` function parse it once.
   */
  event(event: StreamEvent<string>, memo: Map<unknown, unknown>): void
  error(error: EventStreamError): void
  /** The server skipped events it could no longer resume (see `EventStreamOptions.onGap`). */
  gap?(gap: StreamGap): void
}

/** A connection shared by every sink acquired under the same key. */
export interface RegistryEntry {
  readonly stream: EventStream<string>
  /** The latest event, so a consumer joining a running stream can show it at once. */
  readonly latest: StreamEvent<string> | undefined
  /** The stream's host facilities (its `platform` option over the host's): consumers' timers use them too. */
  readonly platform: Platform
}

export interface Lease {
  readonly entry: RegistryEntry
  /** Idempotent. The connection closes `gracePeriod` ms after its last lease is released. */
  release(): void
}

export interface StreamRegistry {
  /** Delay before a stream nobody uses is closed; read when the last lease is released. */
  gracePeriod: number
  /** The key of the stream `options` describe at `url` (see {@link STREAM_KEY_OPTIONS}). */
  keyOf(url: string | URL, options: SharedStreamOptions): string
  /**
   * Joins the stream for `key`, creating and connecting it from `options()` when there is none.
   * Options outside the key are therefore those of the first consumer.
   */
  acquire(key: string, options: () => SharedStreamOptions, sink: StreamSink): Lease
  /** Closes every connection now (the app unmounted). Leases still held become inert. */
  closeAll(): void
}

export interface StreamRegistryOptions {
  /** Creates a stream (the binding passes `createEventStream`, so the registry names no transport). Required. */
  create: (options: EventStreamOptions<string>) => EventStream<string>
  /** Default `1000` ms: long enough for React StrictMode's unmount and remount not to reconnect. */
  gracePeriod?: number
}

/** Default delay between the last consumer leaving a stream and its connection closing, in ms. */
export const DEFAULT_GRACE_PERIOD = 1000

interface Entry extends RegistryEntry {
  latest: StreamEvent<string> | undefined
  sinks: Set<StreamSink>
  platform: Platform
  graceTimer: unknown
}

export function createStreamRegistry(options: StreamRegistryOptions): StreamRegistry {
  const entries = new Map<string, Entry>()
  const ids = new WeakMap<object, number>()
  let nextId = 1
  const idOf = (value: object) => {
    let id = ids.get(value)
    if (id === undefined) ids.set(value, (id = nextId++))
    return id
  }

  const stopGrace = (entry: Entry) => {
    if (entry.graceTimer !== undefined) entry.platform.clearTimeout(entry.graceTimer)
    entry.graceTimer = undefined
  }

  const registry: StreamRegistry = {
    gracePeriod: options.gracePeriod ?? DEFAULT_GRACE_PERIOD,
    keyOf(url, streamOptions) {
      return JSON.stringify([urlKey(url, streamOptions.tokenQueryParam ?? STREAM_DEFAULTS.tokenQueryParam), ...STREAM_KEY_OPTIONS.map((name) => keyPart(streamOptions[name] ?? (STREAM_DEFAULTS as Partial<SharedStreamOptions>)[name], idOf))])
    },
    acquire(key, streamOptions, sink) {
      let entry = entries.get(key)
      const created = !entry
      if (!entry) {
        const connection = streamOptions()
        const fresh: Entry = {
          stream: undefined as unknown as EventStream<string>,
          latest: undefined,
          sinks: new Set(),
          platform: resolvePlatform(connection.platform),
          graceTimer: undefined,
        }
        ;(fresh as { stream: EventStream<string> }).stream = options.create({
          ...connection,
          onEvent(event) {
            fresh.latest = event
            const memo = new Map<unknown, unknown>()
            // A copy: a sink may leave (unmount) while another one handles this event.
            for (const target of Array.from(fresh.sinks)) target.event(event, memo)
          },
          onError(error) {
            for (const target of Array.from(fresh.sinks)) target.error(error)
          },
          onGap(gap) {
            for (const target of Array.from(fresh.sinks)) target.gap?.(gap)
          },
        })
        entries.set(key, (entry = fresh))
      }
      stopGrace(entry)
      entry.sinks.add(sink)
      // Connect after the sink is registered so it sees the very first event.
      if (created) entry.stream.connect()
      const held = entry
      let released = false
      return {
        entry: held,
        release() {
          if (released) return
          released = true
          held.sinks.delete(sink)
          if (held.sinks.size > 0 || entries.get(key) !== held) return
          held.graceTimer = held.platform.setTimeout(() => {
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
        stopGrace(entry)
        entry.stream.close()
      }
      entries.clear()
    },
  }
  return registry
}

/** One option as a JSON-able key part: equal parts mean interchangeable connections. */
function keyPart(value: unknown, idOf: (value: object) => number): unknown {
  if (value === undefined) return null
  if (Array.isArray(value)) return [...new Set(value)].sort()
  if (typeof value === 'function') return idOf(value)
  if (typeof value !== 'object' || value === null) return value === Infinity ? 'Infinity' : value
  // A transport or token manager is one object: identity. Plain records (headers, reconnect
  // settings) compare by value, header names case-insensitively.
  if (Object.getPrototypeOf(value) !== Object.prototype || 'connect' in value || 'getToken' in value) return idOf(value)
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k.toLowerCase(), keyPart(v, idOf)])
    .sort(([a], [b]) => ((a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0))
}

/** The url as a key: a token already in its query string must not split (or leak into) the key. */
function urlKey(url: string | URL, tokenQueryParam: string): string {
  const text = typeof url === 'string' ? url : url.href
  if (!text.includes(`${tokenQueryParam}=`)) return text
  const absolute = /^[a-z][a-z\d+.-]*:/i.test(text)
  try {
    const parsed = new URL(text, absolute ? undefined : 'http://relative.invalid')
    parsed.searchParams.delete(tokenQueryParam)
    return absolute ? parsed.href : `${parsed.pathname}${parsed.search}${parsed.hash}`
  } catch {
    return text
  }
}
