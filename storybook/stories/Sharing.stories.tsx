/**
 * Many components, one connection: hooks under the same TokenProvider with the same stream key
 * share a connection (reference-counted, closed a grace period after the last one unmounts). The
 * mock backend counts the stream requests it received. Turn `share` off to see one connection per
 * component.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { BackendFacts, Panel, Row, StatusBadge } from '../components/panels'
import { fetchToken, parseTick, streamUrl } from '../support/api'
import { backendArgTypes, transportArgType, type BackendArgs } from '../support/args'

interface SharingArgs extends BackendArgs {
  widgets: number
  share: boolean
  transport: 'auto' | 'eventsource' | 'fetch'
}

function PriceWidget({ index, share, transport }: { index: number; share: boolean; transport: SharingArgs['transport'] }) {
  const { status, data, lastEventId } = useEventStream(streamUrl('shared'), { transport, share, parse: parseTick })
  return (
    <div
      data-testid="widget"
      data-last-event-id={lastEventId ?? ''}
      style={{ border: '1px solid #e5e7eb', borderRadius: 6, padding: 8, minWidth: 120, fontFamily: 'system-ui, sans-serif' }}
    >
      <div style={{ fontSize: 12, color: '#6b7280' }}>widget {index + 1}</div>
      <div style={{ fontSize: 22, fontVariantNumeric: 'tabular-nums' }}>{data ? data.price.toFixed(2) : '…'}</div>
      <StatusBadge status={status} testId={`widget-${index}-status`} />
    </div>
  )
}

const meta = {
  title: 'Demos/Sharing',
  render: (args) => (
    <TokenProvider fetchToken={fetchToken}>
      <Row>
        <Panel title={`${args.widgets} components, share: ${String(args.share)}`}>
          <div style={{ display: 'flex', flexWrap: 'wrap', gap: 8, maxWidth: 560 }}>
            {Array.from({ length: args.widgets }, (_, index) => (
              <PriceWidget key={index} index={index} share={args.share} transport={args.transport} />
            ))}
          </div>
        </Panel>
        <BackendFacts />
      </Row>
    </TokenProvider>
  ),
  argTypes: {
    widgets: { control: { type: 'range', min: 1, max: 24, step: 1 } },
    share: { control: 'boolean' },
    transport: transportArgType,
    eventInterval: backendArgTypes.eventInterval,
  },
  args: { widgets: 8, share: true, transport: 'eventsource', eventInterval: 250 },
} satisfies Meta<SharingArgs>

export default meta
type Story = StoryObj<typeof meta>

async function playSharing(canvasElement: HTMLElement, widgets: number, expectedConnections: number) {
  const canvas = within(canvasElement)
  await waitFor(
    () => {
      const all = canvas.getAllByTestId('widget')
      expect(all).toHaveLength(widgets)
      for (let index = 0; index < widgets; index++) expect(canvas.getByTestId(`widget-${index}-status`)).toHaveAttribute('data-status', 'open')
      for (const widget of all) expect(Number(widget.dataset.lastEventId)).toBeGreaterThanOrEqual(2)
    },
    { timeout: 5000 },
  )
  // Let a StrictMode remount or a late duplicate show up before counting.
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent(String(expectedConnections))
  expect(canvas.getByTestId('backend-open-connections')).toHaveTextContent(String(expectedConnections))
  expect(canvas.getByTestId('backend-tokens-minted')).toHaveTextContent('1')
}

export const OneConnection: Story = {
  play: async ({ canvasElement }) => playSharing(canvasElement, 8, 1),
}

export const OneConnectionOverFetch: Story = {
  args: { transport: 'fetch' },
  play: async ({ canvasElement }) => playSharing(canvasElement, 8, 1),
}

/** `share: false`: every component opens its own connection (still one token for all). */
export const NotShared: Story = {
  args: { share: false, widgets: 4 },
  play: async ({ canvasElement }) => playSharing(canvasElement, 4, 4),
}
