// A server whose log no longer holds the id a stream resumes from says so with a `stream-gap`
// event; the stream calls `onGap` and keeps streaming. End to end against the reference server on
// 127.0.0.1 (a ring of 3 events), through both transports: the fetch transport, and the
// eventsource transport over an EventSource with browser semantics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, fetchTokenFrom, type EventSourceConstructor, type StreamGap } from 'use-event-stream/core'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { SpecEventSource } from '../helpers/specEventSource'
import { until } from '../helpers/wait'

let server: ReferenceServer
beforeAll(async () => {
  server = await startReferenceServer({ port: 0, log: () => {}, ringSize: 3 })
})
afterAll(() => server.close())

describe('a trimmed log is a gap, and the stream is told', () => {
  for (const transport of ['fetch', 'eventsource'] as const) {
    it(`${transport}: onGap({ lastEventId, resumedAt }) before the events that are left; nothing of the notice is delivered`, async () => {
      const channel = `seq-gap-${transport}`
      for (let i = 1; i <= 6; i++) server.publish(channel, { data: `e${i}` })
      const tokens = createTokenManager({ fetchToken: fetchTokenFrom(`${server.url}/auth/sse-token`, { headers: { 'x-api-key': server.apiKey } }) })
      const gaps: StreamGap[] = []
      const received: string[] = []
      const stream = createEventStream({
        url: `${server.url}/stream?channel=${channel}`,
        transport,
        tokens,
        lastEventId: '1',
        platform: { EventSource: SpecEventSource as EventSourceConstructor },
        onGap: (gap) => gaps.push(gap),
        onEvent: (e) => received.push(e.data),
      })
      try {
        stream.connect()
        await until(() => received.length >= 3, 5000, 'the events that are left')
        expect(gaps).toEqual([{ lastEventId: '1', resumedAt: '4' }])
        expect(received).toEqual(['e4', 'e5', 'e6'])
        server.publish(channel, { data: 'e7' })
        await until(() => received.length === 4, 5000, 'a live event')
        expect(stream.getSnapshot()).toMatchObject({ status: 'open', lastEventId: '7', error: undefined })
      } finally {
        stream.close()
        tokens.dispose()
      }
    })
  }
})
