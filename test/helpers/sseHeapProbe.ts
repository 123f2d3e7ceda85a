/**
 * Heap probe for one long-lived stream, run in a child process because it needs `--expose-gc`:
 *
 *   node --expose-gc --import tsx test/helpers/sseHeapProbe.ts <node|response> [events] [bytes]
 *
 * Streams `events` messages (default 100000) of `bytes` characters of data each (default 1024)
 * through `pipeSseToNode` to an HTTP client on 127.0.0.1 (`node`), or through `createSseResponse`
 * to a reader of its body (`response`). The client reads everything as it comes. Prints one JSON
 * line, `{ baseline, after, delivered }`: heapUsed in bytes after a full GC once 1000 events have
 * gone out, and again after the last one, while the stream is still open.
 */
import { get } from 'node:http'
import { createSseResponse, pipeSseToNode, type SseMessage, type SseSourceContext } from 'use-event-stream/server'
import { startScriptedServer } from './scriptedServer'

const [adapter = 'node', eventsArg = '100000', bytesArg = '1024'] = process.argv.slice(2)
const total = Number(eventsArg)
const bytes = Number(bytesArg)
const WARMUP = 1000

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

function heapAfterGc(): number {
  // Twice: the first pass can leave garbage reachable only from objects it just finalised.
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

let baseline = 0
let after = 0
let reportMeasured!: () => void
const measured = new Promise<void>((resolve) => (reportMeasured = resolve))

/** A fresh string per event, so anything holding on to past events shows in the heap. */
async function* source({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
  for (let i = 0; i < total; i++) {
    if (i === WARMUP) baseline = heapAfterGc()
    yield { id: i, data: String(i).padStart(bytes, 'x') }
  }
  // The engine asks for the next event only once the previous one is written: all are out.
  after = heapAfterGc()
  reportMeasured()
  // Stay open (a quiet channel) until the client leaves.
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
}

async function viaNode(): Promise<void> {
  let piped: Promise<void> | undefined
  const server = await startScriptedServer((req, res) => {
    piped = pipeSseToNode(res, source, { request: req, heartbeatMs: 0 })
  })
  const request = get(`${server.url}/stream`, (res) => res.resume())
  await measured
  request.destroy()
  await piped
  await server.close()
}

async function viaResponse(): Promise<void> {
  const reader = createSseResponse(source, { heartbeatMs: 0 }).body!.getReader()
  let reading = true
  const drain = (async () => {
    while (reading && !(await reader.read()).done) {
      // each chunk is dropped as soon as it is read
    }
  })()
  await measured
  reading = false
  await reader.cancel()
  await drain
}

await (adapter === 'response' ? viaResponse() : viaNode())
console.log(JSON.stringify({ baseline, after, delivered: total }))
