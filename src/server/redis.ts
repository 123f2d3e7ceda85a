/**
 * `use-event-stream/server/redis`: an event log over one Redis stream, shared by every process
 * that uses the same key. Entry ids are the stream's ids (they become the SSE ids); `XRANGE` replays
 * after an id, one `XREAD BLOCK` per client (over every key followed) waits for new entries and fans
 * them out to every reader of the instance, `XADD ... MAXLEN ~` bounds what Redis keeps.
 *
 * Needs the `redis` package (node-redis v6), an optional peer dependency of `use-event-stream`.
 */
import { createClient } from 'redis'
import type { EventLog, EventLogInput, EventLogReadOptions, EventLogEntry, StreamGapEvent } from 'use-event-stream/server'
import { checkAppend, checkMaxLen, checkReadOptions, compareEventIds, EntryWindow, Fanout, Readers, type LogEntry, type LogSource } from './logReader'

/**
 * The parts of a node-redis client the log uses. Any `createClient()` result fits, connected or
 * not, RESP2 or RESP3.
 */
export interface RedisEventLogClient {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  duplicate(): RedisEventLogClient
  sendCommand(args: string[]): Promise<unknown>
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
  close(): Promise<unknown>
  destroy(): unknown
}

/** Options of {@link createRedisEventLog}. */
export interface RedisEventLogOptions {
  /** Redis URL (`redis://[[user]:password@]host[:port][/db]`) for a client the log creates and closes. Default: `redis://localhost:6379` when no `client` is given. */
  url?: string
  /**
   * A node-redis client to send commands with instead (connected or not; the log connects it if
   * needed and never closes it). Every log created from one client shares two duplicates of it:
   * one for replays, one blocking reader for all their keys. Default: none.
   */
  client?: RedisEventLogClient
  /** The stream's key. One log instance per key per process. Required. */
  key: string
  /** Entries Redis keeps, approximately (`XADD ... MAXLEN ~ maxLen`): at least this many, trimmed in whole nodes. Default `100000`. */
  maxLen?: number
  /**
   * Called when waiting for new entries fails (Redis unreachable, a command refused): once when an
   * outage begins, and once more when it has lasted `maxDowntime`. Without it, a warning is printed
   * outside production. Default: none.
   */
  onError?: (error: Error) => void
  /**
   * How long in ms Redis may be unreachable before the readers waiting on this log end with an
   * error (so their clients reconnect, possibly to another instance) and new reads fail at once,
   * until Redis is back. Default `30000`.
   */
  maxDowntime?: number
}

/** What {@link RedisEventLog.status} reports. */
export interface RedisEventLogStatus {
  /** `idle`: no read yet (appends alone do not follow the stream); `ok`: following it; `down`: waiting for new entries fails. */
  readonly state: 'idle' | 'ok' | 'down'
  /** When the current outage began (ms since the epoch); `undefined` unless `down`. */
  readonly downSince: number | undefined
  /** The message of the last failure, if any (never a URL's credentials: Redis replies only). */
  readonly lastError: string | undefined
}

/** The Redis log: an `EventLog` with a status the app can read (health checks, metrics). */
export interface RedisEventLog extends EventLog {
  /** Whether the log is following its stream, or since when Redis has been unreachable. */
  readonly status: RedisEventLogStatus
}

/**
 * Newest entries kept in this process for its readers (at most `maxLen`). A reader further behind
 * reads from Redis by `XRANGE`, so a slow consumer costs requests, never memory.
 */
const WINDOW = 1000
/** How long one `XREAD BLOCK` waits before it is sent again (ms). */
const BLOCK_MS = 10_000
const ZERO = '0-0'
const REDIS_ID = /^(\d{1,20})-(\d{1,20})$/
const MAX_U64 = 18_446_744_073_709_551_615n

/** A stream id, normalised; `undefined` for anything else. */
function parseId(id: string | undefined): string | undefined {
  const m = id === undefined ? null : REDIS_ID.exec(id)
  if (!m) return undefined
  const ms = BigInt(m[1]!)
  const seq = BigInt(m[2]!)
  return ms > MAX_U64 || seq > MAX_U64 ? undefined : `${ms}-${seq}`
}

