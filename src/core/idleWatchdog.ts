import { startDeadline, type Deadline } from './timers'
import type { Platform } from './types'

/**
 * The idle watchdog (`idleTimeout`): a connection that receives nothing for `ms` (no bytes, so no
 * heartbeat either, and no event) is given up, so a proxy that silently stopped forwarding is
 * noticed. A unit of its own, which the stream reaches through `arm`/`disarm`/`check` only.
 */
export interface IdleWatchdog {
  /** A connection started or received something: the countdown starts again. */
  arm(): void
  /** No connection to watch. */
  disarm(): void
  /** Re-reads the deadline from the clocks (after a sleep). */
  check(): void
}

/** `onIdle` runs when a countdown ran out; `undefined` when `ms` is not positive (the watchdog is off). */
export function createIdleWatchdog(platform: Platform, ms: number, onIdle: () => void): IdleWatchdog | undefined {
  if (!(ms > 0)) return undefined
  let timer: Deadline | undefined
  return {
    arm() {
      timer?.cancel()
      timer = startDeadline(platform, ms, onIdle)
    },
    disarm: () => timer?.cancel(),
    check: () => timer?.check(),
  }
}
