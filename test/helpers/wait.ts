// Real-time waiting for tests that run against real servers and real timers: the suites' one
// `sleep` and one polling loop (test/nextjs/next.test.mjs, plain JavaScript run by Node, keeps its
// own). Schedules are tested on the virtual clock of fakePlatform.ts instead.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * `promise`, or a rejection `<what> did not settle within <ms> ms` if it takes longer: for calls
 * into a browser that can hang (a page paused, crashed or stuck), so that a suite fails naming the
 * step instead of running into its own timeout.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Polls `predicate` until it holds, failing with `timed out waiting for <what>` after `timeout` ms.
 * `predicate` may be async (e.g. a question to the reference server's control API). `pause` runs
 * between polls (default: 20 ms); React tests pass one wrapped in `act()` so the updates the wait
 * lets through are flushed.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeout: number,
  what: string,
  pause: () => Promise<unknown> = () => sleep(20),
): Promise<void> {
  const started = Date.now()
  while (!(await predicate())) {
    if (Date.now() - started > timeout) throw new Error(`timed out waiting for ${what}`)
    await pause()
  }
}

/**
 * Polls `check` until it stops throwing (bounded by `timeout` ms, default 5000); on timeout the
 * last failure is thrown, so the test reports the assertion that never came true.
 */
export async function eventually(check: () => void | Promise<void>, timeout = 5000): Promise<void> {
  let failure: unknown
  try {
    await until(
      async () => {
        try {
          await check()
          return true
        } catch (error) {
          failure = error
          return false
        }
      },
      timeout,
      'an assertion',
    )
  } catch (timedOut) {
    throw failure ?? timedOut
  }
}
