/**
 * One SSE instance for the fan-out load rows, run as a child process (forked by bench/node/fanout.ts
 * with --expose-gc) so its heap and CPU are measured apart from the clients. `GET /` streams
 * `log.read()` through `pipeSseToNode`, exactly as the docs show; the log is the memory log or the
 * Redis log (LOG_KIND=memory|redis, REDIS_URL). It also runs the producer, appending
 * `{"t":<epoch ms>,"n":i}` at the asked rate, so both logs are fed the same way.
 *
 * IPC: → {cmd:'stats'} ← {heapUsed, rss, cpu, open}; → {cmd:'produce', rate, durationMs} ← {produced, seconds}.
 */
import http from 'node:http'
import { createMemoryEventLog, pipeSseToNode, type EventLog } from 'use-event-stream/server'
import { createRedisEventLog } from 'use-event-stream/server/redis'

const kind = process.env.LOG_KIND === 'redis' ? 'redis' : 'memory'
const log: EventLog =
  kind === 'redis' ? createRedisEventLog({ url: process.env.REDIS_URL!, key: `bench:fanout:${process.pid}:${Date.now()}` }) : createMemoryEventLog()
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
let open = 0

const server = http.createServer((req, res) => {
  open++
  res.once('close', () => open--)
  pipeSseToNode(res, ({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), { request: req, heartbeatMs: 15_000 }).catch(() => {})
})
server.keepAliveTimeout = 60_000
server.maxConnections = 100_000

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Open loop: every event is appended on schedule without waiting for the previous append, so a
 * loaded instance shows up as latency, not as a producer that slows down with it.
 */
async function produce(rate: number, durationMs: number): Promise<{ produced: number; seconds: number }> {
  const start = performance.now()
  const total = Math.round((rate * durationMs) / 1000)
  const pending: Promise<unknown>[] = []
  let n = 0
  while (n < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
    while (n < due) pending.push(log.append({ data: `{"t":${now().toFixed(3)},"n":${n++}}` }).catch(() => {}))
    await sleep(2)
  }
  const seconds = (performance.now() - start) / 1000
  await Promise.all(pending)
  return { produced: n, seconds }
}

process.on('message', (message: { cmd: string; rate?: number; durationMs?: number }) => {
  if (message.cmd === 'stats') {
    gc()
    gc()
    process.send!({ cmd: 'stats', heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss, cpu: process.cpuUsage(), at: performance.now(), open })
  } else if (message.cmd === 'produce') {
    void produce(message.rate!, message.durationMs!).then((result) => process.send!({ cmd: 'produced', ...result }))
  } else if (message.cmd === 'exit') {
    void log.close().finally(() => process.exit(0))
  }
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send!({ cmd: 'ready', port: typeof address === 'object' && address ? address.port : 0 })
})
