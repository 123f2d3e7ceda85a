// useEventStream passes method and body through, and they are part of the stream key.
import { cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { createMockTokens, createMockTransport } from 'use-event-stream/testing'

afterEach(() => cleanup())

describe('useEventStream with a request body', () => {
  it('hooks share a connection only with an equal method and body (compared by value)', async () => {
    const transport = createMockTransport()
    const tokens = createMockTokens()
    function Feed({ body }: { body: object }) {
      useEventStream('http://127.0.0.1:9/s', { transport, method: 'POST', body })
      return null
    }
    render(
      <TokenProvider tokens={tokens}>
        <Feed body={{ topics: ['a'] }} />
        <Feed body={{ topics: ['a'] }} />
        <Feed body={{ topics: ['b'] }} />
      </TokenProvider>,
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(transport.connections.map((c) => [c.options.method, c.options.body])).toEqual([
      ['POST', { topics: ['a'] }],
      ['POST', { topics: ['b'] }],
    ])
  })
})
