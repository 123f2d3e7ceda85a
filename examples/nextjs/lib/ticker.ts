import type { SseEvent } from 'use-event-stream/server'

/** What each `tick` event carries. */
export interface Tick {
  seq: number
  /** Server time the tick is due (ms since the epoch). */
  at: number
  price: number
}

/** How far back a reconnecting client is replayed, in ticks. */
const MAX_BACKLOG = 200

/**
 * A stateless ticker: tick `n` is due at `n × intervalMs` on the server clock, so every
 * connection (and every server process) agrees on what each id means. A client resuming from
 * `Last-Event-ID` gets exactly the ticks after it: no gap and no duplicate across reconnects
 * and token rotations.
 */
export async function* ticker(options: { after: string | undefined; signal: AbortSignal; intervalMs: number }): AsyncGenerator<SseEvent> {
  const { signal, intervalMs } = options
  const now = Math.floor(Date.now() / intervalMs)
  let next = options.after !== undefined && /^\d+$/.test(options.after) ? Number(options.after) + 1 : now
  if (now - next > MAX_BACKLOG) next = now - MAX_BACKLOG
  while (!signal.aborted) {
    const wait = next * intervalMs - Date.now()
    if (wait > 0 && !(await sleep(wait, signal))) return
    const tick: Tick = { seq: next, at: next * intervalMs, price: Math.round((100 + 10 * Math.sin(next / 20)) * 100) / 100 }
    yield { id: next, event: 'tick', data: tick }
    next++
  }
}

/** Resolves `true` after `ms`, or `false` as soon as `signal` aborts (so a closed stream frees its timer). */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
