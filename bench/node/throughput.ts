// Focused Node micro-run of the fetch transport's per-event path (parser → transport → stream
// `deliver()`), against fetch-event-source's own pipeline (getBytes → getLines → getMessages, what
// `fetchEventSource` runs per event) over the same in-memory body. No network, no browser: it
// isolates our per-event cost from the socket. The browser row in bench/run.mjs stays the reference.
//   node bench/micro-throughput.mjs [events=100000] [trials=7]
import { getBytes, getLines, getMessages } from '@microsoft/fetch-event-source/lib/esm/parse.js'
import { createEventStreamWith, createFetchTransport } from 'use-event-stream/core'

const N = Number(process.argv[2] ?? 100_000)
const TRIALS = Number(process.argv[3] ?? 7)
const CHUNK = 16 * 1024

function body(): Uint8Array {
  let text = ''
  for (let i = 1; i <= N; i++) text += `id: ${i}\ndata: {"seq":${i},"price":${(100 + (i % 97) / 7).toFixed(4)},"sym":"ABC"}\n\n`
  return new TextEncoder().encode(text)
}
const bytes = body()

function stream(): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(bytes.subarray(offset, offset + CHUNK))
      offset += CHUNK
    },
  })
}

async function peer(): Promise<number> {
  let count = 0
  let checksum = 0
  const t0 = performance.now()
  await getBytes(stream(), getLines(getMessages(() => {}, () => {}, (m) => { checksum += m.data.length; count++ })))
  if (count !== N) throw new Error(`peer got ${count}`)
  return performance.now() - t0
}

function ours(subscribed: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let count = 0
    let checksum = 0
    const t0 = performance.now()
    const fetch = async () => new Response(stream(), { headers: { 'content-type': 'text/event-stream' } })
    const s = createEventStreamWith(createFetchTransport(), {
      url: 'http://127.0.0.1/stream',
      reconnect: false,
      platform: { fetch: fetch as typeof globalThis.fetch, window: undefined, document: undefined },
      onEvent: (e) => {
        checksum += e.data.length
        if (++count === N) {
          const ms = performance.now() - t0
          s.close()
          resolve(ms)
        }
      },
      onError: (e) => reject(e),
    })
    if (subscribed) s.subscribe(() => {})
    s.connect()
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const times: Record<string, number[]> = { peer: [], ours: [], 'ours+subscriber': [] }
for (let t = 0; t < TRIALS; t++) {
  // Interleaved so drift from other load hits every variant alike.
  times.peer!.push(await peer())
  times.ours!.push(await ours(false))
  times['ours+subscriber']!.push(await ours(true))
}
const p = median(times.peer!)
for (const [k, v] of Object.entries(times)) {
  const m = median(v)
  console.log(`${k.padEnd(16)} median ${m.toFixed(1)} ms  ${Math.round((N / m) * 1000).toLocaleString('en')} events/s  ratio vs peer ${(p / m).toFixed(2)}×`)
}
