// Server rendering and hydration: the server (and the hydration pass) render `idle` without any
// request, hydration matches, and the client connects afterwards.
import type { ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import { hydrateRoot, type Root } from 'react-dom/client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, useEventStream, useToken } from 'use-event-stream'
import { connections, publish, streamUrl, tokenFetcher, uniqueChannel } from './helpers'
import { eventually } from '../helpers/wait'

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean | undefined
}

let root: Root | undefined
afterEach(() => {
  root?.unmount()
  root = undefined
  document.body.innerHTML = ''
})

describe('SSR', () => {
  it('renderToString then hydrateRoot: no warnings, idle on the server, live on the client', async () => {
    // Like a browser: updates arrive from the network, outside act(), so act's warnings are off.
    const previous = globalThis.IS_REACT_ACT_ENVIRONMENT
    globalThis.IS_REACT_ACT_ENVIRONMENT = false
    const channel = uniqueChannel('ssr')
    const url = streamUrl(channel)
    const fetchToken = tokenFetcher()
    function Status() {
      const stream = useEventStream(url, { transport: 'fetch', parse: (s) => JSON.parse(s) as { n: number }, reduce: (c: number) => c + 1, initialState: 0 })
      const token = useToken()
      return <p id="status">{`${stream.status}|${token.status}|${stream.data?.n ?? 'none'}|${stream.state}`}</p>
    }
    const app = (): ReactNode => (
      <TokenProvider fetchToken={fetchToken}>
        <Status />
      </TokenProvider>
    )

    const html = renderToString(app())
    expect(html).toContain('idle|idle|none|0')
    expect(fetchToken.calls).toBe(0)

    const container = document.createElement('div')
    container.innerHTML = html
    document.body.appendChild(container)
    const errors = vi.spyOn(console, 'error')
    const warnings = vi.spyOn(console, 'warn')
    const recoverable: unknown[] = []
    try {
      root = hydrateRoot(container, app(), { onRecoverableError: (error) => recoverable.push(error) })
      const text = () => container.querySelector('#status')!.textContent
      await eventually(() => expect(text()).toBe('open|valid|none|0'))
      await publish(channel, { n: 5 })
      await eventually(() => expect(text()).toBe('open|valid|5|1'))
      expect(errors).not.toHaveBeenCalled()
      expect(warnings).not.toHaveBeenCalled()
      expect(recoverable).toEqual([])
      expect(await connections(channel)).toHaveLength(1)
    } finally {
      globalThis.IS_REACT_ACT_ENVIRONMENT = previous
      errors.mockRestore()
      warnings.mockRestore()
    }
  })
})
