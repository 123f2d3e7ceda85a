import type { Platform, PlatformEventTarget } from './types'

/** What a part of the library wants to hear about the page it runs in. */
export interface LifecycleHandlers {
  /**
   * The page may have slept or had its timers throttled: the window got `focus` or `pageshow`, or
   * the document became visible. Deadlines should be re-read from the clocks.
   */
  wake?(): void
  online?(): void
  offline?(): void
  /** The document's visibility changed; `hidden` is its new state. */
  visibility?(hidden: boolean): void
}

/**
 * The one place that listens to the host's lifecycle events, on `platform.window` and
 * `platform.document` (so tests replace them through `platform`, and hosts without them, such as
 * Node, workers and server rendering, simply never call back). Returns the function that removes
 * every listener it added.
 */
export function watchLifecycle(platform: Platform, handlers: LifecycleHandlers): () => void {
  const added: Array<[PlatformEventTarget, string, () => void]> = []
  const listen = (target: PlatformEventTarget | undefined, type: string, listener: () => void) => {
    if (!target) return
    target.addEventListener(type, listener)
    added.push([target, type, listener])
  }
  const { wake, online, offline, visibility } = handlers
  if (wake) {
    listen(platform.window, 'focus', wake)
    listen(platform.window, 'pageshow', wake)
  }
  if (online) listen(platform.window, 'online', online)
  if (offline) listen(platform.window, 'offline', offline)
  if (wake || visibility) {
    listen(platform.document, 'visibilitychange', () => {
      const hidden = platform.document?.visibilityState === 'hidden'
      visibility?.(hidden)
      if (!hidden) wake?.()
    })
  }
  return () => {
    for (const [target, type, listener] of added.splice(0)) target.removeEventListener(type, listener)
  }
}
