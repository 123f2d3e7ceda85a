// Real-time waiting for tests that run against real servers and real timers.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Polls `predicate` until it holds, failing with `timed out waiting for <what>` after `timeout` ms.
 * `pause` runs between polls (default: 20 ms); React tests pass one wrapped in `act()` so the
 * updates the wait lets through are flushed.
 */
export async function until(predicate: () => boolean, timeout: number, what: string, pause: () => Promise<unknown> = () => sleep(20)): Promise<void> {
  const started = Date.now()
  while (!predicate()) {
    if (Date.now() - started > timeout) throw new Error(`timed out waiting for ${what}`)
    await pause()
  }
}
