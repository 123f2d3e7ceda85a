import type { ReplayFilter, StreamPosition } from '../core/position'
import type { StreamGap } from '../core/types'
import type { WireEvent, WirePoint, WireStep } from './protocol'
import { pointOf, samePoint, type StepLog } from './steps'

/** What the follower unit needs from its tab. */
export interface FollowerParts {
  position: StreamPosition
  log: StepLog
  /** Shows a relayed event (`quiet`: the group's latest event shown to a tab that joins). */
  deliver(raw: WireEvent, quiet?: boolean): void
  /** Shows the stream's last event id (moved by an id-only block, or by a re-base). */
  showId(id: string | undefined): void
  /** Asks the leader for the steps after `at` (a `resend`). */
  ask(at: WirePoint): void
  /** Reports steps nobody could give this tab any more (the stream's `onGap`). */
  gap(gap: StreamGap): void
  monotonic(): number
  /** How long to wait for an answer before asking again (ms). */
  beat: number
}

/**
 * The group's order of steps as one tab takes them: the leader numbers each step it relays
 * (`seq`), a follower takes them in that order. Within a term a number already taken is a repeat
 * (dropped) and a number past the next one is a gap: the follower asks the leader for the steps
 * after its position and holds what comes meanwhile. On a new term it re-bases on the welcome
 * (`rebase`) instead of comparing numbers across leaders. A tab that leads numbers on from here.
 */
export interface Follower {
  /** The number of the last step taken (or of the welcome), `undefined` before joining. */
  readonly seq: number | undefined
  /** Numbers a step this tab relays as leader. */
  next(): number
  /** This tab leads from now on: nothing to wait for or drop. */
  lead(): void
  rebase(welcome: { seq: number; at: WirePoint; latest: WireEvent | undefined }): void
  take(message: WireStep & { seq: number }): void
  replay(message: { seq: number; at: WirePoint; steps: WireStep[]; gap: boolean }): void
  /** Asks again for missing steps nobody answered for a beat. */
  tick(): void
}

export function createFollower(parts: FollowerParts): Follower {
  const { position, log } = parts
  let seq: number | undefined
  /** After a re-base that found us ahead of the new leader: the steps we delivered already. */
  let catchUp: ReplayFilter | undefined
  /** We miss steps and asked for them: steps wait until the answer. */
  let missing = false
  let askedAt = 0

  function askForSteps(): void {
    missing = true
    askedAt = parts.monotonic()
    parts.ask(pointOf(position))
  }

  /** True for a step we delivered before a re-base (see `rebase`). */
  function replayed(check: (filter: ReplayFilter) => boolean): boolean {
    if (catchUp && !catchUp.caughtUp && check(catchUp)) return true
    catchUp = undefined
    return false
  }

  /** One step: moves our position and, for an event, delivers it. */
  function apply(step: WireStep): void {
    if (step.t === 'id') {
      if (replayed((filter) => filter.isReplayedId(step.id))) return
      position.idOnly(step.id)
      log.keep({ t: 'id', id: step.id })
      return parts.showId(step.id)
    }
    const raw = { type: step.type, data: step.data, lastEventId: step.id, hasOwnId: step.own }
    if (replayed((filter) => filter.isReplay(raw))) return
    position.event(raw)
    log.keep({ t: 'event', type: raw.type, data: raw.data, id: raw.lastEventId, own: raw.hasOwnId })
    parts.deliver({ type: raw.type, data: raw.data, id: raw.lastEventId })
  }

  return {
    get seq() {
      return seq
    },
    next: () => (seq = (seq ?? 0) + 1),
    lead() {
      seq ??= 0
      catchUp = undefined
      missing = false
    },
    /**
     * A new term (or this tab joining): the leader's numbering starts at the welcome's `seq`, from
     * the group position `at`. A tab at `at` goes on; one ahead of it (it delivered steps the new
     * leader has not: the old leader's last messages) drops the steps it already delivered as the
     * new leader relays them again; one that joins starts from `at`; one behind it asks for what
     * it missed.
     */
    rebase({ seq: base, at, latest }) {
      catchUp = undefined
      missing = false
      const fresh = seq === undefined
      seq = base
      if (fresh) {
        position.moveTo(at)
        log.clear()
        if (latest) parts.deliver(latest, true)
      } else if (!samePoint(at, pointOf(position))) {
        const filter = log.filterAfter(at)
        if (filter) catchUp = filter
        else askForSteps()
      }
      parts.showId(position.id)
    },
    take(message) {
      if (seq === undefined || message.seq <= seq || missing) return
      if (message.seq > seq + 1) return askForSteps()
      seq = message.seq
      apply(message)
    },
    replay(message) {
      if (!missing) return
      if (message.gap) {
        // The leader no longer holds our position: what came between is lost for this tab.
        const gap = { lastEventId: position.id, resumedAt: message.at.id }
        position.moveTo(message.at)
        log.clear()
        catchUp = undefined
        parts.showId(position.id)
        parts.gap(gap)
      } else if (!samePoint(message.at, pointOf(position))) return askForSteps()
      missing = false
      for (const step of message.steps) apply(step)
      seq = message.seq
    },
    tick() {
      if (missing && parts.monotonic() - askedAt >= parts.beat) askForSteps()
    },
  }
}
