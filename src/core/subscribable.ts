import { reportError } from './reportError'

/**
 * The listener set behind every `subscribe(listener) => unsubscribe` of the library (streams,
 * token managers, the React stores): one place for the rule that a throwing listener neither
 * stops the others nor the notifier (it goes to `reportError`), and that a listener may
 * unsubscribe, or subscribe another, while being notified.
 */
export interface Listeners {
  subscribe(listener: () => void): () => void
  /** Calls every listener subscribed when the call starts. */
  notify(): void
  /** Drops every listener (their unsubscribe functions become no-ops); `last` does not run. */
  clear(): void
  readonly size: number
}

/**
 * Where the expensive resource follows the listener count: `first` runs when the first listener
 * arrives, `last` when the last one leaves (start and stop the work there).
 */
export interface ListenerHooks {
  first?(): void
  last?(): void
}

export function createListeners(hooks: ListenerHooks = {}): Listeners {
  const listeners = new Set<() => void>()
  // Notifying iterates a copy, rebuilt only when the set changed: a copy per notification would
  // allocate on every event.
  let copy: Array<() => void> | undefined
  return {
    subscribe(listener) {
      // A function subscribed twice is two subscriptions, as with `addEventListener` it is not:
      // wrapping makes each call's unsubscribe remove exactly its own.
      const entry = () => listener()
      listeners.add(entry)
      copy = undefined
      if (listeners.size === 1) hooks.first?.()
      return () => {
        if (!listeners.delete(entry)) return
        copy = undefined
        if (listeners.size === 0) hooks.last?.()
      }
    },
    notify() {
      if (listeners.size === 0) return
      for (const listener of (copy ??= Array.from(listeners))) {
        // Unsubscribed by a listener called before it in this same notification: never called again.
        if (!listeners.has(listener)) continue
        try {
          listener()
        } catch (error) {
          reportError(error)
        }
      }
    },
    clear() {
      listeners.clear()
      copy = undefined
    },
    get size() {
      return listeners.size
    },
  }
}
