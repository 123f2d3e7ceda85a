/**
 * One SSE instance for the fan-out load rows, run as a child process (forked by bench/node/fanout.ts
 * with --expose-gc) so its heap and CPU are measured apart from the clients. `GET /` streams
 * `log.read()` through `pipeSseToNode`, exactly as the docs show; the log is the memory log or the
 * Redis log (LOG_KIND=memory|redis, REDIS_URL). The producer, the IPC protocol and the server's
 * settings are bench/node/fanout-instance.ts, shared with the bare peer
 * (bench/node/fanout-bare-server.ts): the producer appends `{"t":<epoch ms>,"n":i}` to the log.
 */
import http from 'node:http'
import { createMemoryEventLog, pipeSseToNode, type EventLog } from 'use-event-stream/server'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { runInstance } from './fanout-instance'

const kind = process.env.LOG_KIND === 'redis' ? 'redis' : 'memory'
const log: EventLog =
  kind === 'redis' ? createRedisEventLog({ url: process.env.REDIS_URL!, key: `bench:fanout:${process.pid}:${Date.now()}` }) : createMemoryEventLog()
let open = 0

const server = http.createServer((req, res) => {
  open++
  res.once('close', () => open--)
  pipeSseToNode(res, ({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), { request: req, heartbeatMs: 15_000 }).catch(() => {})
})

runInstance(server, { publish: (data) => log.append({ data }), close: () => log.close() }, () => open)
