import type { Platform } from '../core/types'

/** The heartbeat and staleness of a group (ms); tests pass shorter ones through `platform`. */
export interface CrossTabTimings {
  /** The leader says something at least this often; followers repeat their visibility as often. */
  beat: number
  /**
   * A visible follower that heard nothing from the leader for this long (plus up to one beat of
   * jitter, so two followers rarely take over at once) takes the lock over: the leader is frozen,
   * hung, or a background tab whose timers the browser throttles.
   */
  stale: number
}

export const DEFAULT_TIMINGS: CrossTabTimings = { beat: 1000, stale: 4000 }

/** What the election needs from its tab. */
export interface ElectionParts {
  locks: LockManager
  name: string
  platform: Platform
  timings: CrossTabTimings
  /** The lock is ours until `release` is called. */
  granted(release: () => void): void
  /** This tab still wants the lock (it has not left the group meanwhile). */
  wanted(): boolean
  /** The lock was taken from us (another tab's steal) while we held it. */
  lost(): void
}

/**
 * Who leads: every member queues for the group's Web Lock; the browser grants it to one, and to
 * the next in the queue when the holder releases it (`close()`, the tab going away or crashing).
 * A leader that stops running keeps its lock: a visible follower that heard a leader and then
 * nothing for `stale` ms takes the lock over (`steal`). A tab that never heard a leader never
 * does: it knows no position to resume from, and the silence may be a leader that is only slow to
 * answer.
 */
export interface Election {
  /** Queues for the lock (`steal`: takes it at once). */
  join(steal?: boolean): void
  /** Leaves the queue. */
  leave(): void
  /** A leader spoke. */
  heard(): void
  /** Takes the lock over from a leader heard before and silent since (call it every beat, while visible). */
  judgeSilence(): void
  /** A new run: no leader heard yet. */
  reset(): void
}

export function createElection(parts: ElectionParts): Election {
  const { locks, name, platform, timings } = parts
  /** Our place in the lock's queue; aborting it leaves the queue. */
  let queued: AbortController | undefined
  /** When a leader last spoke (monotonic ms), or when we started waiting for one. */
  let heardAt = 0
  let heardOnce = false
  let staleAfter = timings.stale

  const election: Election = {
    join(steal = false) {
      queued?.abort()
      const controller = new AbortController()
      queued = controller
      const granted = (): Promise<void> | undefined => {
        if (queued !== controller || !parts.wanted()) return undefined
        return new Promise<void>((release) => parts.granted(release))
      }
      // A steal cannot be combined with a signal; it is granted at once, and `granted` drops it
      // when this tab has left meanwhile. A lock taken from us rejects the request.
      locks.request(name, steal ? { steal: true } : { signal: controller.signal }, granted).then(undefined, () => {
        if (queued === controller) parts.lost()
      })
      heardAt = platform.monotonic()
      staleAfter = timings.stale + platform.random() * timings.beat
    },
    leave() {
      queued?.abort()
      queued = undefined
    },
    heard() {
      heardOnce = true
      heardAt = platform.monotonic()
    },
    judgeSilence() {
      if (heardOnce && platform.monotonic() - heardAt > staleAfter) election.join(true)
    },
    reset() {
      heardOnce = false
    },
  }
  return election
}
