/**
 * The reading half shared by every event log (in memory, Redis): a bounded window of the newest
 * entries that every reader of one log instance shares, and the reader that walks it.
 *
 * Memory stays bounded however slowly a consumer pulls: a reader holds no queue of its own, only a
 * position. A reader that falls behind the window goes back to reading by id from the store
 * (`older`, e.g. Redis `XRANGE`, a batch at a time) and rejoins the window when it has caught up;
 * a store that keeps nothing beyond the window (the memory log) skips to its oldest entry instead.
 */
import { STREAM_GAP_EVENT } from '../core/gap'
import { formatEvent } from './format'
import { LIVE_PUSH, type LivePushSource, type LiveTarget } from './live'

/** One stored entry. Shared between readers, so frozen. */
export interface LogEntry {
  readonly id: string
  readonly event?: string
  readonly data: string
}

/**
 * Orders two ids of the form `<digits>` or `<digits>-<digits>` (Redis stream ids), compared part by
 * part as unbounded decimals. Ids are normalised (no leading zeros) before they get here.
 */
export function compareEventIds(a: string, b: string): number {
  if (a === b) return 0
  const dashA = a.indexOf('-')
  const dashB = b.indexOf('-')
  const c = compareDecimal(dashA < 0 ? a : a.slice(0, dashA), dashB < 0 ? b : b.slice(0, dashB))
  if (c !== 0) return c
  return compareDecimal(dashA < 0 ? '0' : a.slice(dashA + 1), dashB < 0 ? '0' : b.slice(dashB + 1))
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The newest entries of a log, in order, with no hole: every entry with an id above `startAfter`
 * that the store had when it was pushed here is here (or was trimmed off the front, which moves
 * `startAfter` up). Entries get consecutive local positions, so a reader inside the window finds
 * its next entry without comparing ids.
 */
export class EntryWindow {
  private entries: LogEntry[] = []
  private head = 0
  /** Position of the oldest entry held. */
  base = 0

  constructor(
    private readonly capacity: number,
    /** Id just below the oldest entry held: nothing above it is missing. */
    public startAfter: string,
  ) {}

  /** Id of the newest entry held, else `startAfter`. */
  get newestId(): string {
    return this.entries.length > this.head ? this.entries[this.entries.length - 1]!.id : this.startAfter
  }

  /** Up to `count` of the newest entries held, oldest first. */
  newest(count: number): LogEntry[] {
    return this.entries.slice(Math.max(this.head, this.entries.length - count))
  }

  /** Position the next pushed entry gets. */
  get end(): number {
    return this.base + this.entries.length - this.head
  }

  push(entry: LogEntry): void {
    this.entries.push(entry)
    if (this.entries.length - this.head > this.capacity) {
      this.startAfter = this.entries[this.head]!.id
      this.entries[this.head] = undefined as unknown as LogEntry
      this.head++
      this.base++
      // Shift the array only now and then: amortised O(1) per push.
      if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
        this.entries = this.entries.slice(this.head)
        this.head = 0
      }
    }
  }

  /** The entry at `position`, if the window still (or already) holds it. */
  at(position: number): LogEntry | undefined {
    if (position < this.base) return undefined
    return this.entries[this.head + position - this.base]
  }

  /** Position of the first entry with an id above `after` (`end` when there is none yet). */
  positionAfter(after: string): number {
    let lo = this.head
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareEventIds(this.entries[mid]!.id, after) <= 0) lo = mid + 1
      else hi = mid
    }
    return this.base + lo - this.head
  }
}

/** A reader following the live tail by push: its stream takes each new batch as formatted text. */
interface LiveReader {
  readonly target: LiveTarget
  /** Window position of the next entry it is owed. */
  next: number
  /** Id of the last entry pushed to it, if any. */
  lastId: string | undefined
  /** Set when its stream refused a push: it reads on by pulling. */
  refused: boolean
  /** Ends the follow. */
  leave: () => void
}

/** Where a reader stands when it stops following by push. */
export interface LiveExit {
  /** Window position of the next entry it has not got. */
  next: number
  /** Id of the last entry it got by push, if any. */
  lastId: string | undefined
  /** Its stream had no room: pull until the stream has taken something from the iterator. */
  refused: boolean
}

