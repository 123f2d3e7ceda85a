/**
 * Channels of the reference server: one event log per channel (`use-event-stream/server`'s memory
 * log by default, the Redis log with `redisUrl`), which is where both replay and live delivery
 * come from. Ids are the log's: `"1"`, `"2"`, ... in memory, Redis stream ids on Redis.
 */
import { createClient } from 'redis'
import type { EventLog, EventLogEntry, SseMessage } from '../src/server/index'
import { MemoryEventLog } from '../src/server/eventLog'
import { compareEventIds } from '../src/server/logReader'
import { createRedisEventLog, type RedisEventLogClient } from '../src/server/redis'

/**
 * What survives a restart: pass `server.state` to the next `startReferenceServer` (same port) and
 * ids continue, old tokens stay valid, and `Last-Event-ID` replay works across the restart.
 */
export interface ReferenceServerState {
  /** HS256 secret of the tokens. */
  secret: Uint8Array
  /** The channels' memory logs (unused with Redis, where the logs live in Redis). */
  channels: Map<string, MemoryEventLog>
  /** `channel\nid` of the events published with `sendId: false` (memory log only). */
  withoutIds: Set<string>
  /** `channel\nid` of the events published with `sendId: 'block'`: the id goes in an id-only block after the event. */
  idBlocks: Set<string>
}

/** A fresh state with the given secret (random 32 bytes when omitted). */
export function createReferenceServerState(secret?: string | Uint8Array): ReferenceServerState {
  const bytes =
    secret === undefined ? crypto.getRandomValues(new Uint8Array(32)) : typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  return { secret: bytes, channels: new Map(), withoutIds: new Set(), idBlocks: new Set() }
}

/** Channels that tick on their own clock. */
export const AUTO_CHANNELS = ['ticker', 'news', 'fast'] as const
export type AutoChannel = (typeof AUTO_CHANNELS)[number]

/** `seq` and `seq-<suffix>`: silent channels fed only by `publish()`; a suffix gives a test its own ids. */
const MANUAL_CHANNEL = /^seq(?:-[A-Za-z0-9_.-]{1,64})?$/

export function isKnownChannel(name: string): boolean {
  return (AUTO_CHANNELS as readonly string[]).includes(name) || MANUAL_CHANNEL.test(name)
}

/** Where the channels' logs live. */
export type ChannelStore = { kind: 'memory'; ringSize: number } | { kind: 'redis'; url: string; keyPrefix: string; ringSize: number }

/** The channels' logs, created on first use. */
export class Channels {
  private readonly redisLogs = new Map<string, EventLog>()
  private readonly redis: RedisEventLogClient | undefined
  /** Per-channel counters for the clocks' `seq` on Redis, where ids are not counters. */
  private readonly seqs = new Map<string, number>()

  constructor(
    private readonly state: ReferenceServerState,
    private readonly store: ChannelStore,
  ) {
    if (store.kind === 'redis') {
      // One command connection for every channel; each channel's log adds its blocking reader.
      const client: RedisEventLogClient = createClient({ url: store.url })
      client.on('error', () => {})
      this.redis = client
    }
  }

  private memory(channel: string): MemoryEventLog {
    let log = this.state.channels.get(channel)
    if (!log) {
      log = new MemoryEventLog({ maxLen: this.store.ringSize })
      this.state.channels.set(channel, log)
    }
    return log
  }

  log(channel: string): EventLog {
    if (this.store.kind === 'memory') return this.memory(channel)
    let log = this.redisLogs.get(channel)
    if (!log) {
      log = createRedisEventLog({ client: this.redis!, key: this.store.keyPrefix + channel, maxLen: this.store.ringSize })
      this.redisLogs.set(channel, log)
    }
    return log
  }

  /** The id below every entry: a reader after it gets everything the log holds. */
  get zeroId(): string {
    return this.store.kind === 'memory' ? '0' : '0-0'
  }

  get usesRedis(): boolean {
    return this.store.kind === 'redis'
  }

  /**
   * Appends at once and returns the id (memory log only). `sendId: false`: the event is sent
   * without an `id:` line; it keeps its place in the log, so a replay after an earlier id sends
   * it again, in order.
   */
  publishSync(channel: string, type: string, data: string, sendId: SendId = true): string {
    if (this.store.kind !== 'memory') throw new Error('publish() needs the in-memory log; with Redis use append()')
    const id = this.memory(channel).appendSync(type === 'message' ? { data } : { event: type, data })
    if (sendId === false) this.state.withoutIds.add(`${channel}\n${id}`)
    if (sendId === 'block') this.state.idBlocks.add(`${channel}\n${id}`)
    return id
  }

  /** Appends to the channel's log, whichever it is. `message` events are stored without a type. */
  append(channel: string, type: string, data: string, sendId: SendId = true): Promise<string> {
    if (this.store.kind === 'memory') return Promise.resolve().then(() => this.publishSync(channel, type, data, sendId))
    if (sendId !== true) return Promise.reject(new Error(`sendId: ${String(sendId)} needs the in-memory log`))
    return this.log(channel).append(type === 'message' ? { data } : { event: type, data })
  }

