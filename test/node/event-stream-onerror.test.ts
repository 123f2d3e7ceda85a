// `onError` sees every error, including the ones the stream recovers from by itself: the server
// ending a young stream, a failed token request, an idle timeout, going offline. (Found by the
// fault matrix: errors sent straight to the retry schedule used to reach only the snapshot.)
// Deterministic: a virtual clock and a scripted transport, through the public entry point.
import { describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, type EventStreamError, type Transport, type TransportHandlers } from 'use-event-stream/core'
import { createFakePlatform } from '../helpers/fakePlatform'

/** A transport whose connections the test drives by hand. */
function scriptedTransport() {
  const connections: TransportHandlers[] = []
  const transport: Transport = {
    name: 'fetch',
    connect(_options, handlers) {
      connections.push(handlers)
      return () => {}
    },
  }
  return { transport, connections }
}

function setup(tokens?: ReturnType<typeof createTokenManager>) {
  const fake = createFakePlatform()
  const { transport, connections } = scriptedTransport()
  const reported: EventStreamError[] = []
  const stream = createEventStream({
    url: 'http://127.0.0.1:9/stream',
    transport,
    ...(tokens ? { tokens } : {}),
    idleTimeout: 1000,
    reconnect: { initialDelay: 100, maxDelay: 100 },
    platform: fake.platform,
    onError: (error) => reported.push(error),
  })
  return { fake, stream, connections, reported }
}

describe('onError sees every error the stream shows', () => {
  it('idle-timeout', async () => {
    const { fake, stream, connections, reported } = setup()
    stream.connect()
    await fake.advance(0)
    connections[0]!.onOpen()
    await fake.advance(1500)
    expect(stream.getSnapshot().error?.kind).toBe('idle-timeout')
    expect(reported.map((e) => e.kind)).toContain('idle-timeout')
    stream.close()
  })

  it('the server ending a young stream (network: "The server closed the stream")', async () => {
    const { fake, stream, connections, reported } = setup()
    stream.connect()
    await fake.advance(0)
    connections[0]!.onOpen()
    connections[0]!.onClose({ noContent: false })
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
    const { transport } = scriptedTransport()
    const reported: EventStreamError[] = []
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, tokens, platform: fake.platform, onError: (e) => reported.push(e) })
    stream.connect()
    await fake.advance(0)
    expect(stream.getSnapshot().error?.kind).toBe('token')
    expect(reported.map((e) => e.kind)).toContain('token')
    stream.close()
    tokens.dispose()
  })
})
