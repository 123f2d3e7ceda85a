/**
 * Token rotation under load, in Node, against bench/server.mjs over real HTTP on 127.0.0.1:
 * a channel publishes 50 events/s; the stream (core `createEventStream` + `createTokenManager`,
 * tokens that expire after a few seconds) goes through 100 token rotations. Every published id
 * must arrive exactly once, in order; in overlap mode the longest pause between two deliveries
 * must stay within 2× the publish interval.
 */
import * as core from 'use-event-stream/core'
import { createTokenManager as createTokenManagerDirect } from '../../src/core/tokenManager'
import { EventSource as NodeEventSource } from 'eventsource'
import type { RotationPolicy, TransportName } from 'use-event-stream/core'

interface BenchServer {
  url: string
  publish(channel: string): number
  stats(channel: string): { opened: number; open: number; peak: number; published: number }
}

const INTERVAL = 20 // ms between published events (50/s)
const TOKEN_TTL = 5000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function runRotation(server: BenchServer, { transport, rotation, rotations = 100 }: { transport: TransportName; rotation: RotationPolicy; rotations?: number }) {
  // Until the core entry exports the token manager, use its module directly.
  const createTokenManager = (core as any).createTokenManager ?? createTokenManagerDirect
  const channel = `rot-${transport}-${rotation}-${Date.now()}`
  const tokens = createTokenManager({
    fetchToken: async ({ signal }: { signal: AbortSignal }) => {
      const res = await fetch(`${server.url}/token?ttl=${TOKEN_TTL}`, { method: 'POST', signal })
      return (await res.json()) as { token: string; expiresIn: number }
    },
  })
  const received: number[] = []
  const receivedAt: number[] = []
  const errors: string[] = []
  const stream = core.createEventStream({
    url: `${server.url}/stream?mode=channel&auth=1&channel=${channel}`,
    tokens,
    transport,
    rotation,
    platform: { EventSource: NodeEventSource as any },
    onEvent: (e) => {
      received.push(Number(e.id))
      receivedAt.push(performance.now())
    },
    onError: (e) => void errors.push(`${e.kind}: ${e.message}`),
  })

  // Publisher: drift-free 50 events/s until stopped.
  let publishing = true
  let published = 0
  const publishedAt: number[] = []
  const start = performance.now()
  const publisher = (async () => {
    while (publishing) {
      const due = Math.floor((performance.now() - start) / INTERVAL)
      while (published < due) {
        published = server.publish(channel)
        publishedAt[published] = performance.now()
      }
      await sleep(2)
    }
  })()

  stream.connect()
  const until = async (cond: () => boolean, ms: number) => {
    const end = performance.now() + ms
    while (!cond() && performance.now() < end) await sleep(5)
    return cond()
  }
  await until(() => stream.getSnapshot().status === 'open', 5000)
  // A control period without rotation: the gaps the publisher and the event loop cause anyway.
  const controlFrom = received.length
  await sleep(2000)
  const controlTo = received.length

  const rotateFrom = received.length
  let completed = 0
  const rotateStart = performance.now()
  for (let i = 0; i < rotations; i++) {
    const opens = stream.getSnapshot().openCount
    await tokens.refresh()
    // A rotation is done when the stream opened its next connection (overlap switches on open;
    // reconnect reopens). `none` keeps the connection: nothing to wait for.
    if (rotation !== 'none' && (await until(() => stream.getSnapshot().openCount > opens && stream.getSnapshot().status === 'open', 5000))) completed++
    await sleep(100)
  }
  const rotateMs = performance.now() - rotateStart
  const rotateTo = received.length
  publishing = false
  await publisher
  await until(() => received.at(-1) === published, 5000)
  const opened = server.stats(channel).opened
  stream.close()
  ;(tokens as { dispose(): void }).dispose()

  // Exactly once, in order: received must be 1..published.
  let duplicated = 0
  let outOfOrder = 0
  const seen = new Set<number>()
  for (let i = 0; i < received.length; i++) {
    if (seen.has(received[i]!)) duplicated++
    seen.add(received[i]!)
    if (i > 0 && received[i]! <= received[i - 1]!) outOfOrder++
  }
  let lost = 0
  for (let id = 1; id <= published; id++) if (!seen.has(id)) lost++
  const maxGap = (from: number, to: number) => {
    let gap = 0
    for (let i = Math.max(1, from); i < to; i++) gap = Math.max(gap, receivedAt[i]! - receivedAt[i - 1]!)
    return gap
  }
  // The pause a rotation adds: the publish interval plus the largest jump in publish→delivery
  // latency between neighbours, so the publisher's own timer jitter does not count against us.
  const effectiveGap = (from: number, to: number) => {
    let jump = 0
    for (let i = Math.max(1, from); i < to; i++) {
      const lat = receivedAt[i]! - publishedAt[received[i]!]!
      const prev = receivedAt[i - 1]! - publishedAt[received[i - 1]!]!
      jump = Math.max(jump, lat - prev)
    }
    return INTERVAL + jump
  }
  // Latency: publish → delivery, worst case during the rotations (a replay shows up here).
  let maxLatency = 0
  for (let i = rotateFrom; i < rotateTo; i++) maxLatency = Math.max(maxLatency, receivedAt[i]! - (publishedAt[received[i]!] ?? receivedAt[i]!))
  return {
    transport,
    rotation,
    rotations,
    rotationsCompleted: completed,
    rotateSeconds: rotateMs / 1000,
    intervalMs: INTERVAL,
    published,
    received: received.length,
    lost,
    duplicated,
    outOfOrder,
    connectionsOpened: opened,
    longestGapMs: maxGap(rotateFrom, rotateTo),
    controlLongestGapMs: maxGap(controlFrom, controlTo),
    effectiveGapMs: effectiveGap(rotateFrom, rotateTo),
    controlEffectiveGapMs: effectiveGap(controlFrom, controlTo),
    maxLatencyMs: maxLatency,
    errors: errors.slice(0, 5),
    errorCount: errors.length,
  }
}
