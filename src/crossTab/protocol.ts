import type { EventStreamError, EventStreamErrorKind } from '../core/errors'
import type { EventStreamStatus } from '../core/types'

/**
 * What crosses the group's `BroadcastChannel`. Plain data only (it is structured-cloned): the raw
 * event, the connection state and errors as fields. Never a token, a header, an option or a user
 * object: followers run their own `parse` on the raw data.
 *
 * Every message names its group (`g`, the group key: a message of another group is ignored even
 * if it arrived on this channel) and its sender (`from`, a random id per stream). Messages of the
 * leader carry its term (`e`: each new leader takes the highest term it has seen plus one, so a
 * follower can tell the current leader from a replaced one) and `seq`: the number of events the
 * group has delivered so far, continued by each new leader from where it saw the group.
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
  | LeaderMessage
)

export type LeaderMessage = { e: number; seq: number } & (
  | /** The group's state, to one joiner (`to`) or to everyone (a new leader). */
  { t: 'welcome'; to: string | undefined; state: WireState; latest: WireEvent | undefined; at: WirePoint }
  | { t: 'state'; state: WireState }
  | ({ t: 'event' } & WireEvent)
  /** An id-only block: it moves the group's position as an event does. */
  | { t: 'id'; id: string }
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
 * The group's event order as one tab sees it. A tab delivers an event only when its `seq` is
 * beyond the last one it delivered: after a handover the new leader numbers the events it resumes
 * with from where it saw the group, so an event both leaders sent (the old one's last messages
 * racing the new one's replay) is delivered once, whatever its SSE id (ids are opaque, and may be
 * missing). A tab that joins takes the group's number as its start (`start`) and delivers only
 * what comes after it: no partial history.
 */
export interface Sequence {
  /** The `seq` of the last event delivered (or of the start), `undefined` before the tab joined. */
  readonly last: number | undefined
  /** Joins at `seq` unless already further: returns true when the tab moved forward. */
  start(seq: number): boolean
  /** True (and moves on) for an event to deliver; false for a duplicate or before `start`. */
  admit(seq: number): boolean
}

export function createSequence(last?: number): Sequence {
  return {
    get last() {
      return last
    },
    start(seq) {
      if (last !== undefined && seq <= last) return false
      last = seq
      return true
    },
    admit(seq) {
      if (last === undefined || seq <= last) return false
      last = seq
      return true
    },
  }
}
