import { createMemoryEventLog, type EventLog } from 'use-event-stream/server'
import { startTicker } from './ticker'

/**
 * The stream's event log, one per server process: a Redis stream shared by every instance when
 * `REDIS_URL` is set (several `next start` behind a load balancer, no sticky sessions), this
 * process's memory otherwise. Each route handler reads from it; the ticker appends to it.
 *
 * Kept on `globalThis` so that dev-mode module reloads reuse it rather than open another.
 */
interface ExampleEvents {
  log: Promise<EventLog>
}
const slot = globalThis as typeof globalThis & { __exampleEvents?: ExampleEvents }

/** Ticks kept for replay: a client away for longer resumes from the oldest one kept. */
const MAX_LEN = 1000

export function eventLog(): Promise<EventLog> {
  slot.__exampleEvents ??= { log: open() }
  return slot.__exampleEvents.log
}

async function open(): Promise<EventLog> {
  const url = process.env.REDIS_URL
  const log = url
    ? // Loaded only when used: the in-memory setup does not need the `redis` package.
      (await import('use-event-stream/server/redis')).createRedisEventLog({ url, key: process.env.REDIS_KEY ?? 'example:ticks', maxLen: MAX_LEN })
    : createMemoryEventLog({ maxLen: MAX_LEN })
  // The demo's producer. With several instances on one Redis, run it in one of them only
  // (TICKER=off on the others), or every instance appends its own ticks.
  if (process.env.TICKER !== 'off') startTicker(log, Number(process.env.TICK_MS ?? 500))
  return log
}
