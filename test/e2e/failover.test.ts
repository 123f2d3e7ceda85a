// Failover without loss, in Chromium, both transports: two reference-server instances (child
// processes) share one Redis event log; a producer appends one event every 10 ms; each client
// streams through a TCP proxy standing in for a load balancer, first to instance A. A is killed
// with SIGKILL mid-stream; the proxy's next connections land on B; the client resumes there by
// Last-Event-ID. Every appended event must arrive exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import type { ConnectionInfo } from '../../reference-server/server'
import { useRedisServer } from '../helpers/redisServer'
import { startReferenceProcess, type ReferenceProcess } from '../helpers/referenceProcess'
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy'
import { bundleHarness, harnessOf, launchChromium, ledger, openHarness, serveHarness, sleep, until, type StaticSite, type StreamState } from './support'

const TRANSPORTS = ['fetch', 'eventsource'] as const
const redis = useRedisServer()
let a: ReferenceProcess | undefined
let b: ReferenceProcess | undefined
let proxy: TcpProxy | undefined
let site: StaticSite | undefined
let browser: Browser | undefined
let main: { context: BrowserContext; page: Page; console: string[] }

beforeAll(async () => {
  // Same secret on both: a token minted by A is accepted by B. No clocks: only the producer writes.
  const env = { REDIS_URL: redis().url, REFERENCE_SERVER_SECRET: randomBytes(32).toString('hex') }
  const args = ['--no-clocks', '--heartbeat', '300']
  ;[a, b] = await Promise.all([startReferenceProcess({ args, env }), startReferenceProcess({ args, env })])
  proxy = await startTcpProxy([a.port, b.port])
  const [script, launched] = await Promise.all([bundleHarness(), launchChromium()])
  browser = launched
  site = await serveHarness(script)
  main = await openHarness(browser, site)
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  await proxy?.close()
  await Promise.all([a?.stop(), b?.stop()])
})

/** Appends `{"n":i}` to the channel's Redis stream every `interval` ms until stopped; the ids are the server half of the ledger. */
function startProducer(channel: string, interval: number) {
  const log = createRedisEventLog({ url: redis().url, key: `reference:${channel}` })
  const sent: string[] = []
  let stopped = false
  const done = (async () => {
    const start = performance.now()
    // Drift-free: catch up to the schedule after a slow append rather than fall behind it.
    for (let i = 0; i < 5000 && !stopped; i++) {
      sent.push(await log.append({ data: JSON.stringify({ n: i }) }))
      const wait = start + (i + 1) * interval - performance.now()
      if (wait > 0) await sleep(wait)
    }
  })()
  return {
    sent,
    async stop() {
      stopped = true
      await done
      await log.close()
      return sent
    },
  }
}

describe('failover between two instances on one Redis log (Chromium, both transports)', () => {
  it('instance A killed (SIGKILL) mid-stream: the client resumes on B by Last-Event-ID, every event exactly once, in order', async () => {
    const h = harnessOf(main.page)
    const channel = 'seq-failover'
    for (const transport of TRANSPORTS) {
      await h.open({
        key: transport,
        transport,
        streamUrl: `${proxy!.url}/stream?channel=${channel}`,
        tokenUrl: `${proxy!.url}/auth/sse-token?ttl=60`,
        apiKey: 'demo-api-key',
      })
    }
    for (const transport of TRANSPORTS) await until(async () => (await h.read(transport)).status === 'open', 10_000, `${transport}: open on A`)
    expect(proxy!.forwarded.get(a!.port)).toBeGreaterThanOrEqual(2)
    expect(proxy!.forwarded.get(b!.port) ?? 0).toBe(0)

    const producer = startProducer(channel, 10)
    let states: StreamState[] = []
    try {
      for (const transport of TRANSPORTS) await until(async () => (await h.read(transport)).ids.length > 20, 10_000, `${transport}: streaming from A`)
      await sleep(500)
      await a!.kill()
      const killedAt = producer.sent.length
      // Both clients reconnect (through the proxy, to B) and receive live events again.
      for (const transport of TRANSPORTS) {
        await until(async () => (await h.read(transport)).openCount >= 2, 10_000, `${transport}: reopened on B`)
      }
      await until(() => producer.sent.length > killedAt + 100, 10_000, 'the producer to go on')
    } finally {
      await producer.stop()
    }
    const sent = producer.sent
    for (const transport of TRANSPORTS) {
      await until(async () => (await h.read(transport)).ids.length >= sent.length, 10_000, `${transport}: every event`).catch(() => {})
    }
    await sleep(200) // late duplicates would arrive now
    states = await Promise.all(TRANSPORTS.map((t) => h.read(t)))
    const onB = ((await (await fetch(`${b!.url}/__control/counters`)).json()) as { connections: ConnectionInfo[] }).connections.filter((c) => c.channel === channel)
    for (const [i, transport] of TRANSPORTS.entries()) {
      const state = states[i]!
      const l = ledger(sent, state.ids)
      console.log(
        `[failover] ${transport.padEnd(11)} sent=${l.sent} received=${l.received} lost=${l.lost} duplicated=${l.duplicated}` +
          ` opens=${state.openCount} streamRequests=${state.streamRequests} errors=${state.errors.map((e) => e.kind).join(',') || 'none'}`,
      )
      expect(sent.length).toBeGreaterThan(150)
      // Exactly once and in order: the received ids are the appended ids, one for one.
      expect({ transport, ids: state.ids }).toEqual({ transport, ids: sent })
      expect(state.errors.some((e) => e.kind === 'network')).toBe(true)
    }
    // Both resumed on B with an id, and B replayed what they missed from the shared log.
    const resumed = onB.filter((c) => c.lastEventId !== undefined)
    console.log(`[failover] on B: ${onB.length} connection(s), ${resumed.length} resumed by Last-Event-ID, replayed ${resumed.map((c) => c.replayed).join('+')}`)
    expect(resumed.length).toBeGreaterThanOrEqual(2)
    expect(new Set(resumed.map((c) => c.lastEventIdVia))).toEqual(new Set(['header', 'query']))
    await h.closeAll()
  })
})
