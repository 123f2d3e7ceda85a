/**
 * What every fan-out instance shares (bench/node/fanout-server.ts, the library on a log;
 * bench/node/fanout-bare-server.ts, the bare `node:http` peer): the producer, the IPC protocol with
 * bench/node/fanout.ts, and the HTTP server's settings. Only `publish` differs: an append to the log,
 * or one preformatted write to every open response. Same schedule, same payload
 * (`{"t":<epoch ms>,"n":i}`), same process shape, so the instances differ in the fan-out alone.
 *
 * IPC: ← {cmd:'ready', port}; → {cmd:'stats'} ← {heapUsed, rss, cpu, at, open};
 * → {cmd:'produce', rate, durationMs} ← {produced, seconds}; → {cmd:'exit'}.
 */
import http from 'node:http'

export interface Instance {
  /** Hands one event's data to the fan-out; may return a promise (the log's append). */
  publish(data: string): unknown
  /** Called on {cmd:'exit'} before the process exits. */
  close?(): Promise<unknown>
}

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Open loop: every event is published on schedule without waiting for the previous one, so a
 * loaded instance shows up as latency, not as a producer that slows down with it. Bounded: a
 * hopelessly starved instance stops producing after 5 × `durationMs` of wall time (the count
 * produced is reported, and the client side expects that many).
 */
async function produce(instance: Instance, rate: number, durationMs: number): Promise<{ produced: number; seconds: number }> {
  const start = performance.now()
  const total = Math.round((rate * durationMs) / 1000)
  const pending: Promise<unknown>[] = []
  let n = 0
  while (n < total && performance.now() - start < 5 * durationMs) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
    while (n < due) pending.push(Promise.resolve(instance.publish(`{"t":${now().toFixed(3)},"n":${n++}}`)).catch(() => {}))
    await sleep(2)
  }
  const seconds = (performance.now() - start) / 1000
  await Promise.all(pending)
  return { produced: n, seconds }
}

/** Starts `server` on 127.0.0.1 and answers the parent's IPC messages for `instance`. */
export function runInstance(server: http.Server, instance: Instance, open: () => number): void {
  server.keepAliveTimeout = 60_000
  server.maxConnections = 100_000
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
  process.on('message', (message: { cmd: string; rate?: number; durationMs?: number }) => {
    if (message.cmd === 'stats') {
      gc()
      gc()
      const memory = process.memoryUsage()
      process.send!({ cmd: 'stats', heapUsed: memory.heapUsed, rss: memory.rss, cpu: process.cpuUsage(), at: performance.now(), open: open() })
    } else if (message.cmd === 'produce') {
      void produce(instance, message.rate!, message.durationMs!).then((result) => process.send!({ cmd: 'produced', ...result }))
    } else if (message.cmd === 'exit') {
      void Promise.resolve(instance.close?.()).finally(() => process.exit(0))
    }
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    process.send!({ cmd: 'ready', port: typeof address === 'object' && address ? address.port : 0 })
  })
}