/** A field of an `XINFO STREAM` reply (a flat array in RESP2, a map or an object in RESP3). */
function infoField(raw: unknown, name: string): unknown {
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) if (String(raw[i]) === name) return raw[i + 1]
    return undefined
  }
  if (raw instanceof Map) return raw.get(name)
  if (raw && typeof raw === 'object') return (raw as Record<string, unknown>)[name]
  return undefined
}

/** One raw stream entry (`[id, [field, value, ...]]`; RESP3 may give the fields as a map). */
function toEntry(raw: unknown): LogEntry | undefined {
  if (!Array.isArray(raw) || raw.length < 2) return undefined
  const id = String(raw[0])
  let data = ''
  let event: string | undefined
  const set = (key: unknown, value: unknown) => {
    const name = String(key)
    if (name === 'data') data = String(value)
    else if (name === 'event') event = String(value)
  }
  const fields = raw[1] as unknown
  if (Array.isArray(fields)) for (let i = 0; i + 1 < fields.length; i += 2) set(fields[i], fields[i + 1])
  else if (fields instanceof Map) for (const [k, v] of fields) set(k, v)
  else if (fields && typeof fields === 'object') for (const [k, v] of Object.entries(fields)) set(k, v)
  return Object.freeze(event === undefined ? { id, data } : { id, event, data })
}

function toEntries(raw: unknown): LogEntry[] {
  if (!Array.isArray(raw)) return []
  const out: LogEntry[] = []
  for (const item of raw) {
    const entry = toEntry(item)
    if (entry) out.push(entry)
  }
  return out
}

/** An `XREAD` reply, key by key: `[[key, entries], ...]` (RESP2), a map or an object (RESP3), or null. */
function xreadStreams(raw: unknown): Array<[string, LogEntry[]]> {
  if (raw === null || raw === undefined) return []
  if (Array.isArray(raw)) return raw.flatMap((stream): Array<[string, LogEntry[]]> => (Array.isArray(stream) ? [[String(stream[0]), toEntries(stream[1])]] : []))
  if (raw instanceof Map) return [...raw.entries()].map(([key, entries]) => [String(key), toEntries(entries)])
  if (typeof raw === 'object') return Object.entries(raw).map(([key, entries]) => [key, toEntries(entries)])
  return []
}

/** One log instance following its key through the hub's blocking reader. */
interface Follower {
  /** New entries of the key, in order, each above the previous. */
  push(entries: LogEntry[]): void
  /** The blocking reader failed (Redis unreachable, a command refused). */
  down(error: unknown): void
  /** The blocking reader works (again). */
  up(): void
}

/** The followers of one key, and the id the blocking reader reads after. */
interface KeyGroup {
  last: string
  members: Map<Follower, { last: string }>
}

/**
 * What the logs created from one client share: the connection replays run on (never the one that
 * appends, so a burst of reconnecting clients cannot delay appends), and one blocking reader
 * (`XREAD` over every key followed) that feeds them all. With the client's own connection for
 * appends, that is 3 connections however many keys and readers. Kept while a log uses it.
 */
class Hub {
  private users = 0
  private reads: RedisEventLogClient | undefined
  private connecting: Promise<RedisEventLogClient> | undefined
  private blocking: RedisEventLogClient | undefined
  private blockingId: string | undefined
  private readonly groups = new Map<string, KeyGroup>()
  private running = false
  /** Set when a key joined after the blocking reader chose its keys: it must re-issue XREAD. */
  private stale = false

  constructor(
    private readonly client: RedisEventLogClient,
    private readonly forget: () => void,
  ) {}

  acquire(): void {
    this.users++
  }

  release(): void {
    if (--this.users > 0) return
    this.reads?.destroy()
    this.reads = undefined
    this.connecting = undefined
    // It sits in XREAD for up to BLOCK_MS: drop its connection rather than wait.
    this.blocking?.destroy()
    this.blocking = undefined
    this.forget()
  }

  /** Feeds `follower` every entry of `key` above `from`, until `unfollow`. */
  follow(key: string, from: string, follower: Follower): void {
    let group = this.groups.get(key)
    if (!group) {
      group = { last: from, members: new Map() }
      this.groups.set(key, group)
      this.stale = true
      void this.interrupt()
    } else if (compareEventIds(from, group.last) < 0) {
      group.last = from
    }
    group.members.set(follower, { last: from })
    if (!this.running) void this.run()
  }