/**
 * How new entries reach the readers of one log. `publish` adds them to the window; then every
 * reader following by push (caught up, on a stream that takes pushed text: see ./live.ts) gets the
 * batch as SSE text, formatted once for all of them and written synchronously; then readers that
 * pull (replaying, catching up, or on a stream without push) are woken to take it from the window.
 */
export class Fanout {
  private readonly waiters = new Set<() => void>()
  private readonly live = new Set<LiveReader>()

  /** Appends `entries` (in id order, above every entry the window holds) to `window` and delivers them. */
  publish(window: EntryWindow, entries: readonly LogEntry[]): void {
    if (entries.length === 0) return
    const first = window.end
    for (const entry of entries) window.push(entry)
    if (this.live.size > 0) this.push(entries, first, window.end)
    this.notify()
  }

  private push(entries: readonly LogEntry[], first: number, end: number): void {
    let text: string | undefined
    const lastId = entries[entries.length - 1]!.id
    for (const reader of this.live) {
      if (reader.next !== first) {
        // Not where this batch starts (cannot happen: a reader joins at the window's end, and every
        // batch since reached it): it reads on from its own position by pulling, so nothing is lost.
        this.leave(reader)
        continue
      }
      text ??= entries.map((entry) => formatEvent(entry)).join('')
      reader.next = end
      reader.lastId = lastId
      if (!reader.target.push(text)) {
        reader.refused = true
        this.leave(reader)
      }
    }
  }

  private leave(reader: LiveReader): void {
    if (this.live.delete(reader)) reader.leave()
  }

  /**
   * Pushes every entry published from window position `next` on to `target`, until the stream
   * refuses one, `signal` aborts, or `wake()`; resolves then with where the reader stands. Never rejects.
   */
  follow(target: LiveTarget, next: number, signal: AbortSignal): Promise<LiveExit> {
    return new Promise((resolve) => {
      const reader: LiveReader = {
        target,
        next,
        lastId: undefined,
        refused: false,
        leave: () => {
          signal.removeEventListener('abort', onAbort)
          resolve({ next: reader.next, lastId: reader.lastId, refused: reader.refused })
        },
      }
      const onAbort = () => this.leave(reader)
      if (signal.aborted) return resolve({ next, lastId: undefined, refused: false })
      signal.addEventListener('abort', onAbort, { once: true })
      this.live.add(reader)
    })
  }

  /** Resolves on the next `publish()` or `wake()`, or at once when `signal` aborts. Never rejects. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve()
      const done = () => {
        this.waiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.waiters.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Ends every follow and wait, so each reader looks at the log again (e.g. the store failed). */
  wake(): void {
    for (const reader of [...this.live]) this.leave(reader)
    this.notify()
  }

  private notify(): void {
    for (const done of [...this.waiters]) done()
  }
}

export const ABORTED: unique symbol = Symbol('aborted')

/**
 * `promise`'s value, or `ABORTED` as soon as `signal` aborts (the promise keeps running; its
 * rejection is then ignored). The abort listener is removed when the promise settles first.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.resolve(ABORTED)
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

// The event type of the one event that tells a resuming reader entries were trimmed before it got
// them: the client's `onGap` listens for the same constant.
export { STREAM_GAP_EVENT }

/**
 * Yielded before the first retained entry when entries the reader should have got were trimmed
 * away. No id: a client that disconnects right after it resumes from the same place, and is told
 * again.
 */
export interface StreamGapEvent {
  readonly id?: undefined
  readonly event: typeof STREAM_GAP_EVENT
  /** JSON `{"lastEventId": "<the id the reader resumed from>", "resumedAt": "<id of the next entry it gets>"}`. */
  readonly data: string
}

/** What a log gives its readers. */
export interface LogSource {
  /** The shared window; read after `start()` resolved. */
  window(): EntryWindow
  fanout: Fanout
  /** The log's lowest id, below every entry. */
  zero: string
  /** Makes the window live (connects, starts the one blocking reader). Idempotent. */
  start(): Promise<void>
  /** Up to `count` (≥ 1) of the newest entries in the store now, oldest first. */
  newest(count: number): Promise<LogEntry[]>
  /**
   * Up to `count` entries with ids above `after`, from the store itself (for readers below the
   * window), and whether entries above `after` were trimmed before they could be read. Absent when
   * the store holds nothing the window does not: then such a reader skips to the oldest entry held.
   */
  older?: (after: string, count: number) => Promise<{ entries: LogEntry[]; trimmed: boolean }>
  /** Set once the store has been unreachable for too long: waiting readers then end with it. */
  failure?: () => Error | undefined
}

