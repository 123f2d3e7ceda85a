import type { Platform } from './types'

/**
 * The host's defaults, read lazily so importing the core never touches `window` or `document`
 * (server rendering, workers, Node). Pass `platform` overrides to any factory for tests.
 */
export function resolvePlatform(overrides?: Partial<Platform>): Platform {
  const g = globalThis as any
  const perf: { now(): number } | undefined = g.performance
  // Clocks and timers are wrappers, not the functions themselves, so fake timers installed after
  // this call (they replace the globals) are still the ones used.
  const now = () => Date.now()
  /** `target` when it can take event listeners (the window and document of a browser-like host). */
  const eventTarget = (target: any) => (typeof target?.addEventListener === 'function' ? target : undefined)
  return {
    now,
    monotonic: typeof perf?.now === 'function' ? () => perf.now() : now,
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (handle) => g.clearTimeout(handle),
    random: Math.random,
    fetch: typeof g.fetch === 'function' ? (...args: Parameters<typeof fetch>) => g.fetch(...args) : undefined,
    EventSource: g.EventSource,
    window: eventTarget(g.window),
    document: eventTarget(g.document),
    // Online unless the host says otherwise (`navigator.onLine` is unknown outside browsers).
    isOnline: () => g.navigator?.onLine !== false,
    location: g.location,
    // Bound: a browser's requestAnimationFrame throws when called on another object.
    requestAnimationFrame: typeof g.requestAnimationFrame === 'function' ? (callback) => g.requestAnimationFrame(callback) : undefined,
    cancelAnimationFrame: typeof g.cancelAnimationFrame === 'function' ? (handle) => g.cancelAnimationFrame(handle) : undefined,
    ReadableStream: g.ReadableStream,
    locks: g.navigator?.locks,
    BroadcastChannel: g.BroadcastChannel,
    ...overrides,
  }
}