  /** How the event `id` of `channel` carries its id. */
  sendsId(channel: string, id: string): SendId {
    const key = `${channel}\n${id}`
    return this.state.withoutIds.has(key) ? false : this.state.idBlocks.has(key) ? 'block' : true
  }

  /** The memory log's newest id as a number (`0` before the first event). */
  lastId(channel: string): number {
    if (this.store.kind !== 'memory') throw new Error('lastEventId() needs the in-memory log')
    return Number(this.state.channels.get(channel)?.lastId ?? 0)
  }

  /** The next `seq` a clock puts in its data: the next id in memory, a local count on Redis. */
  nextSeq(channel: string): number {
    if (this.store.kind === 'memory') return this.lastId(channel) + 1
    const seq = (this.seqs.get(channel) ?? 0) + 1
    this.seqs.set(channel, seq)
    return seq
  }

  /** The newest id of the channel now (`undefined` when empty): where a client with no resume point starts. */
  async newestId(channel: string): Promise<string | undefined> {
    if (this.store.kind === 'memory') return this.memory(channel).lastId
    if (!this.redis!.isOpen) await this.redis!.connect()
    const reply = await this.redis!.sendCommand(['XREVRANGE', this.store.keyPrefix + channel, '+', '-', 'COUNT', '1'])
    const first = Array.isArray(reply) ? (reply[0] as unknown) : undefined
    return Array.isArray(first) ? String(first[0]) : undefined
  }

  /** Closes the Redis logs and connection. Memory logs stay open: `state` carries them to the next instance. */
  async close(): Promise<void> {
    await Promise.all([...this.redisLogs.values()].map((log) => log.close()))
    this.redisLogs.clear()
    if (this.redis?.isReady) await this.redis.close().catch(() => this.redis!.destroy())
    else if (this.redis?.isOpen) this.redis.destroy()
  }
}

/**
 * One connection's view of a channel: `log.read()` from its resume point, counting the entries
 * that were already in the log when it connected (replayed), and able to end with a final comment.
 * `return()` (called by the streaming helper when the client leaves) stops the read at once.
 */
/** How a published event carries its id: on the event, not at all, or in an id-only block after it. */
export type SendId = boolean | 'block'

export class ChannelReader implements AsyncIterableIterator<SseMessage> {
  private readonly stop = new AbortController()
  private readonly inner: AsyncIterator<EventLogEntry>
  private finalComment: string | undefined
  /** The id-only block after an event, sent on the next call. */
  private pending: SseMessage | undefined
  private done = false
  /** Entries sent that were in the log when the connection opened. */
  replayed = 0

  constructor(
    log: EventLog,
    after: string | undefined,
    /** The newest id when the connection opened: entries up to it count as replayed. */
    private readonly newestAtConnect: string | undefined,
    /** How an entry carries its id: `false`, sent without one; `'block'`, in an id-only block after it. */
    private readonly sendsId: (id: string) => SendId = () => true,
  ) {
    // A client resuming from an id the ring no longer holds is told (a `stream-gap` event) before
    // it gets what is left.
    this.inner = log.read({ after, signal: this.stop.signal })[Symbol.asyncIterator]() as AsyncIterator<EventLogEntry>
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Ends the iteration cleanly (the response is ended), after an optional comment. */
  end(comment?: string): void {
    if (this.done || this.stop.signal.aborted) return
    this.finalComment = comment
    this.stop.abort()
  }

  async next(): Promise<IteratorResult<SseMessage>> {
    if (this.done) return { done: true, value: undefined }
    const pending = this.pending
    this.pending = undefined
    if (pending) return { done: false, value: pending }
    const result = this.stop.signal.aborted ? ({ done: true, value: undefined } as const) : await this.inner.next()
    if (!result.done) {
      // The log's gap notice has no id: it goes out as it is.
      if (result.value.id === undefined) return { done: false, value: result.value }
      const newest = this.newestAtConnect
      if (newest !== undefined && compareEventIds(result.value.id, newest) <= 0) this.replayed++
      const { id, ...withoutId } = result.value
      const how = this.sendsId(id)
      if (how === 'block') {
        // The event, then its id as a checkpoint: a client resuming from that id has the event.
        this.pending = { idOnly: id }
        return { done: false, value: withoutId }
      }
      return { done: false, value: how ? result.value : withoutId }
    }
    const comment = this.finalComment
    this.finalComment = undefined
    if (comment !== undefined) return { done: false, value: { comment } }
    this.done = true
    return { done: true, value: undefined }
  }

  return(): Promise<IteratorResult<SseMessage>> {
    this.done = true
    this.stop.abort()
    // Not awaited: the read ends on the abort; its generator settles on its own.
    void this.inner.return?.()?.catch?.(() => {})
    return Promise.resolve({ done: true, value: undefined })
  }
}
