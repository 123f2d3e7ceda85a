import type { RawEvent } from './types'

/**
 * Where a stream is, and how a new connection that resumes from there tells replays from news.
 *
 * The position is the last id the server set (on an event of its own, or with an id-only block)
 * and how many events came after it. A server that replays after `Last-Event-ID: id` sends the
 * steps after `id` again, in the same order, so this pair names an event across connections even
 * when the event itself has no id. Every path that opens a connection while events were delivered
 * (a reconnect after a drop, a rotation, a new leader of a cross-tab group) resumes from
 * `position.resume()` and drops what its `ReplayFilter` says was delivered already: one rule for
 * all of them.
 *
 * Ids are opaque strings, so "after" can only be told by the order of steps: a filter expects the
 * steps the stream delivered after the resume id, in order, matched by position and content, and
 * treats the first step that does not match (or anything after the last expected one) as new. A
 * server that resumes elsewhere (a trimmed log) therefore costs at most the events it skipped, never
 * a stream that drops everything.
 *
 * Transports that cannot tell whether an event carried its own id (the native `EventSource`
 * reports only the stream's last id, so `id: 5` on an event and an id-only block `id: 5` before an
 * id-less event look the same) leave `hasOwnId` unset: such an event that changed the id is the
 * "uncertain head" of its position. A server resuming after `5` then either starts after that event
 * (it carried the id) or repeats it (the id came from a block before it): the filter recognises the
 * repeat by its content.
 */
export interface StreamPosition {
  /** The last id the server set; what a new connection sends as `Last-Event-ID`. */
  readonly id: string | undefined
  /** Events delivered after that id. */
  readonly since: number
  /** Records an event this stream delivered (not a replay). */
  event(raw: RawEvent): void
  /** Records an id-only block (`id:` without data) this stream received (not a replay). */
  idOnly(id: string): void
  /**
   * Puts the position at `point`, knowing nothing of the steps before it: a cross-tab follower that
   * joins a group starts where the group is, so that it resumes from there if it leads later.
   */
  moveTo(point: { id: string | undefined; since: number }): void
  /**
   * A filter for a stream that resumes from `point`, an earlier position of this one: `steps` are
   * those delivered after it, each with the position after it (the caller keeps them). A cross-tab
   * follower ahead of a new leader drops, with it, what the new leader relays again.
   */
  filterAfter(point: { id: string | undefined; since: number }, steps: PositionStep[]): ReplayFilter
  /**
   * A filter for a new connection resuming from here (`Last-Event-ID: filter.lastEventId`). Until
   * that connection delivers its first step, whatever this stream delivers meanwhile (the old
   * connection of an overlap rotation) is added to what the filter expects to be repeated.
   */
  resume(): ReplayFilter
}

/** Decides, step by step, whether a resumed connection repeats what the stream delivered already. */
export interface ReplayFilter {
  /** The id the connection resumes from (`undefined`: nothing to resume from, so nothing to drop). */
  readonly lastEventId: string | undefined
  /** True when `raw`, from the resumed connection, was delivered already: drop it. */
  isReplay(raw: RawEvent): boolean
  /** True when the id-only block `id`, from the resumed connection, was seen already: ignore it. */
  isReplayedId(id: string): boolean
  /** True once the connection has passed everything delivered before it: every step is new. */
  readonly caughtUp: boolean
  /** More steps were delivered meanwhile than the filter may remember: give the connection up. */
  readonly overflowed: boolean
  /** The connection was given up (or ended): the filter expects nothing more. */
  close(): void
}

/** A step the stream delivered, with the position after it (what a replay filter expects). */
export type PositionStep =
  | { kind: 'event'; id: string | undefined; since: number; type: string; data: string }
  | { kind: 'id'; id: string }

/** Content of the events after the id kept for matching; older ones are matched by count alone. */
const CONTENT_LIMIT = 1000
/** Steps delivered by an old connection while a new one connects (overlap) that a filter remembers. */
const OVERLAP_LIMIT = 10_000

/**
 * Whether `raw` carries its own id, seen from a position whose id is `from` (`uncertain`: the
 * transport could not tell, and the id changed).
 */
function ownership(raw: RawEvent, from: string | undefined): { own: boolean; uncertain: boolean } {
  if (raw.hasOwnId !== undefined) return { own: raw.hasOwnId, uncertain: false }
  const own = raw.lastEventId !== from
  return { own, uncertain: own }
}

const resumable = (id: string | undefined): id is string => !!id

