/**
 * Channels of the reference server: per-channel sequential ids, a bounded ring buffer for replay,
 * and subscriptions fed from one shared clock per channel (so every subscriber sees the same ids).
 */
import type { SseMessage } from '../src/server/index'

/** One event as stored in a channel's ring buffer. */
export interface StoredEvent {
  /** Per-channel sequence number, sent as the SSE id (`"1"`, `"2"`, ...). */
  id: number
  /** Event type; `'message'` is sent without an `event:` line. */
  type: string
  /** Serialised data (JSON for the built-in channels). */
  data: string
  /**
   * `false`: sent without an `id:` line (clients keep the id of an earlier event). The event still
   * has its place in the log, so a replay after an earlier id sends it again, in order. Absent: sent
   * with its id.
   */
  sendId?: false
}

/** A channel's log: the last id handed out and the most recent events. */
export interface ChannelLog {
  lastId: number
  events: StoredEvent[]
}

/**
 * What survives a restart: pass `server.state` to the next `startReferenceServer` (same port) and
 * ids continue, old tokens stay valid, and `Last-Event-ID` replay works across the restart.
 */
export interface ReferenceServerState {
  /** HS256 secret of the tokens. */
  secret: Uint8Array
  channels: Map<string, ChannelLog>
}

/** A fresh state with the given secret (random 32 bytes when omitted). */
export function createReferenceServerState(secret?: string | Uint8Array): ReferenceServerState {
  const bytes =
    secret === undefined ? crypto.getRandomValues(new Uint8Array(32)) : typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  return { secret: bytes, channels: new Map() }
}

/** Channels that tick on their own clock. */
export const AUTO_CHANNELS = ['ticker', 'news', 'fast'] as const
export type AutoChannel = (typeof AUTO_CHANNELS)[number]

/** `seq` and `seq-<suffix>`: silent channels fed only by `publish()`; a suffix gives a test its own ids. */
const MANUAL_CHANNEL = /^seq(?:-[A-Za-z0-9_.-]{1,64})?$/

export function isKnownChannel(name: string): boolean {
  return (AUTO_CHANNELS as readonly string[]).includes(name) || MANUAL_CHANNEL.test(name)
}

/**
 * The SSE message of a stored event (`message` events carry no `event:` line, as the spec intends;
 * events published with `sendId: false` carry no `id:` line).
 */
export function toMessage(event: StoredEvent): SseMessage {
  return {
    ...(event.sendId === false ? {} : { id: String(event.id) }),
    ...(event.type === 'message' ? {} : { event: event.type }),
    data: event.data,
  }
}

/** Called when a subscriber's queue overflows (a client that does not read). */
type OverflowHandler = () => void

/**
 * One connection's view of a channel: replayed events first, then live ones. `return()` (called by
 * the streaming helper when the client leaves) unsubscribes at once, even while `next()` waits.
 */
export class Subscription implements AsyncIterableIterator<SseMessage> {
  private readonly queue: SseMessage[]
  private waiter: ((result: IteratorResult<SseMessage>) => void) | undefined
  private ending = false
  private closed = false
  /** Number of events replayed from the ring buffer at subscription. */
  readonly replayed: number

  constructor(
    replay: readonly StoredEvent[],
    private readonly maxQueue: number,
    private readonly unsubscribe: () => void,
    private readonly onOverflow: OverflowHandler,
  ) {
    this.queue = replay.map(toMessage)
    this.replayed = replay.length
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Live event from the channel. */
  push(event: StoredEvent): void {
    this.deliver(toMessage(event))
    if (this.queue.length > this.maxQueue) this.onOverflow()
  }

  /** Sends an optional final comment, then ends the iteration (the response is ended cleanly). */
  end(comment?: string): void {
    if (this.ending || this.closed) return
    if (comment !== undefined) this.deliver({ comment })
    this.ending = true
    this.unsubscribe()
    this.flushEnd()
  }

  next(): Promise<IteratorResult<SseMessage>> {
    const value = this.queue.shift()
    if (value !== undefined) return Promise.resolve({ done: false, value })
    if (this.ending || this.closed) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }

  return(): Promise<IteratorResult<SseMessage>> {
    this.closed = true
    this.queue.length = 0
    this.unsubscribe()
    this.flushEnd()
    return Promise.resolve({ done: true, value: undefined })
  }

  private deliver(message: SseMessage): void {
    if (this.closed || this.ending) return
    const waiter = this.waiter
    if (waiter) {
      this.waiter = undefined
      waiter({ done: false, value: message })
    } else {
      this.queue.push(message)
    }
  }

  private flushEnd(): void {
    const waiter = this.waiter
    if (waiter && this.queue.length === 0) {
      this.waiter = undefined
      waiter({ done: true, value: undefined })
    }
  }
}

/** Channel logs plus their live subscribers. */
export class Hub {
  private readonly subscribers = new Map<string, Set<Subscription>>()

  constructor(
    private readonly state: ReferenceServerState,
    private readonly ringSize: number,
  ) {}

  private log(channel: string): ChannelLog {
    let log = this.state.channels.get(channel)
    if (!log) {
      log = { lastId: 0, events: [] }
      this.state.channels.set(channel, log)
    }
    return log
  }

  lastId(channel: string): number {
    return this.state.channels.get(channel)?.lastId ?? 0
  }

  /**
   * Appends an event to the channel, trims the ring buffer and broadcasts it. Every event takes
   * the next sequence number, also one sent without an id (`sendId: false`), so the ids a client
   * sees are positions in the log and a replay after one of them resumes right after it.
   */
  publish(channel: string, type: string, data: string, sendId = true): StoredEvent {
    const log = this.log(channel)
    const event: StoredEvent = sendId ? { id: ++log.lastId, type, data } : { id: ++log.lastId, type, data, sendId: false }
    log.events.push(event)
    if (log.events.length > this.ringSize) log.events.splice(0, log.events.length - this.ringSize)
    for (const sub of [...(this.subscribers.get(channel) ?? [])]) sub.push(event)
    return event
  }

  /**
   * Subscribes; with `afterId`, buffered events with a greater sequence number (those published
   * without an id included) are queued first (what fell out
   * of the ring buffer is simply not replayed). Replay and registration happen in one synchronous
   * step, so no event is lost or duplicated between them.
   */
  subscribe(channel: string, afterId: number | undefined, maxQueue: number, onOverflow: () => void): Subscription {
    const replay = afterId === undefined ? [] : this.log(channel).events.filter((e) => e.id > afterId)
    let set = this.subscribers.get(channel)
    if (!set) {
      set = new Set()
      this.subscribers.set(channel, set)
    }
    const subscribers = set
    const sub: Subscription = new Subscription(replay, maxQueue, () => subscribers.delete(sub), onOverflow)
    subscribers.add(sub)
    return sub
  }

  subscriberCount(channel: string): number {
    return this.subscribers.get(channel)?.size ?? 0
  }

  /** Ends every subscription (server shutdown). */
  endAll(): void {
    for (const set of this.subscribers.values()) for (const sub of [...set]) sub.return()
    this.subscribers.clear()
  }
}
