/**
 * Token rotation: a 10-second token refreshed before it expires, while the stream keeps going.
 * The mock server ends every stream when its token expires (it only checked the token at connect),
 * so without rotation the stream would break every 10 s. With `rotation: 'overlap'` the library
 * opens a second connection with the new token and `Last-Event-ID`, switches when it opens and
 * drops replayed ids: the event log shows no gap and no duplicate.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream, type RotationPolicy } from 'use-event-stream'
import { AuditFacts, auditIds, BackendFacts, EMPTY_AUDIT, Panel, Row, StreamFacts, TokenFacts } from '../components/panels'
import { fetchToken, streamUrl } from '../support/api'
import { backendArgTypes, rotationArgType, transportArgType, type BackendArgs } from '../support/args'

interface RotationArgs extends BackendArgs {
  transport: 'auto' | 'eventsource' | 'fetch'
  rotation: RotationPolicy
  /** Seconds before expiry at which the next token is fetched. */
  refreshLeadTime: number
}

function RotatingStream({ transport, rotation }: Pick<RotationArgs, 'transport' | 'rotation'>) {
  const stream = useEventStream(streamUrl('rotation'), { transport, rotation, reduce: auditIds, initialState: EMPTY_AUDIT })
  return (
    <Panel title={`Stream (rotation: ${rotation})`} testId="stream-panel">
      <StreamFacts stream={stream} />
      <AuditFacts audit={stream.state} />
    </Panel>
  )
}

const meta = {
  title: 'Demos/Token rotation',
  render: (args) => (
    <TokenProvider fetchToken={fetchToken} refreshLeadTime={args.refreshLeadTime * 1000}>
      <Row>
        <TokenFacts />
        <RotatingStream transport={args.transport} rotation={args.rotation} />
        <BackendFacts />
      </Row>
    </TokenProvider>
  ),
  argTypes: {
    transport: transportArgType,
    rotation: rotationArgType,
    tokenLifetime: backendArgTypes.tokenLifetime,
    eventInterval: backendArgTypes.eventInterval,
    refreshLeadTime: { control: { type: 'range', min: 1, max: 10, step: 0.5 }, description: 'Seconds before expiry to refresh (capped at half the lifetime)' },
  },
  args: { transport: 'eventsource', rotation: 'overlap', tokenLifetime: 10, refreshLeadTime: 4, eventInterval: 200 },
} satisfies Meta<RotationArgs>

export default meta
type Story = StoryObj<typeof meta>

const num = (element: HTMLElement) => Number(element.textContent)

/** Waits (≈7 s: the refresh is due 6 s after the first token) for a rotation, then checks the ids. */
async function playRotation(canvasElement: HTMLElement) {
  const canvas = within(canvasElement)
  await waitFor(() => expect(canvas.getByTestId('status')).toHaveAttribute('data-status', 'open'), { timeout: 5000 })
  expect(canvas.getByTestId('token-lifetime')).toHaveTextContent('10.0 s')
  // Before the refresh: one token, one connection.
  // (The backend panel coalesces its updates, hence waitFor even for a count that is already right.)
  await waitFor(() => expect(num(canvas.getByTestId('backend-tokens-minted'))).toBe(1))
  await waitFor(
    () => {
      expect(num(canvas.getByTestId('backend-tokens-minted'))).toBeGreaterThanOrEqual(2)
      expect(num(canvas.getByTestId('open-count'))).toBeGreaterThanOrEqual(2)
    },
    { timeout: 9000, interval: 100 },
  )
  const atRotation = num(canvas.getByTestId('audit-received'))
  // Events keep flowing on the new connection...
  await waitFor(() => expect(num(canvas.getByTestId('audit-received'))).toBeGreaterThanOrEqual(atRotation + 3), { timeout: 3000 })
  expect(canvas.getByTestId('status')).toHaveAttribute('data-status', 'open')
  // ...with every id exactly once, in order, across the switch.
  expect(canvas.getByTestId('audit-gaps')).toHaveTextContent('0')
  expect(canvas.getByTestId('audit-duplicates')).toHaveTextContent('0')
  // The old connection was retired: one stream open on the server.
  await waitFor(() => expect(canvas.getByTestId('backend-open-connections')).toHaveTextContent('1'), { timeout: 2000 })
  expect(canvas.getByTestId('token-status')).toHaveTextContent('valid')
}

/** Through `?token=`: the native EventSource cannot change its URL, so rotation means a new connection. */
export const OverlapWithEventSource: Story = {
  play: async ({ canvasElement }) => playRotation(canvasElement),
}

/** Through `Authorization: Bearer` (fetch transport). */
export const OverlapWithFetch: Story = {
  args: { transport: 'fetch' },
  play: async ({ canvasElement }) => playRotation(canvasElement),
}
