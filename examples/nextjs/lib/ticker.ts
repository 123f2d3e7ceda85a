import type { EventLog } from 'use-event-stream/server'

/** What each `tick` event carries. */
export interface Tick {
  seq: number
  /** Server time the tick is due (ms since the epoch). */
  at: number
  price: number
}

/**
 * The demo's event source: appends a `tick` to `log` every `intervalMs`. Tick `n` is due at
 * `n × intervalMs` on the server clock, so `seq` numbers stay consecutive while the producer runs
 * and jump forward (a visible gap) over time it was not running. In your app, whatever produces
 * events (a job, a webhook, a database trigger) appends them to the log the same way.
 *
 * Returns a function that stops it.
 */
export function startTicker(log: EventLog, intervalMs: number): () => void {
  let next = Math.floor(Date.now() / intervalMs) + 1
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const run = async () => {
    // Catch up on every slot that is due: a late timer must not skip a seq.
    while (!stopped && next * intervalMs <= Date.now()) {
      const tick: Tick = { seq: next, at: next * intervalMs, price: Math.round((100 + 10 * Math.sin(next / 20)) * 100) / 100 }
      next++
      try {
        await log.append({ event: 'tick', data: JSON.stringify(tick) })
      } catch {
        // The log is unavailable (Redis down): this tick is lost, the next ones are tried.
      }
    }
    if (!stopped) {
      timer = setTimeout(run, Math.max(0, next * intervalMs - Date.now()))
      timer.unref?.()
    }
  }
  void run()
  return () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
  }
}
