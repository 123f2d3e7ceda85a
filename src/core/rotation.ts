import { startDeadline, type Deadline } from './timers'
import type { Platform, RotationPolicy } from './types'

/** A rotation's new connection that has not opened by then is given up. */
const CANDIDATE_TIMEOUT = 15_000

/**
 * How a stream answers a new token while a connection is open, given the id it could resume from:
 * - `'overlap'`: make-before-break (see `createRotation`);
 * - `'reconnect'`: break-before-make; the new connection resumes from the stream's position;
 * - `'keep'`: keep the connection; the new token is used at the next connect. Also what a stream
 *   with no id does whatever the policy: a new connection could resume from nothing, so every
 *   event between the two connections would be lost (break-before-make) or could not be matched
 *   (make-before-break). It keeps the connection until it ends.
 */
export function rotationFor(policy: RotationPolicy, resumeId: string | undefined): 'overlap' | 'reconnect' | 'keep' {
  if (policy === 'none' || !resumeId) return 'keep'
  return policy
}

/**
 * Make-before-break token rotation: while the new connection (the candidate) is being established,
 * the old one goes on delivering; when the candidate opens it replaces the old one, which is
 * closed. What the candidate repeats is dropped by its replay filter (see `position.ts`), which
 * was fed everything the old connection delivered meanwhile. The candidate is given up, and the
 * old connection goes on, when it fails, when it has not opened within `CANDIDATE_TIMEOUT`, and
 * when the old connection delivered more than its filter may remember.
 */
export interface Rotation<C extends { abort(): void; filter: { readonly overflowed: boolean } }> {
  /** The connection being established, if a rotation is under way. */
  readonly candidate: C | undefined
  /** Starts a rotation to `candidate`; at most one at a time (the caller checks `candidate`). */
  begin(candidate: C): void
  /** The old connection delivered a step: the candidate's filter expects it too, if it has room. */
  delivered(): void
  /** The candidate opened: it is returned and the rotation is over. */
  promote(): C
  /** Gives the rotation up: the candidate is aborted, the old connection goes on. */
  abandon(): void
  /** Re-reads the candidate's deadline from the clocks (after a sleep). */
  check(): void
}

export function createRotation<C extends { abort(): void; filter: { readonly overflowed: boolean } }>(platform: Platform): Rotation<C> {
  let candidate: C | undefined
  let timer: Deadline | undefined

  const end = () => {
    timer?.cancel()
    timer = undefined
    const ended = candidate
    candidate = undefined
    return ended
  }
  const abandon = () => end()?.abort()

  return {
    get candidate() {
      return candidate
    },
    begin(next) {
      candidate = next
      timer = startDeadline(platform, CANDIDATE_TIMEOUT, abandon)
    },
    delivered() {
      if (candidate?.filter.overflowed) abandon()
    },
    promote: () => end()!,
    abandon,
    check: () => timer?.check(),
  }
}
