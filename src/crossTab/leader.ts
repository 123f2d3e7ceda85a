import type { EventStreamError } from '../core/errors'
import type { EventStream, EventStreamOptions } from '../core/eventStream'
import type { StreamPosition } from '../core/position'
import type { Platform } from '../core/types'
import type { Follower } from './follower'
import type { GroupVisibility } from './groupVisibility'
import { toWire, type WireEvent, type WirePoint, type WireState, type WireStep } from './protocol'
import type { StepLog } from './steps'

/** Followers' `reconnect` requests the leader follows, at most one per this many ms. */
const RECONNECT_EVERY = 1000
/**
 * `resend` requests answered per beat: a replay can be a thousand steps, so a flood of requests
 * (any script of the origin can post them) must not become a flood of replays. Followers ask
 * again each beat until answered.
 */
const RESENDS_PER_BEAT = 20

/** What a leader's term needs from its tab. */
export interface LeaderParts {
  /** The options of the leader's stream (the tab's, without its `parse` and callbacks). */
  options: EventStreamOptions<string>
  makeLeader: (options: EventStreamOptions<string>) => EventStream<string>
  /** The tab's (the group's) position: the stream resumes from it and moves it. */
  position: StreamPosition
  log: StepLog
  follower: Follower
  post(message: object): void
  /** Delivers an event of our stream in this tab. */
  deliver(raw: WireEvent): void
  /** Our stream's error, for this tab's `onError`. */
  reportError(error: EventStreamError): void
  /** Our stream's connection changed: the tab shows it. */
  show(state: WireState, error: EventStreamError | undefined, lastEventId: string | undefined): void
  /** Our stream ended (`closed` or `failed`): the group ends with it. */
  end(error: EventStreamError | undefined): void
  errorId(error: EventStreamError): string
  platform: Platform
  beat: number
  visibility: GroupVisibility | undefined
}

/** One term of this tab as the group's leader: its own stream, relayed to the group step by step. */
export interface LeaderTerm {
  readonly stream: EventStream<string>
  readonly visibility: GroupVisibility | undefined
  /** Our stream's connection, as the group sees it. */
  state(): WireState
  /** A follower (`to`) asked for the steps after `at`. */
  resend(to: string, at: WirePoint): void
  /** A follower's `reconnect()`: followed at most once a second for the whole group. */
  reconnectFor(): void
  /**
   * Ends the term: our stream closes without a word to the group and the lock goes to the next
   * tab. With `linger` (the group ended) the lock is held one beat longer, so that the members
   * hear of the end and leave the lock's queue before anyone is granted it (and would connect
   * again): the returned function releases it sooner.
   */
  stop(linger: boolean): (() => void) | undefined
}

export function startLeaderTerm(parts: LeaderParts, release: () => void): LeaderTerm {
  const { position, log, follower, post, platform, visibility } = parts
  let active = true
  /** The state the group was last told, and the last event id it was sent (with a step or a state). */
  let posted: WireState | undefined
  let postedId: string | undefined
  let reconnectedAt = -Infinity
  let resendsFrom = -Infinity
  let resends = 0

  const relay = (step: WireStep, id: string | undefined) => {
    follower.next()
    log.keep(step)
    post(step)
    postedId = id
  }

  // The group's position, handed to our stream: it resumes from it, and every step it delivers
  // moves it and goes to the group as it happens (id-only blocks too), so every tab's position
  // stays the leader's. A replaced term's stream delivers nothing: its steps move nothing.
  const relaying: StreamPosition = {
    get id() {
      return position.id
    },
    get since() {
      return position.since
    },
    event(raw) {
      if (!active) return
      position.event(raw)
      relay({ t: 'event', type: raw.type, data: raw.data, id: raw.lastEventId, own: raw.hasOwnId }, raw.lastEventId)
    },
    idOnly(id) {
      if (!active) return
      position.idOnly(id)
      relay({ t: 'id', id }, id)
    },
    moveTo: (at) => position.moveTo(at),
    filterAfter: (at, steps) => position.filterAfter(at, steps),
    resume: () => position.resume(),
  }

  const stream = parts.makeLeader({
    ...parts.options,
    position: relaying,
    parse: undefined,
    onEvent(event) {
      if (active) parts.deliver({ type: event.type, data: event.raw, id: event.id })
    },
    onError(error) {
      if (!active) return
      post({ t: 'error', error: toWire(error, parts.errorId(error)) })
      parts.reportError(error)
    },
    platform: visibility ? { ...parts.options.platform, document: visibility.document } : parts.options.platform,
  })

  function state(): WireState {
    const s = stream.getSnapshot()
    return {
      // A leader's stream is `idle` only until the `connect()` that follows its creation: the
      // group sees a connection on its way, never an `idle` between two leaders.
      status: s.status === 'idle' ? 'connecting' : s.status,
      error: s.error && toWire(s.error, parts.errorId(s.error)),
      attempt: s.attempt,
      retryAt: s.retryAt,
      transport: s.transport,
      openCount: s.openCount,
      lastEventId: s.lastEventId,
    }
  }

  /** Our stream changed: show it, tell the group, and end the group with it. */
  const unsubscribe = stream.subscribe(() => {
    if (!active) return
    const now = state()
    const s = stream.getSnapshot()
    parts.show(now, s.error, s.lastEventId)
    // Every step moves the last event id: the step's message said so already.
    const before = posted
    const changed =
      !before ||
      now.lastEventId !== postedId ||
      before.error?.id !== now.error?.id ||
      (['status', 'attempt', 'retryAt', 'transport', 'openCount'] as const).some((field) => before[field] !== now[field])
    if (changed) {
      posted = now
      postedId = now.lastEventId
      post({ t: 'state', state: now })
    }
    if (now.status === 'closed' || now.status === 'failed') parts.end(s.error)
  })

  return {
    stream,
    visibility,
    state,
    resend(to, at) {
      const now = platform.monotonic()
      if (now - resendsFrom >= parts.beat) {
        resendsFrom = now
        resends = 0
      }
      if (++resends > RESENDS_PER_BEAT) return
      const steps = log.after(at)
      if (steps) return post({ t: 'replay', to, at, steps, gap: false })
      const oldest = log.oldest()
      post({ t: 'replay', to, at: oldest.at, steps: oldest.steps, gap: true })
    },
    reconnectFor() {
      const now = platform.monotonic()
      if (now - reconnectedAt < RECONNECT_EVERY) return
      reconnectedAt = now
      stream.reconnect()
    },
    stop(linger) {
      active = false
      unsubscribe()
      stream.close()
      if (!linger) return void release()
      const timer = platform.setTimeout(done, parts.beat)
      function done() {
        platform.clearTimeout(timer)
        release()
      }
      return done
    },
  }
}
