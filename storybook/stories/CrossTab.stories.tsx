/**
 * One connection for many tabs (`crossTab`): same-origin tabs that want the same stream elect one
 * leader (a Web Lock) that connects and fetches tokens; the others follow it over a
 * BroadcastChannel. Over HTTP/1.1 a browser gives a host six connections for all its tabs, so
 * without this the seventh tab of an app with one stream hangs.
 *
 * A tab is, to the library, a `TokenProvider` with its own token manager and its own registry of
 * streams: each panel below is one, so the panels of this one page form a group exactly as three
 * tabs would. The mock backend counts one stream request and one token for all three. Close the
 * leader's "tab": another panel takes over within a second and resumes from the last event id
 * the group saw (the audits show no gap and no duplicate). Open this story's iframe in a second
 * browser tab and its panels join the same group as followers (that tab's mock backend then sees
 * no stream request: the leader's tab serves them all).
 */
import { useState } from 'react'
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, userEvent, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream, useToken } from 'use-event-stream'
import { useBackendStats } from '../components/backendContext'
import { AuditFacts, auditIds, BackendFacts, EMPTY_AUDIT, Facts, Panel, Row, StatusBadge } from '../components/panels'
import { fetchToken, streamUrl } from '../support/api'
import { backendArgTypes, transportArgType, type BackendArgs } from '../support/args'

interface CrossTabArgs extends BackendArgs {
  tabs: number
  transport: 'auto' | 'eventsource' | 'fetch'
}

/** The signed-in user's id in an app: only tabs of the same scope share. */
const crossTab = { scope: 'demo-user' }

function TabContent({ index, transport, onClose }: { index: number; transport: CrossTabArgs['transport']; onClose: () => void }) {
  const stream = useEventStream(streamUrl('cross-tab'), { transport, reduce: auditIds, initialState: EMPTY_AUDIT })
  const token = useToken()
  return (
    <Panel title={`Tab ${index + 1}`} testId={`tab-${index}`}>
      <p style={{ margin: '0 0 8px', display: 'flex', gap: 8, alignItems: 'center' }}>
        <span
          data-testid="role"
          style={{ fontWeight: 700, color: stream.tab === 'leader' ? '#067647' : stream.tab === 'follower' ? '#175cd3' : '#475569' }}
        >
          {stream.tab}
        </span>
        <StatusBadge status={stream.status} />
      </p>
      <Facts
        items={[
          ['last event id', stream.lastEventId ?? '–', 'last-event-id'],
          ["this tab's token", token.status, 'token-status'],
        ]}
      />
      <AuditFacts audit={stream.state} />
      <button type="button" onClick={onClose} style={{ marginTop: 8 }}>
        Close this tab
      </button>
    </Panel>
  )
}

/** One "tab": its own provider, so its own token manager and stream registry, as a real tab has. */
function Tab({ index, transport }: { index: number; transport: CrossTabArgs['transport'] }) {
  const [open, setOpen] = useState(true)
  if (!open) return <Panel title={`Tab ${index + 1} (closed)`} testId={`tab-${index}-closed`}>{null}</Panel>
  return (
    <TokenProvider fetchToken={fetchToken} crossTab={crossTab}>
      <TabContent index={index} transport={transport} onClose={() => setOpen(false)} />
    </TokenProvider>
  )
}

function ResumedFrom() {
  const stats = useBackendStats()
  const last = stats.connections.at(-1)
  return (
    <Panel title="Newest connection">
      <Facts items={[['resumed after id', last?.lastEventId ?? '–', 'resumed-from']]} />
    </Panel>
  )
}

const meta = {
  title: 'Demos/Cross-tab sharing',
  render: (args) => (
    <Row>
      {Array.from({ length: args.tabs }, (_, index) => (
        <Tab key={index} index={index} transport={args.transport} />
      ))}
      <BackendFacts />
      <ResumedFrom />
    </Row>
  ),
  argTypes: {
    tabs: { control: { type: 'range', min: 1, max: 6, step: 1 }, description: 'Panels, each a "tab" with its own TokenProvider' },
    transport: transportArgType,
    eventInterval: backendArgTypes.eventInterval,
  },
  args: { tabs: 3, transport: 'eventsource', eventInterval: 200 },
} satisfies Meta<CrossTabArgs>

export default meta
type Story = StoryObj<typeof meta>

const num = (element: HTMLElement) => Number(element.textContent)

export const OneConnectionForThreeTabs: Story = {
  play: async ({ canvasElement }) => {
    const canvas = within(canvasElement)
    const tab = (index: number) => within(canvas.getByTestId(`tab-${index}`))
    const roles = () => [0, 1, 2].map((index) => tab(index).getByTestId('role').textContent)
    await waitFor(
      () => {
        for (const index of [0, 1, 2]) {
          expect(tab(index).getByTestId('status')).toHaveAttribute('data-status', 'open')
          expect(num(tab(index).getByTestId('audit-received'))).toBeGreaterThanOrEqual(3)
        }
      },
      { timeout: 5000 },
    )
    expect(roles().filter((role) => role === 'leader')).toHaveLength(1)
    expect(roles().filter((role) => role === 'follower')).toHaveLength(2)
    // One connection and one token for the three tabs; the followers' token managers hold none.
    expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('1')
    expect(canvas.getByTestId('backend-open-connections')).toHaveTextContent('1')
    expect(canvas.getByTestId('backend-tokens-minted')).toHaveTextContent('1')
    const leader = roles().indexOf('leader')
    for (const index of [0, 1, 2]) expect(tab(index).getByTestId('token-status')).toHaveTextContent(index === leader ? 'valid' : 'idle')

    // Close the leader's tab: another takes over and resumes where the group was.
    await userEvent.click(tab(leader).getByRole('button', { name: 'Close this tab' }))
    const rest = [0, 1, 2].filter((index) => index !== leader)
    await waitFor(
      () => {
        expect(rest.map((index) => tab(index).getByTestId('role').textContent).sort()).toEqual(['follower', 'leader'])
        expect(canvas.getByTestId('backend-stream-requests')).toHaveTextContent('2')
        expect(canvas.getByTestId('backend-open-connections')).toHaveTextContent('1')
      },
      { timeout: 3000 },
    )
    const before = rest.map((index) => num(tab(index).getByTestId('audit-received')))
    await waitFor(() => rest.forEach((index, i) => expect(num(tab(index).getByTestId('audit-received'))).toBeGreaterThanOrEqual(before[i]! + 3)), { timeout: 5000 })
    expect(num(canvas.getByTestId('resumed-from'))).toBeGreaterThanOrEqual(3)
    for (const index of rest) {
      expect(tab(index).getByTestId('audit-gaps')).toHaveTextContent('0')
      expect(tab(index).getByTestId('audit-duplicates')).toHaveTextContent('0')
    }
  },
}

/** Over fetch (`Authorization: Bearer`): the same, the token in a header of the leader's request only. */
export const OverFetch: Story = {
  args: { transport: 'fetch' },
  play: OneConnectionForThreeTabs.play,
}