/** A position at `initialId` (none: the start of the stream). */
export function createStreamPosition(initialId?: string): StreamPosition {
  let id = initialId
  let since = 0
  /** The event that changed the id when the transport could not tell whether it carried it. */
  let head: { type: string; data: string } | undefined
  /** The last `CONTENT_LIMIT` events after the id (their positions are `since - tail.length + 1 …`). */
  let tail: PositionStep[] = []
  /** The filter of a connection that has not delivered yet (at most one is being established). */
  let pending: (ReplayFilter & { expect(step: PositionStep): void; started: boolean }) | undefined

  const feed = (step: PositionStep) => {
    if (pending && !pending.started) pending.expect(step)
    else pending = undefined
  }
  /** A new id (or a point handed over): nothing is known of the events after it yet. */
  const startAt = (nextId: string | undefined, nextSince: number) => {
    id = nextId
    since = nextSince
    tail = []
    head = undefined
  }

  return {
    get id() {
      return id
    },
    get since() {
      return since
    },
    event(raw) {
      const { own, uncertain } = ownership(raw, id)
      if (own) {
        startAt(raw.lastEventId, 0)
        if (uncertain) head = { type: raw.type, data: raw.data }
      } else since++
      // One step object per event, read by the tail and by a filter being established alike.
      const step: PositionStep = { kind: 'event', id, since, type: raw.type, data: raw.data }
      // Without an id nothing resumes from here: no content to keep.
      if (!own && resumable(id)) {
        if (tail.length >= CONTENT_LIMIT) tail = tail.slice(CONTENT_LIMIT / 2)
        tail.push(step)
      }
      feed(step)
    },
    idOnly(next) {
      startAt(next, 0)
      feed({ kind: 'id', id: next })
    },
    moveTo(point) {
      startAt(point.id, point.since)
      pending = undefined
    },
    filterAfter: (point, steps) => createReplayFilter(point.id, undefined, 0, steps, point.since),
    resume() {
      const filter = createReplayFilter(id, head, since - tail.length, tail.slice())
      pending = filter
      return filter
    },
  }
}

function createReplayFilter(
  from: string | undefined,
  uncertainHead: { type: string; data: string } | undefined,
  uncounted: number,
  expected: PositionStep[],
  startSince = 0,
): ReplayFilter & { expect(step: PositionStep): void; started: boolean } {
  // Nothing to resume from: the server sends only what is new.
  let caughtUp = !resumable(from)
  let overflowed = false
  let head = uncertainHead
  /** Leading id-less events after `from` remembered by count only. */
  let skip = uncounted
  let next = 0
  /** The resumed connection's own position, computed as the stream computes its own. */
  let at: { id: string | undefined; since: number } = { id: from, since: startSince }

  const done = () => {
    if (!head && skip === 0 && next === expected.length) finish()
  }
  const finish = () => {
    caughtUp = true
    expected = []
  }
  const start = () => {
    filter.started = true
  }

  const filter = {
    lastEventId: resumable(from) ? from : undefined,
    started: false,
    expect(step: PositionStep) {
      if (caughtUp) return
      if (expected.length >= OVERLAP_LIMIT) overflowed = true
      else expected.push(step)
    },
    close: start,
    isReplay(raw: RawEvent): boolean {
      start()
      if (caughtUp) return false
      const { own } = ownership(raw, at.id)
      if (head) {
        const repeated = !own && raw.type === head.type && raw.data === head.data
        head = undefined
        // The id came from a block before this event, which the server now repeats. The position
        // counts from that event, so this repeat does not advance it.
        if (repeated) return done(), true
      }
      at = own ? { id: raw.lastEventId, since: 0 } : { id: at.id, since: at.since + 1 }
      if (skip > 0 && !own) {
        skip--
        return done(), true
      }
      skip = 0
      const step = expected[next]
      if (step?.kind === 'event' && step.id === at.id && step.since === at.since && step.type === raw.type && step.data === raw.data) {
        next++
        return done(), true
      }
      finish()
      return false
    },
    isReplayedId(id: string): boolean {
      start()
      if (caughtUp) return false
      // A repeated block before the head's repeat: the head carried its own id after all.
      head = undefined
      const step = expected[next]
      if (skip === 0 && step?.kind === 'id' && step.id === id) {
        at = { id, since: 0 }
        next++
        return done(), true
      }
      finish()
      return false
    },
    get caughtUp() {
      return caughtUp
    },
    get overflowed() {
      return overflowed
    },
  }
  return filter
}