  unfollow(key: string, follower: Follower): void {
    const group = this.groups.get(key)
    if (!group) return
    group.members.delete(follower)
    // The next XREAD leaves the key out; no need to interrupt this one.
    if (group.members.size === 0) this.groups.delete(key)
  }

  /**
   * Makes the blocking reader re-issue its XREAD with the keys that joined. The unblock goes over
   * the replay connection and may overtake the XREAD it targets: retried until the reader has
   * taken the new keys.
   */
  private async interrupt(): Promise<void> {
    for (let attempt = 0; attempt < 100 && this.stale && this.running && this.users > 0; attempt++) {
      try {
        if (this.blockingId !== undefined) {
          const reads = await this.replays()
          if (Number(await reads.sendCommand(['CLIENT', 'UNBLOCK', this.blockingId])) === 1) return
        }
      } catch {
        // Redis away: the blocking reader fails too, and re-issues its XREAD when it is back.
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  private async run(): Promise<void> {
    this.running = true
    if (!this.blocking) {
      this.blocking = this.client.duplicate()
      this.blocking.on('error', () => {})
      // node-redis queues commands while it reconnects: the queued XREAD may wait up to BLOCK_MS
      // after Redis is back, but 'ready' says at once.
      this.blocking.on('ready', () => {
        // A new connection has a new id: CLIENT UNBLOCK must target that one.
        this.blockingId = undefined
        this.each((f) => f.up())
      })
    }
    const blocking = this.blocking
    let failures = 0
    try {
      while (this.groups.size > 0 && this.blocking === blocking) {
        try {
          if (!blocking.isOpen) await blocking.connect()
          this.blockingId ??= String(await blocking.sendCommand(['CLIENT', 'ID']))
          const keys = [...this.groups.keys()]
          const ids = keys.map((key) => this.groups.get(key)!.last)
          this.stale = false
          const reply = await blocking.sendCommand(['XREAD', 'COUNT', '1000', 'BLOCK', String(BLOCK_MS), 'STREAMS', ...keys, ...ids])
          failures = 0
          this.each((f) => f.up())
          for (const [key, entries] of xreadStreams(reply)) this.deliver(key, entries)
        } catch (error) {
          if (this.blocking !== blocking) break
          this.blockingId = undefined
          this.each((f) => f.down(error))
          // Resumes from each key's last id: nothing is lost while Redis is away, readers just wait.
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures++)))
        }
      }
    } finally {
      this.running = false
    }
  }

  private deliver(key: string, entries: LogEntry[]): void {
    const group = this.groups.get(key)
    if (!group || entries.length === 0) return
    group.last = entries[entries.length - 1]!.id
    for (const [follower, position] of group.members) {
      // A follower that joined later starts above some of these.
      const fresh = compareEventIds(entries[0]!.id, position.last) > 0 ? entries : entries.filter((e) => compareEventIds(e.id, position.last) > 0)
      if (fresh.length === 0) continue
      position.last = fresh[fresh.length - 1]!.id
      follower.push(fresh)
    }
  }

  private each(call: (follower: Follower) => void): void {
    for (const group of this.groups.values()) for (const follower of group.members.keys()) call(follower)
  }

  /** The replay connection, connected. */
  replays(): Promise<RedisEventLogClient> {
    this.connecting ??= (async () => {
      const reads = this.client.duplicate()
      reads.on('error', () => {})
      this.reads = reads
      await reads.connect()
      return reads
    })().catch((error: unknown) => {
      this.reads?.destroy()
      this.reads = undefined
      this.connecting = undefined
      throw error
    })
    return this.connecting
  }
}

const hubs = new WeakMap<RedisEventLogClient, Hub>()

function hubOf(client: RedisEventLogClient): Hub {
  let hub = hubs.get(client)
  if (!hub) {
    hub = new Hub(client, () => hubs.delete(client))
    hubs.set(client, hub)
  }
  return hub
}

