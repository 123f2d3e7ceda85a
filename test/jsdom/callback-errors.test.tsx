// Errors thrown by a hook's own callbacks (onEvent, onError, reduce, parse): several hooks share one
// connection, some of them throw, and the others must still see every event and error. The
// thrown errors go to the host's `reportError` (stubbed here to capture them).
import { act, cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { createMockTokens, createMockTransport } from 'use-event-stream/testing'

const URL_A = 'http://127.0.0.1:9/a'

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

describe('one policy for errors thrown by a hook’s callbacks', () => {
  it('throwing onEvent, reduce, onError and parse never break delivery to the other hooks on the shared stream; each error is reported', async () => {
    const reported: unknown[] = []
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error))
    const transport = createMockTransport()
    const healthy = { events: [] as string[], errors: [] as string[] }
    const parseErrors: string[] = []
    const rendered: Record<string, unknown> = {}

    function Hooks() {
      // The throwing hooks subscribe first, so the healthy one is served after them.
      const a = useEventStream(URL_A, {
        transport,
        onEvent: (event) => {
          throw new Error(`onEvent ${event.data}`)
        },
      })
      const b = useEventStream(URL_A, {
        transport,
        reduce: (_: number, event) => {
          throw new Error(`reduce ${event.data}`)
        },
        initialState: 0,
      })
      const c = useEventStream(URL_A, {
        transport,
        onError: (error) => {
          throw new Error(`onError ${error.kind}`)
        },
      })
      const d = useEventStream(URL_A, {
        transport,
        parse: (data) => {
          if (data === 'y') throw new Error('unparsable')
          return data.toUpperCase()
        },
        onError: (error) => parseErrors.push(error.kind),
      })
      const ok = useEventStream(URL_A, {
        transport,
        onEvent: (event) => healthy.events.push(event.data),
        onError: (error) => healthy.errors.push(error.kind),
        reduce: (count: number) => count + 1,
        initialState: 0,
      })
      Object.assign(rendered, { a: a.data, b: b.data, bState: b.state, c: c.data, d: d.data, ok: ok.data, okState: ok.state })
      return null
    }

    render(
      <TokenProvider tokens={createMockTokens()}>
        <Hooks />
      </TokenProvider>,
    )
    await act(async () => {})
    expect(transport.connections).toHaveLength(1)

    // Nothing thrown reaches the transport (the "server" side of the stream).
    act(() => void transport.latest!.open().emit({ data: 'x' }).emit({ data: 'y' }).emit({ data: 'z' }))
    act(() => void transport.latest!.fail('network'))

    expect(healthy.events).toEqual(['x', 'y', 'z'])
    expect(healthy.errors).toEqual(['network'])
    expect(parseErrors).toEqual(['parse', 'network'])
    // Each hook still took every event it could: a throwing onEvent or reduce does not lose data.
    expect(rendered).toMatchObject({ a: 'z', b: 'z', bState: 0, c: 'z', d: 'Z', ok: 'z', okState: 3 })

    expect(reported.map((error) => (error as Error).message).sort()).toEqual(
      ['onEvent x', 'onEvent y', 'onEvent z', 'reduce x', 'reduce y', 'reduce z', 'onError network'].sort(),
    )
  })
})
