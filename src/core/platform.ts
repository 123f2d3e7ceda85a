import type { Platform } from './types'

/**
 * The host's defaults, read lazily so importing the core never touches `window` or `document`
 * (server rendering, workers, Node). Pass `platform` overrides to any factory for tests.
 */
export function resolvePlatform(overrides: Partial<Platform> = {}): Platform {
  const g = globalThis as any
  const perf: { now(): number } | undefined = g.performance
  return {
    now: () => Date.now(),
    monotonic: perf && typeof perf.now === 'function' ? () => perf.now() : () => Date.now(),
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (handle) => g.clearTimeout(handle),
    random: Math.random,
    fetch: typeof g.fetch === 'function' ? (...args: Parameters<typeof fetch>) => g.fetch(...args) : undefined,
    EventSource: g.EventSource,
    window: typeof g.window === 'object' && g.window && typeof g.window.addEventListener === 'function' ? g.window : undefined,
    document: typeof g.document === 'object' && g.document && typeof g.document.addEventListener === 'function' ? g.document : undefined,
    isOnline: () => (typeof g.navigator === 'object' && g.navigator && typeof g.navigator.onLine === 'boolean' ? g.navigator.onLine : true),
    ...overrides,
  }
}

/** Largest delay `setTimeout` accepts (2^31 - 1 ms); longer delays fire immediately in browsers. */
export const MAX_TIMER_DELAY = 2_147_483_647
