/**
 * Event logs: the events of one stream, with ordered ids, that every connection replays from
 * (`Last-Event-ID`) and then follows live. `createMemoryEventLog` keeps them in this process;
 * `createRedisEventLog` (`use-event-stream/server/redis`) in a Redis stream every instance shares.
 */
import { checkAppend, checkMaxLen, checkReadOptions, EntryWindow, Fanout, Readers, STREAM_GAP_EVENT, type LogEntry, type LogSource, type StreamGapEvent } from './logReader'

export { STREAM_GAP_EVENT, type StreamGapEvent }

/** What `append()` takes. */
export interface EventLogInput {
  /** Event type, sent as the `event:` line. Must not contain CR or LF. Default: none (type `message`). */
  event?: string
  /** The payload, sent as `data:` lines. A string: serialise objects first. */
  data: string
}

/** One entry of a log, as `read()` yields it. It is an `SseEvent`, ready to stream. */
export interface EventLogEntry {
  /** Its id in the log: ordered, opaque; becomes the SSE id the client resumes from. */
  readonly id: string
  readonly event?: string
  readonly data: string
}

/** Options of `EventLog.read()`. */
export interface EventLogReadOptions {
  /**
   * The client's `Last-Event-ID`: yield the entries after it, then live ones. No id, an id the log
   * cannot parse, or one above the newest entry (never handed out: another environment, a flushed
   * store) starts at the live tail: the first entry yielded is the first appended after the read
   * began (see `initial`). An id older than the oldest entry retained, with entries trimmed after
   * it, yields one `stream-gap` event first (see `gapEvent`). Default: none (live tail).
   */
  after?: string
  /**
   * Newest retained entries a reader with no usable `after` gets before the live ones (a page of
   * recent history for a fresh client). Default `0`.
   */
  initial?: number
  /**
   * When entries the reader should have got were trimmed away (its `after` is older than the oldest
   * entry retained, or it fell more than the retained length behind), yield first one event
   * `{ event: 'stream-gap', data: '{"lastEventId":"<id>","resumedAt":"<next id>"}' }` with no id,
   * so the client knows to refetch its state. `false`: skip to the oldest retained entry silently.
   * Default `true`.
   */
  gapEvent?: boolean
  /** Ends the read when aborted: the iteration then finishes normally, within 500 ms. Required. */
  signal: AbortSignal
}

/**
 * An ordered, bounded log of events that connections replay from and then follow. Its `read` is a
 * ready source for the streaming helpers:
 *
 * @example
 * pipeSseToNode(res, ({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), { request: req })
 */
export interface EventLog {
  /** Appends an event; resolves to its id. Rejects with a `TypeError` for a malformed event, after `close()`, or when the store fails. */
  append(event: EventLogInput): Promise<string>
  /**
   * The retained entries after `after` (none without a usable `after`, unless `initial`), then live
   * entries as any writer appends them (for the Redis log: any process, to the same key), in order,
   * with no duplicate however slowly the consumer pulls, until `signal` aborts or the log is closed;
   * then the iteration ends normally. Only entries trimmed away (`maxLen`) before the consumer got
   * to them are skipped, and a `stream-gap` event says so (see `gapEvent`). Throws a `TypeError`
   * for a bad `initial`.
   */
  read(options: EventLogReadOptions): AsyncIterable<EventLogEntry | StreamGapEvent>
  /** Ends every active `read()` normally and closes the connections the log opened. Idempotent. */
  close(): Promise<void>
}

/** Options of {@link createMemoryEventLog}. */
export interface MemoryEventLogOptions {
  /** Entries retained; older ones are dropped as new ones arrive. Default `10000`. */
  maxLen?: number
}

const MEMORY_ID = /^\d{1,15}$/

/**
 * The memory log's implementation. `createMemoryEventLog` returns it typed as `EventLog`; code that
 * knows it holds a memory log (the project's reference server) may use the synchronous extras.
 */
export class MemoryEventLog implements EventLog {
  private readonly window: EntryWindow
  private readonly fanout = new Fanout()
  private readonly readers = new Readers()
  private last = 0
  private readonly source: LogSource

  constructor(options: MemoryEventLogOptions = {}) {
    this.window = new EntryWindow(checkMaxLen(options.maxLen ?? 10_000, 'createMemoryEventLog'), '0')
    const window = this.window
    this.source = {
      window: () => window,
      fanout: this.fanout,
      zero: '0',
      start: () => Promise.resolve(),
      newest: (count) => Promise.resolve(window.newest(count)),
    }
  }

  /** The id of the newest entry, `undefined` before the first. */
  get lastId(): string | undefined {
    return this.last === 0 ? undefined : String(this.last)
  }

  /** `append` without the promise: the id at once. Throws where `append` rejects. */
  appendSync(event: EventLogInput): string {
    const checked = checkAppend(event)
    if (this.readers.closed) throw new Error('event log is closed')
    const entry: LogEntry = Object.freeze({ id: String(++this.last), ...checked })
    this.fanout.publish(this.window, [entry])
    return entry.id
  }

  append(event: EventLogInput): Promise<string> {
    try {
      return Promise.resolve(this.appendSync(event))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  read(options: EventLogReadOptions): AsyncIterable<EventLogEntry | StreamGapEvent> {
    const { initial, gapEvent } = checkReadOptions(options)
    const after = options.after !== undefined && MEMORY_ID.test(options.after) ? String(Number(options.after)) : undefined
    return this.readers.read(this.source, { after, clientId: options.after, initial, gapEvent }, options.signal)
  }

  close(): Promise<void> {
    this.readers.close()
    return Promise.resolve()
  }
}

/**
 * An event log in this process's memory: ids `"1"`, `"2"`, ... (a decimal counter), the newest
 * `maxLen` entries retained. Right for one process; several instances behind a load balancer need
 * a shared log (`createRedisEventLog` from `use-event-stream/server/redis`).
 *
 * @example
 * const log = createMemoryEventLog({ maxLen: 1000 })
 * await log.append({ event: 'tick', data: JSON.stringify({ price: 1 }) })
 */
export function createMemoryEventLog(options: MemoryEventLogOptions = {}): EventLog {
  return new MemoryEventLog(options)
}
