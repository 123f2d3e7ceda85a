// `onError` sees every error, including the ones the stream recovers from by itself: the server
// ending a young stream, a failed token request, an idle timeout, going offline. (Found by the
// fault matrix: errors sent straight to the retry schedule used to reach only the snapshot.)
// Deterministic: a virtual clock and the library's mock transport, through the public entry point.
import { describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, type EventStreamError } from 'use-event-stream/core'
import { createMockTransport } from 'use-event-stream/testing'
import { createFakePlatform } from '../helpers/fakePlatform'

function setup(options: { online?: boolean } = {}) {
  const fake = createFakePlatform({ online: options.online })
  const transport = createMockTransport()
  const reported: EventStreamError[] = []
  const stream = createEventStream({
    url: 'http://127.0.0.1:9/stream',
    transport,
    idleTimeout: 1000,
    reconnect: { initialDelay: 100, maxDelay: 100 },
    platform: fake.platform,
    onError: (error) => reported.push(error),
  })
  return { fake, stream, transport, reported }
}

describe('onError sees every error the stream shows', () => {
  it('idle-timeout', async () => {
    const { fake, stream, transport, reported } = setup()
    stream.connect()
    await fake.advance(0)
    transport.latest!.open()
    await fake.advance(1500)
    expect(stream.getSnapshot().error?.kind).toBe('idle-timeout')
    expect(reported.map((e) => e.kind)).toContain('idle-timeout')
    stream.close()
  })

  it('the server ending a young stream (network: "The server closed the stream")', async () => {
    const { fake, stream, transport, reported } = setup()
    stream.connect()
    await fake.advance(0)
    transport.latest!.open().end()
    expect(stream.getSnapshot().error?.kind).toBe('network')
    expect(reported.map((e) => e.kind)).toContain('network')
    stream.close()
  })

  it('a failed token request (kind token)', async () => {
    const fake = createFakePlatform()
    const tokens = createTokenManager({
      fetchToken: async () => {
        throw Object.assign(new Error('boom'), { status: 500 })
      },
      platform: fake.platform,
    })
    const transport = createMockTransport()
    const reported: EventStreamError[] = []
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, tokens, platform: fake.platform, onError: (e) => reported.push(e) })
    stream.connect()
    await fake.advance(0)
    expect(stream.getSnapshot().error?.kind).toBe('token')
    expect(reported.map((e) => e.kind)).toContain('token')
    stream.close()
    tokens.dispose()
  })

  it('going offline while open (kind offline), once; back online the stream reconnects', async () => {
    const { fake, stream, transport, reported } = setup()
    stream.connect()
    await fake.advance(0)
    transport.latest!.open()
    fake.setOnline(false)
    expect(stream.getSnapshot()).toMatchObject({ status: 'paused', error: { kind: 'offline' } })
    expect(reported.map((e) => e.kind)).toEqual(['offline'])
    fake.setOnline(true)
    await fake.advance(0)
    expect(transport.connections).toHaveLength(2)
    expect(reported.map((e) => e.kind)).toEqual(['offline'])
    stream.close()
  })

  it('connecting while offline (kind offline), without a connection attempt', async () => {
    const { fake, stream, transport, reported } = setup({ online: false })
    stream.connect()
    await fake.advance(0)
    expect(stream.getSnapshot()).toMatchObject({ status: 'paused', error: { kind: 'offline' } })
    expect(reported.map((e) => e.kind)).toEqual(['offline'])
    expect(transport.connections).toHaveLength(0)
    stream.close()
  })
})
