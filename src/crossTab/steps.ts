import type { StreamPosition } from '../core/position'
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
  /** The oldest position kept and the steps after it: all a leader can give a follower it cannot place. */
  oldest(): { at: WirePoint; steps: WireStep[] }
  clear(): void
}

export function createStepLog(position: StreamPosition): StepLog {
  let kept: Array<{ at: WirePoint; step: WireStep }> = []
  return {
    keep(step) {
      if (kept.length >= KEPT) kept = kept.slice(KEPT / 2)
      kept.push({ at: pointOf(position), step })
    },
    after(at) {
      if (samePoint(at, pointOf(position))) return []
      for (let i = kept.length - 1; i >= 0; i--) if (samePoint(kept[i]!.at, at)) return kept.slice(i + 1).map((k) => k.step)
      return undefined
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
