import type { PositionStep, ReplayFilter, StreamPosition } from '../core/position'
import type { WirePoint, WireStep } from './protocol'

/** Steps every tab keeps (with the position after each), so that a leader can fill a follower's gap. */
export const KEPT = 1000

export const pointOf = (position: StreamPosition): WirePoint => ({ id: position.id, since: position.since })
export const samePoint = (a: WirePoint, b: WirePoint) => a.id === b.id && a.since === b.since

/**
 * The last `KEPT` steps a tab took (relayed by its leader, or its own stream's while it led), each
 * with the group position after it. Every tab keeps one: whichever leads next answers a follower's
 * `resend` from it, including the steps it took as a follower of the previous leader.
 */
export interface StepLog {
  /** Records a step just taken (`position` has moved past it). */
  keep(step: WireStep): void
  /** The steps taken after `at`, or `undefined` when `at` is not among the positions kept. */
  after(at: WirePoint): WireStep[] | undefined
  /**
   * A filter over the steps taken after `at` (see `StreamPosition.filterAfter`): a follower ahead of a new leader
   * that resumed from `at` drops, with it, what the leader relays again. `undefined` when `at` is
   * not among the positions kept (older than they are, or ahead of this tab).
   */
  filterAfter(at: WirePoint): ReplayFilter | undefined
  /** The oldest position kept and the steps after it: all a leader can give a follower it cannot place. */
  oldest(): { at: WirePoint; steps: WireStep[] }
  clear(): void
}

export function createStepLog(position: StreamPosition): StepLog {
  let kept: Array<{ at: WirePoint; step: WireStep }> = []
  /** Index of the first step after `at` in `kept`, or -1 when `at` is not kept. */
  const indexAfter = (at: WirePoint) => {
    if (samePoint(at, pointOf(position))) return kept.length
    for (let i = kept.length - 1; i >= 0; i--) if (samePoint(kept[i]!.at, at)) return i + 1
    return -1
  }
  return {
    keep(step) {
      if (kept.length >= KEPT) kept = kept.slice(KEPT / 2)
      kept.push({ at: pointOf(position), step })
    },
    after(at) {
      const from = indexAfter(at)
      return from < 0 ? undefined : kept.slice(from).map((k) => k.step)
    },
    filterAfter(at) {
      const from = indexAfter(at)
      if (from < 0) return undefined
      const steps = kept.slice(from).map(({ at: after, step }): PositionStep =>
        step.t === 'id' ? { kind: 'id', id: step.id } : { kind: 'event', id: after.id, since: after.since, type: step.type, data: step.data },
      )
      return position.filterAfter(at, steps)
    },
    oldest() {
      const first = kept[0]
      return first ? { at: first.at, steps: kept.slice(1).map((k) => k.step) } : { at: pointOf(position), steps: [] }
    },
    clear() {
      kept = []
    },
  }
}
