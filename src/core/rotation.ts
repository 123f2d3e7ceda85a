import type { RawEvent } from './types'

/**
 * Where an event sits in a stream whose ids may be on some events only: the last id the server
 * put on an event (or id-only block) of its own, and how many events came after it. A server that
 * replays after `Last-Event-ID: id` sends the events after `id` again, in the same order, so this
 * pair names an event across connections even when the event has no id.
 */
export interface EventPosition {
  id: string | undefined
  since: number
}

/** The position after `event`, one past `from`. Transports that cannot tell leave `hasOwnId` unset. */
export function positionAfter(from: EventPosition, event: RawEvent): EventPosition {
  const own = event.hasOwnId ?? event.lastEventId !== from.id
  return own ? { id: event.lastEventId, since: 0 } : { id: from.id, since: from.since + 1 }
}

/**
 * The bookkeeping of overlap rotation (make-before-break): while the new connection is being
 * established, the old one goes on delivering; once the new one is up, the old one closes and the
 * new one, which resumed from the id the old one had reached when the rotation started, repeats
 * what the old one delivered since. Those repeats are dropped here, by position and content, and
 * everything after them is new.
 *
 * Bounded: at most `limit` events are remembered; `overflowed` tells the stream to give the
 * rotation up (the old connection goes on, and the next connect uses the new token).
 */
export interface OverlapDedupe {
  /** The old connection delivered `event` while the new one was connecting. */
  delivered(event: RawEvent, at: EventPosition): void
  /** An id-only block on the new connection moved its position. */
  movedTo(id: string): void
  /** True when `event`, from the new connection, repeats one the old connection delivered. */
  isReplay(event: RawEvent): boolean
  /** True once the new connection has passed everything the old one delivered. */
  readonly caughtUp: boolean
  readonly overflowed: boolean
}

/** Remembered per event delivered during the overlap. */
interface Delivered {
  position: EventPosition
  type: string
  data: string
}

/**
 * `resumeFrom` is the stream's position when the new connection was requested: its
 * `Last-Event-ID` is `resumeFrom.id`, and the `resumeFrom.since` events after that id were
 * delivered already, so the new connection's first `since` id-less events are repeats too.
 */
export function createOverlapDedupe(resumeFrom: EventPosition, limit: number): OverlapDedupe {
  const expected: Delivered[] = []
  let next = 0
  let replayAt: EventPosition = { id: resumeFrom.id, since: 0 }
  let caughtUp = false
  let overflowed = false
  const same = (a: EventPosition, b: EventPosition) => a.id === b.id && a.since === b.since

  return {
    delivered(event, at) {
      if (expected.length >= limit) overflowed = true
      else expected.push({ position: at, type: event.type, data: event.data })
    },
    movedTo(id) {
      replayAt = { id, since: 0 }
    },
    isReplay(event) {
      if (caughtUp) return false
      replayAt = positionAfter(replayAt, event)
      if (replayAt.id === resumeFrom.id && replayAt.since <= resumeFrom.since) return true
      const head = expected[next]
      if (head && same(head.position, replayAt) && head.type === event.type && head.data === event.data) {
        next++
        return true
      }
      caughtUp = true
      expected.length = 0
      return false
    },
    get caughtUp() {
      return caughtUp
    },
    get overflowed() {
      return overflowed
    },
  }
}
