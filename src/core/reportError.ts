/**
 * The one policy for errors thrown by code the library calls but does not own: `onEvent`,
 * `onError`, `parse` result handlers, `reduce`, and every `subscribe` listener.
 *
 * A throwing callback never breaks a stream, a token manager or the delivery to other listeners:
 * the library finishes what it was doing, and the error is reported asynchronously, where the
 * host reports uncaught errors. That is `globalThis.reportError` where the host has it (browsers,
 * Deno, Bun: the console and `window.onerror` see it), otherwise a rethrow on a microtask (Node:
 * an `uncaughtException`, as for a throwing `EventTarget` listener).
 */
export function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === 'function') {
    report(error)
    return
  }
  queueMicrotask(() => {
    throw error
  })
}

/** Calls `callback(value)`; a throw goes to {@link reportError} instead of the caller. */
export function callSafely<T>(callback: ((value: T) => void) | undefined, value: T): void {
  if (!callback) return
  try {
    callback(value)
  } catch (error) {
    reportError(error)
  }
}
