import { EventStreamError } from './errors'
import type { EventStream } from './eventStream'
import type { StreamEvent, StreamGap } from './types'

/**
 * Async iteration over a stream, in a module of its own: an app that never iterates never
 * bundles it. It reads the stream through `subscribe`/`getSnapshot` only (every stream of the
 * library notifies once per event), so it works on any `EventStream`, in any host.
 */

/** Events the iterator dropped because the consumer fell `bufferSize` events behind. */
export interface IterationGap extends StreamGap {
  /** Events dropped between `lastEventId` and `resumedAt`. */
  dropped: number
}

/** Options of `iterateEvents`. */
export interface IterateEventsOptions {
  /** Ends the iteration (quietly: the loop just stops) and closes the stream if the iterator opened it. Default none. */
  signal?: AbortSignal
  /** Events held for a consumer slower than the stream. Default `1000`. */
  bufferSize?: number
  /**
   * When the buffer is full and another event arrives:
   * `'error'` (default): stop listening, yield what is buffered, then throw an `EventStreamError`
   * of kind `'overflow'` (the last event yielded is the last one before the overflow);
   * `'drop-oldest'`: drop the oldest buffered event and go on; `onGap` says what was dropped.
   */
  onOverflow?: 'error' | 'drop-oldest'
  /**
   * With `'drop-oldest'`: called once per run of dropped events, in order, just before the event
   * after them is yielded. Default none.
   */
  onGap?: (gap: IterationGap) => void
}

const ENDED: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined })

/**
 * Iterates the events of `stream`, in order, across reconnects and token rotations (the stream
 * drops what a resumed connection repeats). Lazy: nothing happens until the first `next()`. A
 * stream that is not running then (idle, closed or failed) is connected by the iterator, which
 * then owns it: `break`, `return()`, `signal.abort()` or a buffer overflow close it. A stream that
 * was already running is only listened to, and left running.
 *
 * The iteration ends when the stream is `closed` (by `close()`, or a 204 from the server) and
 * throws the stream's `EventStreamError` when it is `failed`, after yielding what was buffered.
 * Works wherever the stream does (Node without a DOM included).
 *
 * @example
 * import { createEventStream, iterateEvents } from 'use-event-stream/core'
 * const stream = createEventStream({ url: '/api/jobs/42/log', tokens, parse: JSON.parse })
 * const controller = new AbortController()
 * for await (const event of iterateEvents(stream, { signal: controller.signal, bufferSize: 100 })) {
 *   await save(event.data)
 *   if (event.data.done) break // closes the stream the loop opened
 * }
 */
export function iterateEvents<TData>(stream: EventStream<TData>, options: IterateEventsOptions = {}): AsyncIterableIterator<StreamEvent<TData>> {
  const { signal, onGap } = options
  const bufferSize = Math.max(1, options.bufferSize ?? 1000)
  const dropOldest = options.onOverflow === 'drop-oldest'
  const buffer: Array<StreamEvent<TData>> = []
  let started = false
  let done = false
  /** Thrown once the buffer is drained: the stream's failure or an overflow. */
  let failure: EventStreamError | undefined
  let owned = false
  let seen = 0
  let dropped = 0
  let lastYieldedId: string | undefined
  let waiting: { resolve: (result: IteratorResult<StreamEvent<TData>, undefined>) => void; reject: (error: unknown) => void } | undefined
  let unsubscribe: (() => void) | undefined

  /** Stops listening; `closeOwned`: the consumer stopped, so a stream the iterator opened is closed. */
  const finish = (closeOwned: boolean) => {
    if (done) return
    done = true
    unsubscribe?.()
    signal?.removeEventListener('abort', onAbort)
    if (closeOwned && owned) stream.close()
    wake()
  }

  /** Hands the waiting `next()` whatever is ready. */
  const wake = () => {
    const pending = waiting
    if (!pending) return
    if (buffer.length > 0) {
      waiting = undefined
      return pending.resolve({ done: false, value: take() })
    }
    if (!done) return
    waiting = undefined
    if (failure) {
      const error = failure
      failure = undefined
      return pending.reject(error)
    }
    pending.resolve(ENDED)
  }

  const take = (): StreamEvent<TData> => {
    const event = buffer.shift()!
    if (dropped > 0) {
      const gap: IterationGap = { lastEventId: lastYieldedId, resumedAt: event.id, dropped }
      dropped = 0
      onGap?.(gap)
    }
    lastYieldedId = event.id
    return event
  }

  function onAbort(): void {
    buffer.length = 0
    failure = undefined
    finish(true)
  }

  const onChange = () => {
    const snapshot = stream.getSnapshot()
    if (snapshot.eventCount > seen && snapshot.lastEvent) {
      seen = snapshot.eventCount
      if (buffer.length >= bufferSize) {
        if (!dropOldest) {
          failure = new EventStreamError('overflow', `The consumer fell ${bufferSize} events behind the stream (bufferSize)`)
          return finish(true)
        }
        buffer.shift()
        dropped++
      }
      buffer.push(snapshot.lastEvent)
    }
    if (snapshot.status === 'closed') finish(false)
    else if (snapshot.status === 'failed') {
      failure = snapshot.error
      finish(false)
    }
    wake()
  }

  const start = () => {
    started = true
    if (signal?.aborted) return void (done = true)
    signal?.addEventListener('abort', onAbort)
    const status = stream.getSnapshot().status
    owned = status === 'idle' || status === 'closed' || status === 'failed'
    if (owned) stream.connect()
    // Subscribed after `connect()`, whose first notifications still show the previous run's end;
    // no event arrives before a connection opens, which takes a turn at least.
    seen = stream.getSnapshot().eventCount
    unsubscribe = stream.subscribe(onChange)
    // `connect()` may already have ended the run (an invalid url).
    onChange()
  }

  const iterator: AsyncIterableIterator<StreamEvent<TData>> = {
    [Symbol.asyncIterator]() {
      return iterator
    },
    next() {
      if (!started) start()
      if (waiting) return Promise.reject(new Error('iterateEvents: next() called before the previous call settled'))
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject }
        wake()
      })
    },
    return() {
      if (!started) started = done = true
      buffer.length = 0
      failure = undefined
      finish(true)
      return Promise.resolve(ENDED)
    },
  }
  return iterator
}
