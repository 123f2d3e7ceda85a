// What one instance spends per delivery: an entry every reader shares is serialised once, not once
// per client; what a client has pending goes out in one write; and streaming adds no timer per
// event. Plus the deliveries per CPU-second of a memory log fanned out to 500 in-process streams,
// printed for comparison (no threshold: the machine is shared).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryEventLog, streamSse, type SseMessage } from 'use-event-stream/server'
import { until } from '../helpers/wait'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('fan-out cost', () => {
  it('a frozen event shared by 100 streams is serialised once', async () => {
    let reads = 0
    const shared = Object.freeze({
      id: '1',
      get data() {
        reads++
        return 'payload'
      },
    }) as SseMessage
    const outputs: string[] = []
    await Promise.all(
      Array.from({ length: 100 }, () =>
        streamSse(
          (async function* () {
            yield shared
          })(),
          { write: (chunk) => void outputs.push(chunk) },
          { heartbeatMs: 0 },
        ),
      ),
    )
    expect(outputs).toEqual(Array.from({ length: 100 }, () => 'id: 1\ndata: payload\n\n'))
    expect(reads).toBe(1)
  })

  it('a live entry reaches every caught-up stream during append itself, as one text formatted once', async () => {
    const log = createMemoryEventLog({ maxLen: 100 })
    const stop = new AbortController()
    const received: string[][] = Array.from({ length: 100 }, () => [])
    const streams = received.map((chunks) => streamSse(({ signal }) => log.read({ signal }), { write: (chunk) => void chunks.push(chunk) }, { signal: stop.signal, heartbeatMs: 0 }))
    try {
      // Every stream follows the live tail once it has had an entry appended after it started.
      for (let i = 0; i < 100 && !received.every((chunks) => chunks.length > 0); i++) {
        await log.append({ data: 'first' })
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(received.every((chunks) => chunks.length > 0)).toBe(true)
      for (const chunks of received) chunks.length = 0
      await new Promise((resolve) => setTimeout(resolve, 20))
      void log.append({ data: 'pushed' })
      // No await in between: written to every stream synchronously, the same string for all.
      expect(received.every((chunks) => chunks.length === 1)).toBe(true)
      expect(new Set(received.map((chunks) => chunks[0])).size).toBe(1)
      expect(received[0]![0]).toMatch(/^id: \d+\ndata: pushed\n\n$/)
    } finally {
      stop.abort()
      await Promise.all(streams)
      await log.close()
    }
  })

  it('events that arrive while a write is in flight go out together in the next write', async () => {
    const writes: string[] = []
    let release: (() => void) | undefined
    const sink = {
      write: (chunk: string) => {
        writes.push(chunk)
        return new Promise<void>((resolve) => (release = resolve))
      },
    }
    const source = (async function* () {
      for (let i = 0; i < 50; i++) yield { id: i, data: `e${i}` }
    })()
    const streaming = streamSse(source, sink, { heartbeatMs: 0 })
    for (let round = 0; round < 20 && !(writes.join('').includes('id: 49\n')); round++) {
      await until(() => release !== undefined, 2000, 'a pending write')
      const r = release!
      release = undefined
      // Let the source run ahead while this write is in flight.
      await new Promise((resolve) => setTimeout(resolve, 20))
      r()
    }
    let done = false
    void streaming.then(() => (done = true))
    for (let i = 0; i < 200 && !done; i++) {
      release?.()
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await streaming
    expect(writes.join('')).toBe(Array.from({ length: 50 }, (_, i) => `id: ${i}\ndata: e${i}\n\n`).join(''))
    expect(writes.length).toBeLessThanOrEqual(3)
  })

  it('streaming 2,000 events creates no timer per event, heartbeat on', async () => {
    const timers = vi.spyOn(globalThis, 'setTimeout')
    const source = (async function* () {
      for (let i = 0; i < 2000; i++) yield { data: 'x' }
    })()
    await streamSse(source, { write: () => Promise.resolve() }, { heartbeatMs: 15_000 })
    expect(timers.mock.calls.length).toBeLessThan(10)
  })

  it('deliveries per CPU-second: a memory log fanned out to 500 streams', async () => {
    const log = createMemoryEventLog({ maxLen: 1000 })
    const stop = new AbortController()
    let delivered = 0
    // A write may carry several events: count the events.
    const sink = { write: (chunk: string) => void (delivered += chunk.split('\n\n').length - 1) }
    const streams = Array.from({ length: 500 }, () => streamSse(({ signal }) => log.read({ signal }), sink, { signal: stop.signal, heartbeatMs: 15_000 }))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const payload = JSON.stringify({ price: 101.5, symbol: 'ACME', at: 1764460800000, note: 'x'.repeat(100) })
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let appended = 0
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 5; i++, appended++) await log.append({ event: 'tick', data: payload })
      await until(() => delivered >= appended * 500 * 0.99, 20_000, 'the round to be delivered')
    }
    await until(() => delivered >= appended * 500, 20_000, 'every delivery')
    const cpu = process.cpuUsage(cpu0)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    const rate = delivered / cpuSeconds
    console.log(`[throughput] ${delivered} deliveries in ${(performance.now() - t0).toFixed(0)} ms wall, ${cpuSeconds.toFixed(2)} CPU-s: ${Math.round(rate)} deliveries per CPU-second`)
    stop.abort()
    await Promise.all(streams)
    await log.close()
    expect(delivered).toBeGreaterThanOrEqual(appended * 500)
  })
})
