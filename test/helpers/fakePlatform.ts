import type { Platform, PlatformEventTarget } from 'use-event-stream/core'

/** An event target that counts its listeners, so tests can assert nothing is left behind. */
export class CountingTarget implements PlatformEventTarget {
  private readonly listeners = new Map<string, Set<() => void>>()
  visibilityState = 'visible'
  addEventListener(type: string, listener: () => void): void {
    let set = this.listeners.get(type)
    if (!set) this.listeners.set(type, (set = new Set()))
    set.add(listener)
  }
  removeEventListener(type: string, listener: () => void): void {
    this.listeners.get(type)?.delete(listener)
  }
  dispatch(type: string): void {
    for (const listener of Array.from(this.listeners.get(type) ?? [])) listener()
  }
  count(type?: string): number {
    if (type) return this.listeners.get(type)?.size ?? 0
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }
}

/** Lets pending promise callbacks run (a real macrotask turn). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

export interface FakePlatformOptions {
  /** Shifts the wall clock (`now()`) without touching the monotonic clock. Default 0. */
  skew?: number
  /** Wall-clock time (ms since the epoch) at virtual time 0. Default 1_700_000_000_000. */
  epoch?: number
  /** Default: always 0.5, so full jitter is half of each window. */
  random?: () => number
  /** Initial `isOnline()`. Default true. */
  online?: boolean
}

/**
 * A platform with a virtual clock: timers run only when the test advances time. This is the one
 * virtual clock of the suites (core, token manager, React helpers).
 * Timers follow the monotonic clock, as `setTimeout` does on Linux and macOS.
 */
export function createFakePlatform(options: FakePlatformOptions = {}) {
  let time = 0
  let seq = 0
  let longestDelay = 0
  let online = options.online ?? true
  /** Wall-clock time that passed while the monotonic clock stood still (see `suspend`). */
  let asleep = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const window = new CountingTarget()
  const document = new CountingTarget()
  const epoch = options.epoch ?? 1_700_000_000_000
  const platform: Platform = {
    now: () => epoch + time + asleep + (options.skew ?? 0),
    monotonic: () => time,
    setTimeout(fn, ms) {
      longestDelay = Math.max(longestDelay, ms)
      const id = ++seq
      timers.set(id, { at: time + Math.max(0, ms), fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    random: options.random ?? (() => 0.5),
    window,
    document,
    isOnline: () => online,
  }

  /** Advances the virtual clock by `ms`, running due timers in order and flushing promises. */
  async function advance(ms: number): Promise<void> {
    const target = time + ms
    await flush()
    for (let guard = 0; guard < 100_000; guard++) {
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const entry of timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry
      if (!next) break
      timers.delete(next[0])
      // A timer overdue after `stall` runs late, at the current time: the clock never goes back.
      time = Math.max(time, next[1].at)
      next[1].fn()
      await flush()
    }
    time = target
    await flush()
  }

  return {
    platform,
    window,
    document,
    advance,
    /** Timers currently scheduled. */
    pendingTimers: () => timers.size,
    /** Delays of the timers currently scheduled, relative to now. */
    timerDelays: () => Array.from(timers.values(), (t) => t.at - time),
    /** The longest delay ever asked of `setTimeout` (browsers fire anything above 2^31-1 ms at once). */
    get longestDelay() {
      return longestDelay
    },
    get time() {
      return time
    },
    setOnline(value: boolean) {
      online = value
      window.dispatch(value ? 'online' : 'offline')
    },
    /**
     * A machine asleep for `ms`: the wall clock moves on, the monotonic clock (`performance.now()`
     * on Linux and macOS) and the timers on it stand still, and no timer runs. Dispatch a wake
     * event afterwards, or none, as the test needs. A negative `ms` is the user setting the wall
     * clock back.
     */
    suspend(ms: number) {
      asleep += ms
    },
    /**
     * A throttled background tab or a busy main thread: both clocks move on by `ms`, and no timer
     * runs. Timers that fell due run, late, on the next `advance`; dispatch a wake event first, or
     * not, as the test needs.
     */
    stall(ms: number) {
      time += ms
    },
    setHidden(hidden: boolean) {
      document.visibilityState = hidden ? 'hidden' : 'visible'
      document.dispatch('visibilitychange')
    },
  }
}
