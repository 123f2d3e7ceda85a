// The host's platform with live timers and window/document listeners counted, for the leak tests:
// after close()/unmount both counts must be back to zero. Timers are real; only the bookkeeping
// is added.
import { EventSource } from 'eventsource'
import { type Platform } from 'use-event-stream/core'
import { resolvePlatform } from '../../src/core/platform'
import { CountingTarget } from './fakePlatform'

export interface CountingPlatformOptions {
  /**
   * The `fetch` the platform hands to the core. Default: none set, so the core falls back to the
   * host's (`resolvePlatform()`'s) fetch.
   */
  fetch?: Platform['fetch']
}

export function createCountingPlatform(options: CountingPlatformOptions = {}) {
  const host = resolvePlatform(options.fetch ? { fetch: options.fetch } : {})
  const timers = new Set<unknown>()
  const window = new CountingTarget()
  const document = new CountingTarget()
  let online = true
  const platform: Partial<Platform> = {
    setTimeout(fn, ms) {
      const handle: unknown = host.setTimeout(() => {
        timers.delete(handle)
        fn()
      }, ms)
      timers.add(handle)
      return handle
    },
    clearTimeout(handle) {
      timers.delete(handle)
      host.clearTimeout(handle)
    },
    window,
    document,
    isOnline: () => online,
    EventSource: EventSource as never,
  }
  // Only when asked: an explicit `fetch: undefined` would override the core's default.
  if (options.fetch) platform.fetch = host.fetch
  return {
    platform,
    window,
    document,
    /** Timers scheduled through the platform and not yet run or cleared. */
    timers: () => timers.size,
    /** Listeners still registered on the platform's window and document. */
    listeners: () => window.count() + document.count(),
    /** Switches `isOnline()` and dispatches `online`/`offline` on the window. */
    setOnline(value: boolean) {
      online = value
      window.dispatch(value ? 'online' : 'offline')
    },
  }
}
