/**
 * A high-rate stream (default 1000 events/s: 50 events every 50 ms) into two components, one with
 * `batch: false` (render on every event) and one with `batch: 'frame'` (at most one render per
 * animation frame). Both fold every event into `state` with `reduce`, so batching drops renders,
 * never events. The commit counters show the difference.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream, type BatchOption } from 'use-event-stream'
import { BackendFacts, Facts, Panel, Row, StatusBadge, useCommitCounter } from '../components/panels'
import { fetchToken, streamUrl } from '../support/api'
import { backendArgTypes, transportArgType, type BackendArgs } from '../support/args'

interface BurstArgs extends BackendArgs {
  transport: 'auto' | 'eventsource' | 'fetch'
}

const countEvents = (count: number) => count + 1

function BurstPanel({ batch, transport, id }: { batch: BatchOption; transport: BurstArgs['transport']; id: string }) {
  // Separate channels: `batch` is not part of the stream key, so the two panels would otherwise share one connection.
  const stream = useEventStream(streamUrl(`burst-${id}`), { transport, batch, reduce: countEvents, initialState: 0 })
  const commits = useCommitCounter()
  return (
    <Panel title={`batch: ${JSON.stringify(batch)}`} testId={`${id}-panel`}>
      <Facts
        items={[
          ['status', <StatusBadge status={stream.status} testId={`${id}-status`} />],
          ['events (reduce)', stream.state, `${id}-events`],
          ['renders', <span ref={commits} data-testid={`${id}-renders`} />],
          ['last event id', stream.lastEventId ?? '–'],
        ]}
      />
    </Panel>
  )
}

const meta = {
  title: 'Demos/Bursts',
  render: (args) => (
    <TokenProvider fetchToken={fetchToken}>
      <Row>
        <BurstPanel id="unbatched" batch={false} transport={args.transport} />
        <BurstPanel id="batched" batch="frame" transport={args.transport} />
        <BackendFacts />
      </Row>
    </TokenProvider>
  ),
  argTypes: { transport: transportArgType, eventInterval: backendArgTypes.eventInterval, burstSize: backendArgTypes.burstSize },
  args: { transport: 'eventsource', eventInterval: 50, burstSize: 50 },
} satisfies Meta<BurstArgs>

export default meta
type Story = StoryObj<typeof meta>

const num = (element: HTMLElement) => Number(element.textContent)

async function playBurst(canvasElement: HTMLElement) {
  const canvas = within(canvasElement)
  await waitFor(
    () => {
      expect(num(canvas.getByTestId('unbatched-events'))).toBeGreaterThanOrEqual(1000)
      expect(num(canvas.getByTestId('batched-events'))).toBeGreaterThanOrEqual(1000)
    },
    // A second at full rate; the margin is for a loaded machine, whose timers (and the mocked
    // server's) run late, not for the library.
    { timeout: 20_000, interval: 200 },
  )
  const batchedEvents = num(canvas.getByTestId('batched-events'))
  const batchedRenders = num(canvas.getByTestId('batched-renders'))
  const unbatchedRenders = num(canvas.getByTestId('unbatched-renders'))
  // ~50 events arrive per 50 ms tick, so at ≤ one render per frame the batched panel renders a
  // fraction of the events; the unbatched one renders far more often.
  expect(batchedRenders).toBeLessThan(batchedEvents / 4)
  expect(batchedRenders).toBeLessThan(unbatchedRenders)
}

export const EventSourceBurst: Story = {
  play: async ({ canvasElement }) => playBurst(canvasElement),
}

export const FetchBurst: Story = {
  args: { transport: 'fetch' },
  play: async ({ canvasElement }) => playBurst(canvasElement),
}
