/**
 * The one story that talks to a real server: the project's reference backend
 * (`npm run server`, default http://127.0.0.1:8787). Its token endpoint wants `x-api-key`, its
 * `ticker` channel sends `tick` events, and it ends each stream when the token expires, so with a
 * short `ttl` you watch real rotations. When the server is not running the story says so (and its
 * test checks that message instead), so it never fails for lack of a server.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { useEffect, useMemo, useState } from 'react'
import { expect, waitFor, within } from 'storybook/test'
import { fetchTokenFrom, TokenProvider, useEventStream, type FetchToken } from 'use-event-stream'
import { useBackend } from '../components/backendContext'
import { AuditFacts, auditIds, EMPTY_AUDIT, Panel, Row, StreamFacts, TokenFacts } from '../components/panels'
import { transportArgType } from '../support/args'

interface ReferenceArgs {
  serverUrl: string
  apiKey: string
  /** Token lifetime requested from the server (`?ttl=`), seconds. */
  ttl: number
  transport: 'auto' | 'eventsource' | 'fetch'
}

type Probe = 'probing' | 'up' | 'down'

function useProbe(serverUrl: string, attempt: number): Probe {
  const [probe, setProbe] = useState<Probe>('probing')
  useEffect(() => {
    setProbe('probing')
    // `cancelled`: a cleanup (StrictMode's remount, a new URL) must not report the aborted probe as "down".
    let cancelled = false
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), 1500)
    fetch(new URL('/health', serverUrl), { signal: controller.signal, cache: 'no-store' }).then(
      (response) => {
        void response.body?.cancel()
        if (!cancelled) setProbe(response.ok ? 'up' : 'down')
      },
      () => {
        if (!cancelled) setProbe('down')
      },
    )
    return () => {
      cancelled = true
      clearTimeout(timer)
      controller.abort()
    }
  }, [serverUrl, attempt])
  return probe
}

function LiveStream({ serverUrl, transport }: Pick<ReferenceArgs, 'serverUrl' | 'transport'>) {
  const stream = useEventStream(new URL('/stream?channel=ticker', serverUrl).toString(), {
    transport,
    events: ['tick'],
    reduce: auditIds,
    initialState: EMPTY_AUDIT,
  })
  return (
    <Panel title="ticker channel (real server)" testId="stream-panel">
      <StreamFacts stream={stream} />
      <AuditFacts audit={stream.state} />
    </Panel>
  )
}

function ReferenceServerDemo({ serverUrl, apiKey, ttl, transport }: ReferenceArgs) {
  const [attempt, setAttempt] = useState(0)
  const probe = useProbe(serverUrl, attempt)
  const backend = useBackend()
  const fetchToken = useMemo<FetchToken>(() => {
    const url = new URL('/auth/sse-token', serverUrl)
    url.searchParams.set('ttl', String(ttl))
    const inner = fetchTokenFrom(url, { headers: { 'x-api-key': apiKey } })
    return async (context) => {
      const response = await inner(context)
      // Only so the preview's leak check can look for this token in the DOM and the console.
      backend.guardToken(typeof response === 'string' ? response : response.token)
      return response
    }
  }, [serverUrl, apiKey, ttl, backend])

  if (probe === 'probing') return <p data-testid="server-probing">Looking for the reference server at {serverUrl}…</p>
  if (probe === 'down') {
    return (
      <div data-testid="server-absent" style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 560 }}>
        <p>
          <strong>The reference server is not running</strong> at <code>{serverUrl}</code>. This story requires{' '}
          <code>npm run server</code> (in another terminal, from the repository root); then press Retry.
        </p>
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>
          Retry
        </button>
      </div>
    )
  }
  return (
    <TokenProvider fetchToken={fetchToken}>
      <p data-testid="server-present" style={{ fontFamily: 'system-ui, sans-serif' }}>
        Connected to the reference server at <code>{serverUrl}</code> (started with <code>npm run server</code>).
      </p>
      <Row>
        <LiveStream serverUrl={serverUrl} transport={transport} />
        <TokenFacts />
      </Row>
    </TokenProvider>
  )
}

const meta = {
  title: 'Demos/Reference server',
  render: (args) => <ReferenceServerDemo {...args} />,
  argTypes: {
    serverUrl: { control: 'text', description: 'Base URL of `npm run server`' },
    apiKey: { control: 'text', description: '`x-api-key` for POST /auth/sse-token (the server prints its own; default demo-api-key)' },
    ttl: { control: { type: 'range', min: 5, max: 300, step: 5 } },
    transport: transportArgType,
  },
  args: { serverUrl: 'http://127.0.0.1:8787', apiKey: 'demo-api-key', ttl: 30, transport: 'auto' },
} satisfies Meta<ReferenceArgs>

export default meta
type Story = StoryObj<typeof meta>

/** Passes with or without the server: without it, the explanatory message is what it checks. */
export const RealServer: Story = {
  play: async ({ canvasElement }) => {
    const canvas = within(canvasElement)
    await waitFor(() => expect(canvas.queryByTestId('server-probing')).toBeNull(), { timeout: 4000 })
    if (canvas.queryByTestId('server-absent')) {
      expect(canvas.getByTestId('server-absent')).toHaveTextContent('requires npm run server')
      return
    }
    await waitFor(() => expect(canvas.getByTestId('status')).toHaveAttribute('data-status', 'open'), { timeout: 5000 })
    await waitFor(() => expect(Number(canvas.getByTestId('audit-received').textContent)).toBeGreaterThanOrEqual(2), { timeout: 5000 })
    expect(canvas.getByTestId('audit-gaps')).toHaveTextContent('0')
    expect(canvas.getByTestId('audit-duplicates')).toHaveTextContent('0')
  },
}

