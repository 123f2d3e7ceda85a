// @vitest-environment node
// A real server environment: no window, no document. Importing the React entry and rendering
// with it must not touch either, nor make any request.
import { renderToString } from 'react-dom/server'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, useEventStream, useToken } from 'use-event-stream'

describe('server rendering without a DOM', () => {
  let errors: ReturnType<typeof vi.spyOn>
  beforeEach(() => {
    errors = vi.spyOn(console, 'error')
  })
  afterEach(() => {
    // No "useLayoutEffect does nothing on the server" or similar warnings.
    expect(errors).not.toHaveBeenCalled()
    errors.mockRestore()
  })

  it('renders the idle snapshot and never calls fetchToken', () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined')
    expect(typeof (globalThis as { document?: unknown }).document).toBe('undefined')
    let calls = 0
    const fetchToken = async () => {
      calls++
      return { token: 't', expiresIn: 60 }
    }
    function Status() {
      const a = useEventStream('/api/stream', { reduce: (n: number) => n + 1, initialState: 41 })
      const b = useEventStream(null)
      const token = useToken()
      return <p>{`${a.status}:${a.transport}:${a.state}|${b.status}|${token.status}`}</p>
    }
    const html = renderToString(
      <TokenProvider fetchToken={fetchToken}>
        <Status />
      </TokenProvider>,
    )
    expect(html).toBe('<p>idle:fetch:41|idle|idle</p>')
    expect(calls).toBe(0)
  })

  it('works without a provider (private, tokenless stream)', () => {
    function Status() {
      const { status, transport } = useEventStream('/public/stream')
      return <p>{`${status}:${transport}`}</p>
    }
    expect(renderToString(<Status />)).toBe('<p>idle:eventsource</p>')
  })
})