/**
 * An event log over the Redis stream `key`, shared by every process using that key: what one
 * appends, all read, in the same order, under the same ids. Synchronous; connects on first use.
 *
 * It appends on the command client (`client`, or one it creates from `url`), replays on a
 * duplicate of it, and follows new entries through one `XREAD BLOCK` loop on another duplicate,
 * which feeds every `read()`: three connections, however many readers, and shared by every log
 * created from the same `client`, however many keys. Create one log per key per process and
 * share it.
 *
 * @example
 * import { createRedisEventLog } from 'use-event-stream/server/redis'
 * const log = createRedisEventLog({ url: process.env.REDIS_URL, key: 'events:prices' })
 * await log.append({ event: 'tick', data: JSON.stringify({ price: 1 }) })
 * pipeSseToNode(res, ({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), { request: req })
 */
export function createRedisEventLog(options: RedisEventLogOptions): RedisEventLog {
  if (options === null || typeof options !== 'object') throw new TypeError('createRedisEventLog: options { key, url? | client?, maxLen? } are required')
  const { key, url } = options
  if (typeof key !== 'string' || key === '') throw new TypeError('createRedisEventLog: key must be a non-empty string')
  if (url !== undefined && options.client !== undefined) throw new TypeError('createRedisEventLog: pass url or client, not both')
  if (url !== undefined && typeof url !== 'string') throw new TypeError('createRedisEventLog: url must be a string')
  const maxLen = checkMaxLen(options.maxLen ?? 100_000, 'createRedisEventLog')
  const maxDowntime = options.maxDowntime ?? 30_000
  if (typeof maxDowntime !== 'number' || !(maxDowntime > 0)) throw new TypeError('createRedisEventLog: maxDowntime must be a number of ms > 0')
  const onError = options.onError
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError('createRedisEventLog: onError must be a function')
  const windowSize = Math.min(WINDOW, maxLen)

  const owned = options.client === undefined
  const client: RedisEventLogClient = options.client ?? createClient(url === undefined ? {} : { url })
  // node-redis emits 'error' on every failed reconnect; unheard, that would crash the process. The
  // failures reach callers through the commands that fail.
  if (owned) client.on('error', () => {})
  const hub = hubOf(client)
  hub.acquire()

  // Stops the blocking reader; the reads are ended through `readers`.
  const closing = new AbortController()
  const readers = new Readers()
  const fanout = new Fanout()
  let connecting: Promise<unknown> | undefined
  const ready = (): Promise<unknown> => {
    if (!connecting) {
      const attempt: Promise<unknown> = client.isOpen ? Promise.resolve() : client.connect()
      connecting = attempt.catch((error: unknown) => {
        connecting = undefined
        throw error
      })
    }
    return connecting
  }

  let window: EntryWindow | undefined
  let reads: RedisEventLogClient | undefined
  let following = false
  let starting: Promise<void> | undefined

  let state: RedisEventLogStatus['state'] = 'idle'
  let downSince: number | undefined
  let lastError: string | undefined
  let failure: Error | undefined
  let downTimer: ReturnType<typeof setTimeout> | undefined
  /** Rejections of store commands in flight, so they end when the log gives up on Redis. */
  const failureWaiters = new Set<(error: Error) => void>()
  const report = (error: Error) => {
    if (onError) {
      try {
        onError(error)
      } catch {
        // The app's callback must not stop the log from following its stream.
      }
    } else if (process.env.NODE_ENV !== 'production') {
      console.warn(`[use-event-stream] Redis event log "${key}": ${error.message}`)
    }
  }
  const wentDown = (error: unknown) => {
    lastError = (error as Error)?.message ?? String(error)
    if (state === 'down') return
    state = 'down'
    downSince = Date.now()
    report(new Error(`waiting for new entries failed (${lastError}); retrying`, { cause: error }))
    downTimer = setTimeout(() => {
      failure = new Error(`Redis event log "${key}": Redis unavailable for ${maxDowntime} ms (${lastError})`)
      report(failure)
      for (const reject of [...failureWaiters]) reject(failure)
      fanout.wake()
    }, maxDowntime)
    downTimer.unref?.()
  }
  const isUp = () => {
    if (state === 'ok') return
    state = 'ok'
    downSince = undefined
    failure = undefined
    if (downTimer !== undefined) clearTimeout(downTimer)
  }
  /** `promise`, or a rejection as soon as the log gives up on Redis. */
  const unlessFailed = <T>(promise: Promise<T>): Promise<T> => {
    if (failure) {
      promise.catch(() => {})
      return Promise.reject(failure)
    }
    return new Promise<T>((resolve, reject) => {
      failureWaiters.add(reject)
      promise.then(resolve, reject).finally(() => failureWaiters.delete(reject))
    })
  }

  const follower: Follower = {
    push: (entries) => {
      fanout.publish(window!, entries)
    },
    down: wentDown,
    up: isUp,
  }

  const begin = async () => {
    await ready()
    reads = await hub.replays()
    // Follow from the newest id now, so the window is gap-free from there on.
    const newest = toEntries(await reads.sendCommand(['XREVRANGE', key, '+', '-', 'COUNT', '1']))[0]
    if (closing.signal.aborted) return
    window = new EntryWindow(windowSize, newest?.id ?? ZERO)
    hub.follow(key, window.startAfter, follower)
    following = true
  }

  /**
   * Whether entries above `after` were trimmed, once `after` itself is known to be gone. `MAXLEN`
   * trims from the front without recording what it removed, so the answer is "yes" when `after`
   * is below the oldest entry retained: that includes the one case where nothing was lost (only
   * the reader's own last entry went), which costs the client a needless refetch, never an event.
   */
  const trimmedAfter = async (after: string): Promise<boolean> => {
    let info: unknown
    try {
      info = await unlessFailed(reads!.sendCommand(['XINFO', 'STREAM', key]))
    } catch {
      return false // no such key: nothing was ever trimmed
    }
    const first = toEntry(infoField(info, 'first-entry'))
    if (first) return compareEventIds(after, first.id) < 0
    const generated = infoField(info, 'last-generated-id')
    return generated !== undefined && generated !== null && compareEventIds(String(generated), after) > 0
  }

  const source: LogSource = {
    window: () => window!,
    fanout,
    zero: ZERO,
    failure: () => failure,
    start: () => {
      if (failure) return Promise.reject(failure)
      starting ??= begin().catch((error: unknown) => {
        starting = undefined
        throw error
      })
      return starting
    },
    newest: async (count) => toEntries(await unlessFailed(reads!.sendCommand(['XREVRANGE', key, '+', '-', 'COUNT', String(count)]))).reverse(),
    older: async (after, count) => {
      // From `after` itself: finding it proves nothing after it was trimmed.
      const entries = toEntries(await unlessFailed(reads!.sendCommand(['XRANGE', key, after, '+', 'COUNT', String(count + 1)])))
      if (entries[0]?.id === after) return { entries: entries.slice(1), trimmed: false }
      return { entries, trimmed: await trimmedAfter(after) }
    },
  }

  let closed: Promise<void> | undefined

  return {
    get status(): RedisEventLogStatus {
      return { state, downSince, lastError }
    },

    async append(event: EventLogInput): Promise<string> {
      const checked = checkAppend(event)
      if (closing.signal.aborted) throw new Error('event log is closed')
      await ready()
      if (closing.signal.aborted) throw new Error('event log is closed')
      const args = ['XADD', key, 'MAXLEN', '~', String(maxLen), '*', 'data', checked.data]
      if (checked.event !== undefined) args.push('event', checked.event)
      return String(await client.sendCommand(args))
    },

    read(readOptions: EventLogReadOptions): AsyncIterable<EventLogEntry | StreamGapEvent> {
      const { initial, gapEvent } = checkReadOptions(readOptions)
      return readers.read(source, { after: parseId(readOptions.after), clientId: readOptions.after, initial, gapEvent }, readOptions.signal)
    },

    close(): Promise<void> {
      closed ??= (async () => {
        closing.abort()
        if (downTimer !== undefined) clearTimeout(downTimer)
        readers.close()
        if (following) hub.unfollow(key, follower)
        hub.release()
        if (owned && client.isOpen) {
          // Connected: let pending appends finish. Still connecting (Redis away): drop it, or this
          // would wait for a server that may never come.
          if (client.isReady) await client.close().catch(() => client.destroy())
          else client.destroy()
        }
      })()
      return closed
    },
  }
}

export type { EventLog, EventLogEntry, EventLogInput, EventLogReadOptions, StreamGapEvent }
