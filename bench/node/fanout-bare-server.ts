/**
 * The floor of the fan-out load rows: a bare `node:http` fan-out of preformatted bytes, no library
 * and no log. Same child-process shape, producer, payload and rate as bench/node/fanout-server.ts
 * (both run bench/node/fanout-instance.ts); `GET /` writes the SSE headers and keeps the response
 * open, and each produced event is formatted once (`data: <json>\n\n`) and written to every open
 * response, one `res.write` per response per event, without waiting for the writes. What it does
 * not do and the library does: an `id:` line, a log to resume from, heartbeats, write timeouts,
 * backpressure (it leaves buffering to Node).
 */
import http from 'node:http'
import { runInstance } from './fanout-instance'

const responses = new Set<http.ServerResponse>()

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' })
  res.flushHeaders()
  responses.add(res)
  res.once('close', () => responses.delete(res))
})

runInstance(
  server,
  {
    publish(data) {
      const chunk = `data: ${data}\n\n`
      for (const res of responses) res.write(chunk)
    },
  },
  () => responses.size,
)
