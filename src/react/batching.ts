import type { Platform } from 'use-event-stream/core'

/**
 * Render batching (the hook's `batch` option): calls `flush` once, at the next animation frame
 * (`'frame'`; a 16 ms timer where the platform has none) or after `batch` ms. Returns the cancel
 * function. The stream's platform schedules it, so a test's virtual clock sees it too.
 */
export function scheduleFlush(batch: 'frame' | number, platform: Platform, flush: () => void): () => void {
  const { requestAnimationFrame, cancelAnimationFrame } = platform
  if (batch === 'frame' && requestAnimationFrame && cancelAnimationFrame) {
    const frame = requestAnimationFrame(flush)
    return () => cancelAnimationFrame(frame)
  }
  const timer = platform.setTimeout(flush, batch === 'frame' ? 16 : Math.max(0, batch))
  return () => platform.clearTimeout(timer)
}
