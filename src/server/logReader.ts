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
import { ABORTED, untilStopped, type StopSlot } from './stop'

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

/**
 * How new entries reach the readers of one log. `publish` adds them to the window; then every
 * reader following by push (caught up, on a stream that takes pushed text: see ./live.ts) gets the
 * batch as SSE text, formatted once for all of them and written synchronously; then readers that
 * pull (replaying, catching up, or on a stream without push) are woken to take it from the window.
 */
export class Fanout {
  private readonly waiters = new Set<() => void>()
  private readonly live = new Set<LogRead>()

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
    for (const read of this.live) {
      if (read.next !== first) {
        // Not where this batch starts (cannot happen: a reader joins at the window's end, and every
        // batch since reached it): it reads on from its own position by pulling, so nothing is lost.
        this.leave(read)
        continue
      }
      text ??= entries.length === 1 ? formatEvent(entries[0]!) : entries.map((entry) => formatEvent(entry)).join('')
      read.next = end
      read.lastId = lastId
      if (!read.target!.push(text)) {
        read.refused = true
        this.leave(read)
      }
    }
  }

  /** Ends `read`'s follow, if it follows. */
  leave(read: LogRead): void {
    if (this.live.delete(read)) read.endFollow()
  }

  /**
   * Pushes every entry published from window position `next` on to `read.target`, until the stream
   * refuses one, the read stops, or `wake()`. `read.next`, `read.lastId` and `read.refused` say
   * where the reader stands when it resolves. Never rejects.
   */
  follow(read: LogRead, next: number): Promise<void> {
    read.next = next
    read.lastId = undefined
    read.refused = false
    if (read.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      read.startFollow(this, resolve)
      this.live.add(read)
    })
  }

  /** Resolves on the next `publish()` or `wake()`, or at once when `read` stops. Never rejects. */
  wait(read: LogRead): Promise<void> {
    if (read.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done)
        read.wake = undefined
        resolve()
      }
      this.waiters.add(done)
      read.wake = done
    })
  }

  /** Ends every follow and wait, so each reader looks at the log again (e.g. the store failed). */
  wake(): void {
    for (const read of [...this.live]) this.leave(read)
    this.notify()
  }

  private notify(): void {
    for (const done of [...this.waiters]) done()
  }
}

/**
 * One read of a log, for as long as it is iterated: how it stops (the client's signal, or the log's
 * `close()`), the stream it pushes to, and where it stands while it follows by push. The one object
 * a connection costs the log: it listens to the signal itself (`handleEvent`), and the wait in
 * progress (a store call, a wait for new entries, a follow) is ended through one slot, with no
 * controller of its own and no listener per wait.
 */
export class LogRead implements LivePushSource, StopSlot {
  /** Set once the signal aborted or the log closed. */
  stopped = false
  /** Ends the wait in progress when the read stops. */
  wake: (() => void) | undefined
  /** The stream taking pushed text, if it takes any (see ./live.ts). */
  target: LiveTarget | undefined
  /** While following: window position of the next entry it is owed. */
  next = 0
  /** While following: id of the last entry pushed to it, if any. */
  lastId: string | undefined
  /** Set when its stream refused a push: it reads on by pulling. */
  refused = false
  private following: Fanout | undefined
  private resume: (() => void) | undefined
  private iterated = false

  constructor(
    private readonly readers: Readers,
    readonly source: LogSource,
    readonly plan: ReadPlan,
    private readonly signal: AbortSignal,
  ) {}

  [LIVE_PUSH](target: LiveTarget): void {
    this.target = target
  }

  [Symbol.asyncIterator](): AsyncIterator<LogEntry | StreamGapEvent> {
    // Each iteration is a read of its own; the first one is this object.
    if (this.iterated) {
      const again = new LogRead(this.readers, this.source, this.plan, this.signal)
      again.target = this.target
      return again[Symbol.asyncIterator]()
    }
    this.iterated = true
    return readLog(this)
  }

  /** Registers the read (false: it is over before it began). */
  begin(): boolean {
    if (this.signal.aborted || this.readers.closed) return false
    this.signal.addEventListener('abort', this, { once: true })
    this.readers.add(this)
    return true
  }

  /** Unregisters the read; it stops if it had not. */
  finish(): void {
    this.signal.removeEventListener('abort', this)
    this.readers.delete(this)
    this.stop()
  }

