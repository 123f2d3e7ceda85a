/**
 * Every connection state the hook reports, each produced by the mock backend for real:
 * connecting, open, reconnecting (with the countdown to the next attempt), paused while offline,
 * closed by a 204, failed after a 401 twice, after a 404, after a wrong Content-Type, and the
 * token endpoint down (retried) or refusing (terminal).
 *
 * The fault stories use the fetch transport: the browser's EventSource hides HTTP statuses (a 401,
 * a 404 and a 204 all look like a network error), so only the fetch transport can tell them apart.
 * Switch the `transport` control to `eventsource` to see that difference.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, userEvent, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { AuditFacts, auditIds, BackendFacts, EMPTY_AUDIT, Panel, Row, StreamFacts, TokenFacts } from '../components/panels'
import { fetchToken, streamUrl } from '../support/api'
import { transportArgType, type BackendArgs } from '../support/args'

interface StateArgs extends BackendArgs {
  transport: 'auto' | 'eventsource' | 'fetch'
}

function StateDemo({ transport }: StateArgs) {
  const stream = useEventStream(streamUrl('states'), { transport, reduce: auditIds, initialState: EMPTY_AUDIT })
  return (
    <Row>
      <Panel title="useEventStream" testId="stream-panel">
        <StreamFacts stream={stream} />
        <div style={{ display: 'flex', gap: 8, marginTop: 8 }}>
          {/* Simulated: the library listens to the window's offline/online events. */}
          <button type="button" onClick={() => window.dispatchEvent(new Event('offline'))}>
            Go offline
          </button>
          <button type="button" onClick={() => window.dispatchEvent(new Event('online'))}>
            Back online
          </button>
          <button type="button" onClick={() => stream.reconnect()}>
            Reconnect
          </button>
        </div>
      </Panel>
      <Panel title="Event ids received">
        <AuditFacts audit={stream.state} />
      </Panel>
      <TokenFacts />
      <BackendFacts />
    </Row>
  )
}

const meta = {
  title: 'Demos/Connection states',
  render: (args) => (
    <TokenProvider fetchToken={fetchToken}>
      <StateDemo {...args} />
    </TokenProvider>
  ),
  argTypes: { transport: transportArgType },
  args: { transport: 'fetch' },
} satisfies Meta<StateArgs>

export default meta
type Story = StoryObj<typeof meta>

const num = (element: HTMLElement) => Number(element.textContent)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function expectStatus(canvasElement: HTMLElement, status: string, timeout = 5000) {
  const canvas = within(canvasElement)
  await waitFor(() => expect(canvas.getByTestId('status')).toHaveAttribute('data-status', status), { timeout })
  return canvas
}

/** The token arrived and the stream request is in flight, but the server has not answered yet. */
export const Connecting: Story = {
  parameters: { backend: { stream: { kind: 'hang' } } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'connecting')
    await waitFor(() => expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('1'))
    await sleep(600)
    expect(canvas.getByTestId('status')).toHaveAttribute('data-status', 'connecting')
    expect(canvas.getByTestId('open-count')).toHaveTextContent('0')
    expect(canvas.getByTestId('token-status')).toHaveTextContent('valid')
  },
}

export const Open: Story = {
  args: { transport: 'eventsource' },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'open')
    await waitFor(() => expect(num(canvas.getByTestId('event-count'))).toBeGreaterThanOrEqual(3))
    expect(canvas.getByTestId('error')).toHaveTextContent('none')
    expect(canvas.getByTestId('attempt')).toHaveTextContent('0')
  },
}

/**
 * The server drops the connection after 3 events and asked (`retry: 3000`) for 3 s between
 * attempts (the library adds its jitter on top): the hook shows `reconnecting` with a countdown,
 * then resumes after the last id.
 */
export const Reconnecting: Story = {
  parameters: { backend: { streamPlan: [{ kind: 'drop', after: 3 }], retry: 3000 } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'reconnecting')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'network')
    expect(canvas.getByTestId('attempt')).toHaveTextContent('1')
    // The countdown honours the server's `retry: 3000`: at least 3 s, plus up to 1 s of jitter
    // (first attempt), minus the little time that passed before this check.
    const retryIn = Number.parseFloat(canvas.getByTestId('retry-in').textContent ?? '')
    expect(retryIn).toBeGreaterThan(2)
    expect(retryIn).toBeLessThanOrEqual(4.1)
    await expectStatus(canvasElement, 'open', 6000)
    expect(canvas.getByTestId('open-count')).toHaveTextContent('2')
    // The second request resumed after the last id the first one delivered: the events published
    // while disconnected were replayed, none twice.
    await waitFor(() => expect(num(canvas.getByTestId('audit-received'))).toBeGreaterThanOrEqual(6))
    expect(canvas.getByTestId('audit-gaps')).toHaveTextContent('0')
    expect(canvas.getByTestId('audit-duplicates')).toHaveTextContent('0')
  },
}

