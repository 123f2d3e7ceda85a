/**
 * A connection timeline: the states one stream went through, drawn to scale. The mock backend
 * plays a script: the first connection drops after 4 events, the second ends after 3 (too soon to
 * count as stable, so it counts as a failure), the third is answered 204 (stop).
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { BackendFacts, Panel, Row, StreamFacts } from '../components/panels'
import { Timeline, useStatusHistory } from '../components/Timeline'
import { fetchToken, streamUrl } from '../support/api'
import { backendArgTypes, transportArgType, type BackendArgs } from '../support/args'

interface TimelineArgs extends BackendArgs {
  transport: 'auto' | 'eventsource' | 'fetch'
}

function TimelineDemo({ transport }: Pick<TimelineArgs, 'transport'>) {
  const stream = useEventStream(streamUrl('timeline'), { transport })
  const history = useStatusHistory(stream.status)
  return (
    <Row>
      <Panel title="Connection timeline" testId="timeline-panel">
        <Timeline history={history} />
      </Panel>
      <Panel title="useEventStream">
        <StreamFacts stream={stream} />
      </Panel>
      <BackendFacts />
    </Row>
  )
}

const meta = {
  title: 'Demos/Timeline',
  render: (args) => (
    <TokenProvider fetchToken={fetchToken}>
      <TimelineDemo transport={args.transport} />
    </TokenProvider>
  ),
  parameters: {
    backend: {
      streamPlan: [
        { kind: 'drop', after: 4 },
        { kind: 'end', after: 3 },
        { kind: 'status', status: 204 },
      ],
      retry: 700,
    },
  },
  argTypes: { transport: transportArgType, eventInterval: backendArgTypes.eventInterval },
  // fetch: the only transport that sees the server's `retry:` and tells a 204 from an error.
  args: { transport: 'fetch', eventInterval: 150 },
} satisfies Meta<TimelineArgs>

export default meta
type Story = StoryObj<typeof meta>

export const DropEndAnd204: Story = {
  play: async ({ canvasElement }) => {
    const canvas = within(canvasElement)
    const statuses = () => Array.from(canvas.getByTestId('timeline').querySelectorAll('li')).map((li) => li.dataset.status)
    await waitFor(() => expect(statuses().at(-1)).toBe('closed'), { timeout: 9000, interval: 100 })
    // `idle` is the hook's state before its first effect runs; the rest is the script above.
    expect(statuses().filter((status) => status !== 'idle')).toEqual(['connecting', 'open', 'reconnecting', 'open', 'reconnecting', 'closed'])
    expect(canvas.getByTestId('open-count')).toHaveTextContent('2')
    await waitFor(() => expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('3'))
    expect(canvas.getByRole('img', { name: /^timeline: / })).toBeVisible()
  },
}