/** How many entries a reader below the window fetches per `older()` call. */
const OLDER_BATCH = 100

/** Where a read starts, as the log parsed it from the client's id. */
export interface ReadPlan {
  /** The parsed id to resume after; `undefined` when the client gave none the log can use. */
  after: string | undefined
  /** The id as the client sent it, reported in a gap event. */
  clientId: string | undefined
  /** Newest entries a reader with no usable id gets before the live ones. */
  initial: number
  /** Whether to announce trimmed entries with a `stream-gap` event. */
  gapEvent: boolean
}

/** Throws a `TypeError` for read options a log cannot honour; returns the plan's flags. */
export function checkReadOptions(options: { initial?: number; gapEvent?: boolean }): { initial: number; gapEvent: boolean } {
  const initial = options.initial ?? 0
  if (!Number.isSafeInteger(initial) || initial < 0) throw new TypeError('read(): initial must be a whole number ≥ 0')
  if (options.gapEvent !== undefined && typeof options.gapEvent !== 'boolean') throw new TypeError('read(): gapEvent must be a boolean')
  return { initial, gapEvent: options.gapEvent ?? true }
}

function gapEvent(lastEventId: string, resumedAt: string): StreamGapEvent {
  return Object.freeze({ event: STREAM_GAP_EVENT, data: JSON.stringify({ lastEventId, resumedAt }) })
}

/**
 * Where the plan says, then live entries, until `signal` aborts (then it returns, no error) or the
 * store has been down too long (then it throws `failure()`). With a `live` target, whenever the
 * reader has caught up with the window, new entries are pushed to it instead of yielded.
 */
export async function* readLog(source: LogSource, plan: ReadPlan, live: LiveTarget | undefined, signal: AbortSignal): AsyncGenerator<LogEntry | StreamGapEvent, void, undefined> {
  if (signal.aborted) return
  if ((await untilAborted(source.start(), signal)) === ABORTED) return
  let after = plan.after
  if (after !== undefined && compareEventIds(after, source.window().newestId) > 0) {
    // Beyond what this instance has seen. The store decides: the blocking reader may just lag.
    const newest = await untilAborted(source.newest(1), signal)
    if (newest === ABORTED) return
    // Never handed out (another environment, a flushed store): waiting for the ids to get there
    // would mean no events for hours, so such a reader is treated as having no id.
    if (newest.length === 0 || compareEventIds(after, newest[newest.length - 1]!.id) > 0) after = undefined
  }
  /** Id of the last entry yielded (or the resume point): every id yielded next is above it. */
  let cursor: string
  let batch: LogEntry[] = []
  let inBatch = 0
  if (after === undefined) {
    const newest = await untilAborted(source.newest(Math.max(1, plan.initial)), signal)
    if (newest === ABORTED) return
    cursor = newest.length > 0 ? newest[newest.length - 1]!.id : source.zero
    if (plan.initial > 0) batch = newest.slice(-plan.initial)
  } else {
    cursor = after
  }
  let yielded = false
  /** The id to report in a gap event before the next entry, when one is due. */
  let gapFrom: string | undefined
  const noteGap = () => {
    if (plan.gapEvent) gapFrom ??= yielded || plan.clientId === undefined ? cursor : plan.clientId
  }
  /** Window position to read next; `undefined` while positioned by id only. */
  let next: number | undefined
  /** Set when the stream refused a push, until it pulls again: the reader waits by pulling meanwhile. */
  let refused = false
  while (!signal.aborted) {
    let entry: LogEntry | undefined
    if (inBatch < batch.length) {
      entry = batch[inBatch++]!
    } else {
      const window = source.window()
      if (next === undefined) {
        if (compareEventIds(cursor, window.startAfter) < 0) {
          if (!source.older) {
            // Trimmed away: from the oldest entry retained.
            next = window.base
            noteGap()
          } else {
            // Read before asking the store: if the store has nothing above `cursor`, nothing up to
            // this bound can appear later either (new entries get higher ids), so the reader may
            // continue from it. The window may have moved on meanwhile; the loop then asks again.
            const floor = window.startAfter
            const got = await untilAborted(source.older(cursor, OLDER_BATCH), signal)
            if (got === ABORTED) return
            if (got.trimmed) noteGap()
            batch = got.entries
            inBatch = 0
            if (got.entries.length === 0) cursor = floor
            continue
          }
        } else {
          next = window.positionAfter(cursor)
        }
      }
      if (next < window.base) {
        // This reader fell behind the window: back to reading by id.
        next = undefined
        continue
      }
      entry = window.at(next)
      if (!entry) {
        const failure = source.failure?.()
        if (failure) throw failure
        // An `older()` batch can run ahead of the window: until the window has reached the last
        // entry yielded, new entries may be ones already yielded, which only pulling skips.
        if (live === undefined || refused || compareEventIds(cursor, window.newestId) > 0) {
          await source.fanout.wait(signal)
          continue
        }
        // Caught up: from here the fan-out pushes each new batch to the stream, until the stream has
        // no room (or the store failed); the reader then pulls on from the last entry pushed.
        // Joining and leaving happen between two publishes, so no entry is missed or sent twice.
        const exit = await source.fanout.follow(live, next, signal)
        next = exit.next
        refused = exit.refused
        if (exit.lastId !== undefined) {
          cursor = exit.lastId
          yielded = true
        }
        continue
      }
      next++
      // An `older()` batch can run ahead of the window: skip what was already yielded.
      if (compareEventIds(entry.id, cursor) <= 0) continue
    }
    if (gapFrom !== undefined) {
      const gap = gapEvent(gapFrom, entry.id)
      gapFrom = undefined
      yield gap
    }
    cursor = entry.id
    yielded = true
    yield entry
    // The stream pulled again: it has room.
    refused = false
  }
}

