import type { Platform } from './types'

/** Largest delay `setTimeout` accepts (2^31 - 1 ms); longer delays fire immediately in browsers. */
export const MAX_TIMER_DELAY = 2_147_483_647

/**
 * Runs `onDue` once, `ms` from now, and returns a function that cancels it.
 *
 * The deadline is kept on both clocks and is due as soon as either says so. The monotonic clock
 * is immune to the user changing the wall clock, but it stops while a laptop sleeps (Linux and
 * macOS suspend `performance.now()` with the machine); the wall clock keeps counting through sleep.
 * Both deadlines are measured from the same instant on their own clock, so a wall clock that is
 * off by a constant (a wrong time zone setting, a drifting client) changes nothing.
 *
 * A timer only wakes us up to compare against the clocks, so delays beyond what `setTimeout`
 * accepts are chained, and `check()` (called on wake-up events: `focus`, `visibilitychange`,
 * `online`, `pageshow`) fires a deadline that passed while timers were suspended. `onDue` always
 * runs from the scheduler (or from `check`), never from inside `startDeadline` itself.
 */
export function startDeadline(platform: Platform, ms: number, onDue: () => void): Deadline {
  const delay = Math.max(0, ms)
  const monoAt = platform.monotonic() + delay
  const wallAt = platform.now() + delay
  let handle: unknown
  let live = true

  const remaining = () => Math.min(monoAt - platform.monotonic(), wallAt - platform.now())
  const fire = () => {
    live = false
    if (handle !== undefined) platform.clearTimeout(handle)
    handle = undefined
    onDue()
  }
  const tick = (): void => {
    handle = undefined
    if (!live) return
    const left = remaining()
    if (left <= 0) return fire()
    handle = platform.setTimeout(tick, Math.min(Math.ceil(left), MAX_TIMER_DELAY))
  }
  handle = platform.setTimeout(tick, Math.min(Math.ceil(delay), MAX_TIMER_DELAY))

  return {
    cancel() {
      live = false
      if (handle !== undefined) platform.clearTimeout(handle)
      handle = undefined
    },
    check() {
      if (live && remaining() <= 0) fire()
    },
  }
}

/** A scheduled callback (see {@link startDeadline}). */
export interface Deadline {
  /** Cancels it; idempotent. */
  cancel(): void
  /** Fires it now when either clock says it is due (after a sleep or a throttled tab). */
  check(): void
}
