/**
 * The push path from an event log to the streams that send its entries.
 *
 * A stream pulls what it sends from an async iterator: one promise per message per stream. For a
 * log's live entries, which every caught-up stream of the instance sends the same, that is the
 * wrong shape: the log formats each batch of new entries once and writes the same text to every
 * caught-up stream, synchronously, while it publishes the batch. Replay and catch-up stay on the
 * iterator.
 *
 * The contract: `streamSse` calls `source[LIVE_PUSH](target)` once, before it starts iterating, on
 * a source that has the method. From then on the source may hand whole SSE messages to
 * `target.push(text)` instead of yielding them; the stream writes them after everything the source
 * yielded before (the source only pushes while its iterator waits inside `next()`). `push` returns
 * `false` when the stream has no room (or has stopped): the source then pushes nothing more, and
 * delivers what follows through its iterator, which the stream pulls once it has room again.
 */

/** The method a source implements to take live messages by push. Registered: one symbol however many copies of the module are loaded. */
export const LIVE_PUSH: unique symbol = Symbol.for('use-event-stream.live-push')

/** What a stream gives a source that pushes. */
export interface LiveTarget {
  /** Writes `text` (whole SSE messages) in order; `false`: push nothing more until the stream pulls again. */
  push(text: string): boolean
}

/** A source that can push live messages (the event logs' `read()`). */
export interface LivePushSource {
  [LIVE_PUSH](target: LiveTarget): void
}

/** Whether `source` takes a push target. */
export function canPush(source: object): source is LivePushSource {
  return typeof (source as Partial<LivePushSource>)[LIVE_PUSH] === 'function'
}