/** The readers of one log, so `close()` can end them all. */
export class Readers {
  private readonly active = new Set<AbortController>()
  closed = false

  /** Ends every active read; later reads end at once. */
  close(): void {
    this.closed = true
    for (const stop of this.active) stop.abort()
    this.active.clear()
  }

  /**
   * What `readLog` yields, ended by `signal` or by `close()`; a stream that takes pushed text
   * (`streamSse`, see ./live.ts) gets the live entries pushed instead. Registered in a set rather
   * than as listeners on one log-wide signal: thousands of readers must not pile listeners on one
   * target. Everything is removed when the read ends, however it ends.
   */
  read(source: LogSource, plan: ReadPlan, signal: AbortSignal): AsyncIterable<LogEntry | StreamGapEvent> & LivePushSource {
    let live: LiveTarget | undefined
    return {
      [LIVE_PUSH]: (target: LiveTarget) => {
        live = target
      },
      [Symbol.asyncIterator]: () => this.iterate(source, plan, live, signal),
    }
  }

  private async *iterate(source: LogSource, plan: ReadPlan, live: LiveTarget | undefined, signal: AbortSignal): AsyncGenerator<LogEntry | StreamGapEvent, void, undefined> {
    if (signal.aborted || this.closed) return
    const stop = new AbortController()
    const onAbort = () => stop.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    this.active.add(stop)
    try {
      yield* readLog(source, plan, live, stop.signal)
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.active.delete(stop)
      stop.abort()
    }
  }
}

/** Throws a `TypeError` unless `event` is an appendable `{ event?, data }`; returns just those fields. */
export function checkAppend(event: { event?: string; data: string }): { event?: string; data: string } {
  if (event === null || typeof event !== 'object') throw new TypeError('append() takes an object: { event?: string; data: string }')
  if (typeof event.data !== 'string') throw new TypeError('append(): data must be a string (serialise objects first, e.g. JSON.stringify)')
  if (event.event !== undefined) {
    if (typeof event.event !== 'string' || event.event === '') throw new TypeError('append(): event must be a non-empty string when given')
    // It becomes an SSE `event:` line: a line break would let it inject fields.
    if (/[\r\n]/.test(event.event)) throw new TypeError('append(): event must not contain CR or LF')
  }
  return event.event === undefined ? { data: event.data } : { event: event.event, data: event.data }
}

/** Throws a `TypeError` unless `value` is a whole number ≥ 1. */
export function checkMaxLen(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name}: maxLen must be a whole number ≥ 1`)
  return value
}