  /** The signal's abort. */
  handleEvent(): void {
    this.stop()
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.following?.leave(this)
    this.wake?.()
  }

  startFollow(fanout: Fanout, resume: () => void): void {
    this.following = fanout
    this.resume = resume
  }

  endFollow(): void {
    const resume = this.resume
    this.following = this.resume = undefined
    resume?.()
  }


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

/**
 * The id a gap event reports, when the plan asks for one: the client's own id until the reader has
 * yielded something, then the last entry it yielded.
 */
function gapStart(plan: ReadPlan, yielded: boolean, cursor: string): string | undefined {
  if (!plan.gapEvent) return undefined
  return yielded || plan.clientId === undefined ? cursor : plan.clientId
}

function gapEvent(lastEventId: string, resumedAt: string): StreamGapEvent {
  return Object.freeze({ event: STREAM_GAP_EVENT, data: JSON.stringify({ lastEventId, resumedAt }) })
}

/**
 * Where `read.plan` says, then live entries, until the read stops (its signal aborts or the log
 * closes: then it returns, no error) or the store has been down too long (then it throws
 * `failure()`). With a push target, whenever the reader has caught up with the window, new entries
 * are pushed to it instead of yielded. Everything the read registered is removed when it ends,
 * however it ends.
 */
async function* readLog(read: LogRead): AsyncGenerator<LogEntry | StreamGapEvent, void, undefined> {
  if (!read.begin()) return
  try {
    const { source, plan, target: live } = read
    if ((await untilStopped(read, source.start())) === ABORTED) return
    let after = plan.after
    if (after !== undefined && compareEventIds(after, source.window().newestId) > 0) {
      // Beyond what this instance has seen. The store decides: the blocking reader may just lag.
      const newest = await untilStopped(read, source.newest(1))
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
      const newest = await untilStopped(read, source.newest(Math.max(1, plan.initial)))
      if (newest === ABORTED) return
      cursor = newest.length > 0 ? newest[newest.length - 1]!.id : source.zero
      if (plan.initial > 0) batch = newest.slice(-plan.initial)
    } else {
      cursor = after
    }
    let yielded = false
    /** The id to report in a gap event before the next entry, when one is due. */
    let gapFrom: string | undefined
    /** Window position to read next; `undefined` while positioned by id only. */
    let next: number | undefined
    /** Set when the stream refused a push, until it pulls again: the reader waits by pulling meanwhile. */
    let refused = false
    while (!read.stopped) {
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
              gapFrom ??= gapStart(plan, yielded, cursor)
            } else {
              // Read before asking the store: if the store has nothing above `cursor`, nothing up to
              // this bound can appear later either (new entries get higher ids), so the reader may
              // continue from it. The window may have moved on meanwhile; the loop then asks again.
              const floor = window.startAfter
              const got = await untilStopped(read, source.older(cursor, OLDER_BATCH))
              if (got === ABORTED) return
              if (got.trimmed) gapFrom ??= gapStart(plan, yielded, cursor)
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
            await source.fanout.wait(read)
            continue
          }
          // Caught up: from here the fan-out pushes each new batch to the stream, until the stream has
          // no room (or the store failed); the reader then pulls on from the last entry pushed.
          // Joining and leaving happen between two publishes, so no entry is missed or sent twice.
          await source.fanout.follow(read, next)
          next = read.next
          refused = read.refused
          if (read.lastId !== undefined) {
            cursor = read.lastId
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
  } finally {
    read.finish()
  }
}

/** The readers of one log, so `close()` can end them all. */
export class Readers {
  private readonly active = new Set<LogRead>()
  closed = false

  /** Ends every active read; later reads end at once. */
  close(): void {
    this.closed = true
    for (const read of [...this.active]) read.stop()
    this.active.clear()
  }

  /**
   * What `readLog` yields, ended by `signal` or by `close()`; a stream that takes pushed text
   * (`streamSse`, see ./live.ts) gets the live entries pushed instead. Registered in a set rather
   * than as listeners on one log-wide signal: thousands of readers must not pile listeners on one
   * target.
   */
  read(source: LogSource, plan: ReadPlan, signal: AbortSignal): AsyncIterable<LogEntry | StreamGapEvent> & LivePushSource {
    return new LogRead(this, source, plan, signal)
  }

  add(read: LogRead): void {
    this.active.add(read)
  }

  delete(read: LogRead): void {
    this.active.delete(read)
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
