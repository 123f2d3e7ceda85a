/** What `untilStopped` resolves with when its owner stops before the promise settles. */
export const ABORTED: unique symbol = Symbol('aborted')

/**
 * Something that stops once (a log read, a stream's writer), with at most one wait in progress:
 * `wake`, when set, ends that wait, and the owner calls it when it stops.
 */
export interface StopSlot {
  readonly stopped: boolean
  wake: (() => void) | undefined
}

/**
 * `promise`'s value, or `ABORTED` as soon as `owner` stops (the promise keeps running; its
 * rejection is then ignored). The wake happens inside the owner's stop, before any promise
 * reaction: an AbortError the promise throws because of the same stop arrives too late to count as
 * a failure. One slot rather than a race against one long-lived "stopped" promise, which would
 * leave a reaction on it per wait, each holding what that wait was for.
 */
export function untilStopped<T>(owner: StopSlot, promise: Promise<T>): Promise<T | typeof ABORTED> {
  if (owner.stopped) {
    promise.catch(() => {})
    return Promise.resolve(ABORTED)
  }
  return new Promise((resolve, reject) => {
    owner.wake = () => resolve(ABORTED)
    promise.then(
      (value) => {
        owner.wake = undefined
        resolve(value)
      },
      (error: unknown) => {
        owner.wake = undefined
        reject(error)
      },
    )
  })
}
