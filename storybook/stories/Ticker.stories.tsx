/**
 * The same live ticker over both transports, side by side, under one TokenProvider: the native
 * EventSource carrying the token in `?token=`, and the fetch transport carrying it in
 * `Authorization: Bearer`. The backend panel confirms how each token arrived.
 */
import type { Meta, StoryObj } from '@storybook/react-vite'
import { expect, waitFor, within } from 'storybook/test'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { useBackendStats } from '../components/backendContext'
import { BackendFacts, Facts, Panel, Row, StreamFacts, TokenFacts } from '../components/panels'
import { fetchToken, parseTick, streamUrl } from '../support/api'
import { backendArgTypes, type BackendArgs } from '../support/args'

const VIA_LABEL = { query: '?token= query parameter', header: 'Authorization header', none: 'no token' } as const

function TickerPanel({ transport, channel, title }: { transport: 'eventsource' | 'fetch'; channel: string; title: string }) {
  const stream = useEventStream(streamUrl(channel), { transport, parse: parseTick })
  const stats = useBackendStats()
  const last = [...stats.connections].reverse().find((connection) => connection.channel === channel)
  return (
    <Panel title={title} testId={`${channel}-panel`}>
      <p style={{ fontSize: 32, margin: '4px 0 8px', fontVariantNumeric: 'tabular-nums' }} data-testid={`${channel}-price`}>
        {stream.data ? stream.data.price.toFixed(2) : '…'}
      </p>
      <StreamFacts stream={stream} prefix={`${channel}-`} />
      <Facts items={[['token arrived via', last ? VIA_LABEL[last.authVia] : '–', `${channel}-auth-via`]]} />
    </Panel>
  )
}

function TickerDemo() {
  return (
    <TokenProvider fetchToken={fetchToken}>
      <Row>
        <TickerPanel transport="eventsource" channel="es" title="EventSource (?token=)" />
        <TickerPanel transport="fetch" channel="fetch" title="fetch (Authorization header)" />
        <TokenFacts />
        <BackendFacts />
      </Row>
    </TokenProvider>
  )
}

const meta = {
  title: 'Demos/Live ticker',
  render: () => <TickerDemo />,
  argTypes: { tokenLifetime: backendArgTypes.tokenLifetime, eventInterval: backendArgTypes.eventInterval },
  args: { tokenLifetime: 30, eventInterval: 250 },
} satisfies Meta<BackendArgs>

export default meta
type Story = StoryObj<typeof meta>

const count = (element: HTMLElement) => Number(element.textContent)

export const BothTransports: Story = {
  play: async ({ canvasElement }) => {
    const canvas = within(canvasElement)
    await waitFor(
      () => {
        expect(canvas.getByTestId('es-status')).toHaveAttribute('data-status', 'open')
        expect(canvas.getByTestId('fetch-status')).toHaveAttribute('data-status', 'open')
      },
      { timeout: 5000 },
    )
    await waitFor(
      () => {
        expect(count(canvas.getByTestId('es-event-count'))).toBeGreaterThanOrEqual(3)
        expect(count(canvas.getByTestId('fetch-event-count'))).toBeGreaterThanOrEqual(3)
      },
      { timeout: 5000 },
    )
    expect(canvas.getByTestId('es-transport')).toHaveTextContent('eventsource')
    expect(canvas.getByTestId('fetch-transport')).toHaveTextContent('fetch')
    expect(canvas.getByTestId('es-auth-via')).toHaveTextContent('?token= query parameter')
    expect(canvas.getByTestId('fetch-auth-via')).toHaveTextContent('Authorization header')
    // One token manager for both panels: one token, two connections.
    expect(canvas.getByTestId('backend-tokens-minted')).toHaveTextContent('1')
    expect(canvas.getByTestId('backend-connections-opened')).toHaveTextContent('2')
    expect(canvas.getByTestId('es-price')).toHaveTextContent(/^\d+\.\d\d$/)
  },
}
