/**
 * Fan-out load: N concurrent SSE clients on one instance (a child process) fed at R events/s for D
 * seconds: the library on the Redis log or the memory log (bench/node/fanout-server.ts), or the bare
 * `node:http` peer writing preformatted bytes (bench/node/fanout-bare-server.ts). Measured: the
 * instance's heap per connection (after GC, connected and idle, minus the heap before any client),
 * its CPU while streaming, and append-to-delivery latency (the producer's timestamp in each event,
 * read by the client on arrival; one clock, one machine), p50/p99 over every delivery.
 * Clients are raw `node:http` requests in this process, parsed just enough to read the timestamp.
 * 127.0.0.1 only.
 */
import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import os from 'node:os'

export interface FanoutOptions {
  /** The bundled instance script: fanout-server (memory, redis) or fanout-bare-server (bare). */
  serverScript: string
  kind: 'memory' | 'redis' | 'bare'
  redisUrl?: string
  clients?: number
  rate?: number
  durationMs?: number
}

interface Stats {
  heapUsed: number
  rss: number
  cpu: { user: number; system: number }
  at: number
  open: number
}

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function ask<T>(child: ChildProcess, message: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { cmd: string }) => {
      if (m.cmd === reply) {
        child.off('message', on)
        resolve(m as T)
      }
    }
    child.on('message', on)
    child.send(message)
  })
}

export async function runFanout(options: FanoutOptions) {
  const { kind, clients = 2000, rate = 100, durationMs = 10_000 } = options
  // The machine's load average (1, 5, 15 min) as this run starts, before its own processes exist;
  // on a shared machine it includes the bench's previous runs.
  const loadavgAtStart = os.loadavg()
  const child = fork(options.serverScript, [], {
    // FANOUT_CHILD_ARGS: extra Node flags for the instance, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
    execArgv: ['--expose-gc', ...(process.env.FANOUT_CHILD_ARGS ?? '').split(' ').filter(Boolean)],
    env: { ...process.env, LOG_KIND: kind, REDIS_URL: options.redisUrl ?? '', NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m: { port: number }) => resolve(m)))
  const expected = Math.round((rate * durationMs) / 1000)
  // Every delivery's latency, preallocated: clients × events.
  const latencies = new Float64Array(clients * expected)
  let delivered = 0
  const counts = new Int32Array(clients)
  const requests: http.ClientRequest[] = []
  let opened = 0
  let chunks = 0
  try {
    await sleep(200)
    const before = await ask<Stats>(child, { cmd: 'stats' }, 'stats')
    for (let i = 0; i < clients; i++) {
      const client = i
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        opened++
        res.setEncoding('utf8')
        let rest = ''
        res.on('data', (chunk: string) => {
          chunks++
          const at = now()
          const text = rest + chunk
          const end = text.lastIndexOf('\n\n')
          if (end < 0) return void (rest = text)
          rest = text.slice(end + 2)
          // Only the producer's timestamp matters: `"t":<ms>` once per event.
          for (let k = text.indexOf('"t":'); k >= 0 && k < end; k = text.indexOf('"t":', k + 4)) {
            const t = parseFloat(text.slice(k + 4, k + 24))
            if (delivered < latencies.length) latencies[delivered++] = at - t
            counts[client]!++
          }
        })
        res.on('error', () => {})
      })
      req.on('error', () => {})
      requests.push(req)
      // Connect in waves so the listen backlog is not the thing measured.
      if (i % 200 === 199) await sleep(20)
    }
    for (let i = 0; i < 600 && opened < clients; i++) await sleep(50)
    await sleep(500)
    const connected = await ask<Stats>(child, { cmd: 'stats' }, 'stats')
    const { produced: n, seconds } = await ask<{ produced: number; seconds: number }>(child, { cmd: 'produce', rate, durationMs }, 'produced')
    const producedAt = performance.now()
    // Let the last events drain to every client (bounded: a hopelessly overloaded run stops here).
    for (let i = 0; i < 600 && delivered < clients * n; i++) await sleep(50)
    const drainSeconds = (performance.now() - producedAt) / 1000
    const after = await ask<Stats>(child, { cmd: 'stats' }, 'stats')

    const sorted = latencies.slice(0, delivered).sort()
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN)
    const cpuMs = (after.cpu.user + after.cpu.system - connected.cpu.user - connected.cpu.system) / 1000
    let complete = 0
    for (const c of counts) if (c === n) complete++
    return {
      kind,
      loadavgAtStart,
      loadavgAtEnd: os.loadavg(),
      clients,
      opened,
      rate,
      durationMs,
      produced: n,
      producedPerSecond: n / seconds,
      /** Time after the last append until every client had every event (or the bound ran out). */
      drainSeconds,
      deliveriesPerSecond: delivered / (seconds + drainSeconds),
      delivered,
      expectedDeliveries: clients * n,
      clientsWithEveryEvent: complete,
      eventsPerChunk: delivered / Math.max(1, chunks),
      heapBeforeMB: before.heapUsed / 1e6,
      heapConnectedMB: connected.heapUsed / 1e6,
      heapAfterMB: after.heapUsed / 1e6,
      heapPerConnectionKB: (connected.heapUsed - before.heapUsed) / clients / 1000,
      rssConnectedMB: connected.rss / 1e6,
      cpuPercent: (cpuMs / (after.at - connected.at)) * 100,
      /** Deliveries per second of the instance's own CPU time: what one core sustains, whatever else runs on the machine. */
      deliveriesPerCpuSecond: delivered / (cpuMs / 1000),
      /** Heap after streaming, after GC, minus connected and idle: what streaming left behind. */
      heapGrowthWhileStreamingMB: (after.heapUsed - connected.heapUsed) / 1e6,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: sorted.length ? sorted[sorted.length - 1]! : NaN },
    }
  } finally {
    for (const req of requests) req.destroy()
    child.send({ cmd: 'exit' })
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}
