/**
 * Event logs: the events of one stream, with ordered ids, that every connection replays from
 * (`Last-Event-ID`) and then follows live. `createMemoryEventLog` keeps them in this process;
 * `createRedisEventLog` (`use-event-stream/server/redis`) in a Redis stream every instance shares.
 */
import { Changes, checkAppend, checkMaxLen, EntryWindow, Readers, type LogEntry, type LogSource } from './logReader'

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
   * Yield only entries after this id (a client's `Last-Event-ID`). An id the log cannot parse, one
   * it never handed out, or one already trimmed away reads from the oldest entry retained.
   * Default: every retained entry.
   */
  after?: string
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
   * Every retained entry after `after`, then live entries as any writer appends them (for the Redis
   * log: any process, to the same key), in order, with no gap and no duplicate however slowly the
   * consumer pulls, until `signal` aborts or the log is closed; then the iteration ends normally.
   * Only entries trimmed away (`maxLen`) before the consumer got to them are skipped.
   */
  read(options: EventLogReadOptions): AsyncIterable<EventLogEntry>
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
  private readonly changes = new Changes()
  private readonly readers = new Readers()
  private last = 0
  private readonly source: LogSource

  constructor(options: MemoryEventLogOptions = {}) {
    this.window = new EntryWindow(checkMaxLen(options.maxLen ?? 10_000, 'createMemoryEventLog'), '0')
    const window = this.window
    this.source = { window: () => window, changes: this.changes, start: () => Promise.resolve() }
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
    this.window.push(entry)
    this.changes.notify()
    return entry.id
  }

  append(event: EventLogInput): Promise<string> {
    try {
      return Promise.resolve(this.appendSync(event))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  read(options: EventLogReadOptions): AsyncIterable<EventLogEntry> {
    const { signal } = options
    // Ids are a decimal counter. One it never handed out comes from another log (a restarted
    // process): read from the oldest entry rather than wait for the counter to get there.
    const after = options.after !== undefined && MEMORY_ID.test(options.after) && Number(options.after) <= this.last ? String(Number(options.after)) : '0'
    return this.readers.read(this.source, after, signal)
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
