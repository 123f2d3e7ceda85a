/**
 * The part of cross-tab sharing that every app bundles, kept as small as it can be: whether the
 * host can share, and a stand-in stream while the rest (`./crossTabStream`, a chunk of its own
 * for bundlers that split dynamic imports) loads. Apps that never pass `crossTab` never load it.
 */
import { EventStreamError } from '../core/errors'
import { STREAM_DEFAULTS, type EventStream, type EventStreamOptions } from '../core/eventStream'
import { watchLifecycle } from '../core/lifecycle'
import { resolvePlatform } from '../core/platform'
import { parseEventData } from '../core/parseEvent'
import { createStreamPosition } from '../core/position'
import { callSafely } from '../core/reportError'
import { createListeners } from '../core/subscribable'
import type { EventStreamSnapshot } from '../core/types'

/**
 * A stream with `crossTab`, shared with other tabs where the platform has `locks` and
 * `BroadcastChannel` (a browser's by default); without `crossTab`, and elsewhere (servers, Node,
 * older browsers, a platform that withholds them),
 * `makeStream(options)`: a stream of this tab's own, `tab: 'solo'`. `makeStream` also makes the
 * connection of each term this tab leads, and is called once at once, so options it rejects
 * throw here.
 */
export function createCrossTabEventStream<TData>(options: EventStreamOptions<TData>, makeStream: <T>(options: EventStreamOptions<T>) => EventStream<T>): EventStream<TData> {
  const solo = makeStream(options)
  const host = resolvePlatform(options.platform)
  // A `Transport` object is a function of this tab: nothing says another tab's is the same.
  if (!options.crossTab || !host.locks || !host.BroadcastChannel || typeof options.transport === 'object') return solo

  // Until the chunk is here, calls wait (in order), the snapshot reads `follower` (the election
  // has not settled), and listeners hear from the real stream through `listeners`. The chunk is
  // handed the core's parts instead of importing them: a chunk that imports from the core makes
  // bundlers move the core into a shared chunk, which costs every app the glue between the two.
  const listeners = createListeners()
  const idle: EventStreamSnapshot<TData> = { ...solo.getSnapshot(), tab: 'follower' }
  let real: EventStream<TData> | undefined
  const loaded = import('./crossTabStream')
    .then(
      ({ createCrossTabStream }) =>
        createCrossTabStream(options, idle, makeStream, [EventStreamError, resolvePlatform, callSafely, createListeners, watchLifecycle, STREAM_DEFAULTS, parseEventData, createStreamPosition]) ?? solo,
      // The chunk did not load (offline, a deploy replaced it): this tab streams on its own.
      () => solo,
    )
    .then((stream) => {
      real = stream
      stream.subscribe(listeners.notify)
      listeners.notify()
      return stream
    })
  const later =
    <K extends 'connect' | 'close' | 'reconnect'>(method: K) =>
    (...args: Parameters<EventStream<TData>[K]>) =>
      real ? (real[method] as (...a: typeof args) => void)(...args) : void loaded.then((stream) => (stream[method] as (...a: typeof args) => void)(...args))
  return {
    connect: later('connect'),
    close: later('close'),
    reconnect: later('reconnect'),
    getSnapshot: () => (real ? real.getSnapshot() : idle),
    subscribe: listeners.subscribe,
  }
}