/** Offline (simulated with the window's `offline` event): the connection is dropped and the hook waits. */
export const PausedWhileOffline: Story = {
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'open')
    await waitFor(() => expect(num(canvas.getByTestId('audit-received'))).toBeGreaterThanOrEqual(2))
    await userEvent.click(canvas.getByRole('button', { name: 'Go offline' }))
    await expectStatus(canvasElement, 'paused', 1000)
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'offline')
    await waitFor(() => expect(canvas.getByTestId('backend-open-connections')).toHaveTextContent('0'))
    // Stay offline for a few ticks, so the server publishes events this client has not seen.
    await sleep(700)
    const beforeOnline = num(canvas.getByTestId('audit-received'))
    await userEvent.click(canvas.getByRole('button', { name: 'Back online' }))
    await expectStatus(canvasElement, 'open')
    expect(canvas.getByTestId('open-count')).toHaveTextContent('2')
    await waitFor(() => expect(num(canvas.getByTestId('audit-received'))).toBeGreaterThanOrEqual(beforeOnline + 2))
    // What was published while offline came back through Last-Event-ID replay.
    expect(canvas.getByTestId('audit-gaps')).toHaveTextContent('0')
    expect(canvas.getByTestId('audit-duplicates')).toHaveTextContent('0')
  },
}

/** 204 No Content means "stop": the hook closes and never asks again. */
export const ClosedBy204: Story = {
  parameters: { backend: { stream: { kind: 'status', status: 204 } } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'closed')
    await sleep(1500)
    expect(canvas.getByTestId('status')).toHaveAttribute('data-status', 'closed')
    expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('1')
  },
}

/** The stream refuses every token: one forced token refresh, a second 401, then `failed`. */
export const FailedAfter401Twice: Story = {
  parameters: { backend: { stream: { kind: 'status', status: 401 } } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'failed')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'unauthorized')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-http-status', '401')
    await waitFor(() => {
      expect(canvas.getByTestId('backend-tokens-minted')).toHaveTextContent('2')
      expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('2')
    })
  },
}

export const FailedAfter404: Story = {
  parameters: { backend: { stream: { kind: 'status', status: 404 } } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'failed')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'http')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-http-status', '404')
    await waitFor(() => expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('1'))
  },
}

export const FailedAfterWrongContentType: Story = {
  parameters: { backend: { stream: { kind: 'content-type' } } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'failed')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'content-type')
    expect(canvas.getByTestId('error')).toHaveTextContent('text/html')
    await waitFor(() => expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('1'))
  },
}

/** The token endpoint answers 500: the stream waits and retries with backoff; it never reaches the stream endpoint. */
export const TokenEndpointDown: Story = {
  parameters: { backend: { tokenEndpoint: 'down' } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'reconnecting')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'token')
    await waitFor(() => expect(canvas.getByTestId('token-status')).toHaveTextContent('error'))
    expect(canvas.getByTestId('token-error')).toHaveTextContent('http (HTTP 500)')
    await waitFor(() => expect(num(canvas.getByTestId('backend-token-requests'))).toBeGreaterThanOrEqual(2), { timeout: 5000 })
    expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('0')
  },
}

/** The token endpoint answers 401 (not signed in): terminal, no retries. */
export const TokenEndpointRefuses: Story = {
  parameters: { backend: { tokenEndpoint: 'refuse' } },
  play: async ({ canvasElement }) => {
    const canvas = await expectStatus(canvasElement, 'failed')
    expect(canvas.getByTestId('error')).toHaveAttribute('data-kind', 'unauthorized')
    await waitFor(() => expect(canvas.getByTestId('token-status')).toHaveTextContent('unauthorized'))
    await sleep(1000)
    expect(canvas.getByTestId('backend-token-requests')).toHaveTextContent('1')
    expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('0')
  },
}
