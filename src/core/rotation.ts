import { followTokens, type TokenRotation } from './streamTokens'
import { startDeadline, type Deadline } from './timers'
import type { Platform } from './types'

/** A rotation's new connection that has not opened by then is given up. */
const CANDIDATE_TIMEOUT = 15_000

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

/**
 * `rotation: 'overlap'` (the default of `createEventStream` and the hooks): on a new token, open a
 * second connection resuming from the stream's position, switch when it opens, and drop what it
 * repeats. Pass it as `rotation` to `createEventStreamWith` with `tokens`.
 */
export const overlapRotation: TokenRotation = (stream, tokens) => followTokens(stream, tokens, 'overlap', createRotation(stream.platform))

function createRotation<C extends { abort(): void; filter: { readonly overflowed: boolean } }>(platform: Platform): Rotation<C> {
  let candidate: C | undefined
  let timer: Deadline | undefined

  const end = () => {
    timer?.cancel()
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
