import type { EventStreamError, EventStreamErrorKind } from '../core/errors'
import type { EventStreamStatus } from '../core/types'

/**
 * What crosses the group's `BroadcastChannel`. Plain data only (it is structured-cloned): the raw
 * event, the connection state and errors as fields. Never a token, a header, an option or a user
 * object: followers run their own `parse` on the raw data.
 *
 * Every message names its group (`g`, a hash of the group key, see `groupHash`: a message of
 * another group is ignored even if it arrived on this channel) and its sender (`from`, a random id per stream). Messages of the
 * leader carry its term (`e`: each new leader takes the highest term it has seen plus one, so a
 * follower can tell the current leader from a replaced one, see `judge`) and `seq`: the number of
 * steps (events and id-only blocks) the leader relayed, continued by each new leader from where it
 * saw the group. A follower takes steps in `seq` order within a term; on a new term it re-bases on
 * the welcome's position (`at`) and `seq` instead of comparing numbers across terms.
 */
export type Message = { g: string; from: string } & (
  | /** A tab joins; the leader answers with a `welcome` addressed to it. */
  { t: 'hello'; hidden: boolean }
  /** A follower's page became visible or hidden (visible ones repeat it every beat). */
  | { t: 'vis'; hidden: boolean }
  /** A follower leaves (its `close()`). */
  | { t: 'bye' }
  /** A follower's `reconnect()`: the leader reconnects. */
  | { t: 'reconnect' }
  /** A follower missed steps (a gap in `seq`, or behind a new leader): the steps after `at`, please. */
  | { t: 'resend'; at: WirePoint }
  | LeaderMessage
)

export type LeaderMessage = { e: number; seq: number } & (
  | /** The group's state, to one joiner (`to`) or to everyone (a new leader). */
  { t: 'welcome'; to: string | undefined; state: WireState; latest: WireEvent | undefined; at: WirePoint }
  | { t: 'state'; state: WireState }
  | ({ t: 'event' } & WireEvent)
  /** An id-only block: it moves the group's position as an event does. */
  | { t: 'id'; id: string }
  /**
   * The answer to a `resend` (to `to`): the steps after `at` up to this message's `seq`. With
   * `gap`, the leader no longer holds the follower's position: `at` is the oldest it holds, the
   * follower reports the gap (`onGap`) and goes on from there.
   */
  | { t: 'replay'; to: string; at: WirePoint; steps: WireStep[]; gap: boolean }
  | { t: 'error'; error: WireError }
  /** Nothing else to say, but alive: followers take over a leader they have not heard for a while. */
  | { t: 'beat' }
)

/** One event as the leader's connection dispatched it, before any `parse`. */
export interface WireEvent {
  type: string
  data: string
  id: string | undefined
  /** Whether the event's own block carried the id (the transport's `hasOwnId`; unset when it cannot tell). */
  own?: boolean | undefined
}

/** A step of the stream as relayed: an event, or an id-only block. */
export type WireStep = ({ t: 'event' } & WireEvent) | { t: 'id'; id: string }

/** A stream position (see core/position.ts): the last id and the events since it. */
export interface WirePoint {
  id: string | undefined
  since: number
}

/** The leader's connection: what a follower's snapshot mirrors. */
export interface WireState {
  status: EventStreamStatus
  error: WireError | undefined
  attempt: number
  retryAt: number | undefined
  transport: string
  /** Connections the leader opened in its term. */
  openCount: number
  lastEventId: string | undefined
}

/** An `EventStreamError` as fields; `id` lets every tab rebuild one object per error. */
export interface WireError {
  id: string
  kind: EventStreamErrorKind
  message: string
  status: number | undefined
  retryAfter: number | undefined
}

export function toWire(error: EventStreamError, id: string): WireError {
  return { id, kind: error.kind, message: error.message, status: error.status, retryAfter: error.retryAfter }
}

/** Rebuilds the error (`ErrorClass`: the core's `EventStreamError`, handed over by the loader). */
export function fromWire(error: WireError, ErrorClass: typeof EventStreamError): EventStreamError {
  return new ErrorClass(error.kind, error.message, { status: error.status, retryAfter: error.retryAfter })
}

/**
 * What a tab does with a leader's message, by its term (`e`) and sender:
 * - `current`: the leader this tab follows, in the term it knows: take it.
 * - `new`: a welcome that starts a term this tab accepts: re-base on it (see the welcome's `at`
 *   and `seq`). Accepted: any term while the tab is `free` (it knows no leader yet, or its group
 *   ended), the successor of the known term (`known + 1`), and the known term from another
 *   sender or any newer term when addressed to this tab in answer to its own `hello` (`asked`).
 * - `ask`: a term this tab cannot accept on its own: a newer one (it missed that term's welcome),
 *   or the known one from another sender (two tabs took over at once; the one holding the lock
 *   answers): ask the leader for a welcome (`hello`).
 * - `ignore`: a replaced leader's late message, another tab's welcome, or a term no tab of the
 *   group could have reached (one forged message moves no tab).
 */
export type Verdict = 'current' | 'new' | 'ask' | 'ignore'

export interface Known {
  term: number
  leader: string | undefined
  free: boolean
  asked: boolean
}

export function judge(known: Known, message: { t: string; e: number; from: string; to?: string | undefined }, me: string): Verdict {
  const { e } = message
  if (message.t !== 'welcome') {
    if (e === known.term && message.from === known.leader) return 'current'
    return e >= known.term ? 'ask' : 'ignore'
  }
  if (message.to !== undefined && message.to !== me) return 'ignore'
  if (known.free || e === known.term + 1) return 'new'
  if (e === known.term && message.from === known.leader && message.to === undefined) return 'current'
  if (e >= known.term) return message.to === me && known.asked ? 'new' : 'ask'
  return 'ignore'
}
