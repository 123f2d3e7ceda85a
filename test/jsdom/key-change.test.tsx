// What a hook renders while its stream key changes or it is disabled: every rendered snapshot is
// recorded, so a single painted frame that mixes two streams fails the test. Runs on React 19 and
// (jsdom-react18) React 18.
import { StrictMode, type ReactNode } from 'react'
import { act, cleanup, render } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenProvider, useEventStream } from 'use-event-stream'
import { createMockTokens, createMockTransport, type MockTransport } from 'use-event-stream/testing'

const ROOM_A = 'http://127.0.0.1:9/rooms/a'
const ROOM_B = 'http://127.0.0.1:9/rooms/b'
/** A constant, so a render can be checked for showing exactly this `initialState`. */
const INITIAL: readonly string[] = Object.freeze([])

interface Frame {
  /** The props of this render: which room the component asked for. */
  url: string | null
  enabled: boolean
  status: string
  data: unknown
  lastEventData: unknown
  state: readonly string[]
}

/** Event data names its room (`A1`, `B2`), so a frame can be checked for the room it shows. */
function Room({ url, enabled = true, transport, frames }: { url: string | null; enabled?: boolean; transport: MockTransport; frames: Frame[] }) {
  const snapshot = useEventStream(url, {
    transport,
    enabled,
    reduce: (list: readonly string[], event) => [...list, event.data],
    initialState: INITIAL,
  })
  frames.push({ url, enabled, status: snapshot.status, data: snapshot.data, lastEventData: snapshot.lastEvent?.data, state: snapshot.state })
  return <p>{snapshot.data ?? '-'}</p>
}

/** Every value a frame shows from a stream: its data, its last event and every folded event. */
const shown = (frame: Frame) => [frame.data, frame.lastEventData, ...frame.state].filter((value) => value !== undefined) as string[]

/** Frames rendered for room B must show nothing of room A (and nothing at all for `state` but `initialState` or B's events). */
function expectOnlyRoomB(frames: Frame[]) {
  for (const frame of frames) {
    for (const value of shown(frame)) expect({ frame, value }).toEqual({ frame, value: expect.stringMatching(/^B/) })
    if (frame.state.length === 0) expect(frame.state).toBe(INITIAL)
  }
}

afterEach(() => {
  cleanup()
})

describe('a snapshot never mixes stream keys', () => {
  it.each([
    ['plain', (node: ReactNode) => node],
    ['StrictMode', (node: ReactNode) => <StrictMode>{node}</StrictMode>],
  ])('after the url changes, no render shows the previous stream’s data, lastEvent or state (%s)', (_, wrap) => {
    const transport = createMockTransport()
    const frames: Frame[] = []
    const { rerender } = render(wrap(<Room url={ROOM_A} transport={transport} frames={frames} />))
    act(() => void transport.latest!.open().emit({ data: 'A1' }).emit({ data: 'A2' }))
    expect(frames.at(-1)).toMatchObject({ url: ROOM_A, data: 'A2', state: ['A1', 'A2'] })

    const switchedAt = frames.length
    rerender(wrap(<Room url={ROOM_B} transport={transport} frames={frames} />))
    const roomB = transport.connections.find((connection) => connection.url.href === ROOM_B)!
    act(() => void roomB.open().emit({ data: 'B1' }))

    const afterSwitch = frames.slice(switchedAt)
    expect(afterSwitch.every((frame) => frame.url === ROOM_B)).toBe(true)
    // The first of them is the one that used to show room A's data under room B's `idle` status.
    expect(afterSwitch[0]).toMatchObject({ data: undefined, lastEventData: undefined })
    expect(afterSwitch[0]!.state).toBe(INITIAL)
    expectOnlyRoomB(afterSwitch)
    expect(frames.at(-1)).toMatchObject({ status: 'open', data: 'B1', lastEventData: 'B1', state: ['B1'] })
  })

  it('switching to a running shared stream shows nothing, then that stream’s latest event, never the old one’s', async () => {
    const transport = createMockTransport()
    const frames: Frame[] = []
    const other: Frame[] = []
    const tokens = createMockTokens()
    function App({ url }: { url: string }) {
      return (
        <TokenProvider tokens={tokens}>
          {/* Keeps room B's connection running and holding a latest event. */}
          <Room url={ROOM_B} transport={transport} frames={other} />
          <Room url={url} transport={transport} frames={frames} />
        </TokenProvider>
      )
    }
    const { rerender } = render(<App url={ROOM_A} />)
    await act(async () => {})
    const connectionTo = (url: string) => transport.connections.find((connection) => connection.url.href === url)!
    act(() => {
      connectionTo(ROOM_A).open().emit({ data: 'A1' })
      connectionTo(ROOM_B).open().emit({ data: 'B1' }).emit({ data: 'B2' })
    })
    expect(frames.at(-1)).toMatchObject({ data: 'A1', state: ['A1'] })

    const switchedAt = frames.length
    rerender(<App url={ROOM_B} />)
    await act(async () => {})
    const afterSwitch = frames.slice(switchedAt)
    expectOnlyRoomB(afterSwitch)
    // Joined, not received: the latest event is shown but not folded into `state`.
    expect(frames.at(-1)).toMatchObject({ status: 'open', data: 'B2', lastEventData: 'B2' })
    expect(frames.at(-1)!.state).toBe(INITIAL)
    expect(transport.connections.filter((connection) => connection.url.href === ROOM_B)).toHaveLength(1)
  })

  it.each([
    ['enabled: false', { url: ROOM_A, enabled: false }],
    ['a null url', { url: null, enabled: true }],
  ] as const)('%s clears data, lastEvent and state in every render', (_, disabled) => {
    const transport = createMockTransport()
    const frames: Frame[] = []
    const { rerender } = render(<Room url={ROOM_A} transport={transport} frames={frames} />)
    act(() => void transport.latest!.open().emit({ data: 'A1' }))
    expect(frames.at(-1)).toMatchObject({ data: 'A1', state: ['A1'] })

    const disabledAt = frames.length
    rerender(<Room {...disabled} transport={transport} frames={frames} />)
    // The connection closes only after the grace period; an event in between must not show either.
    act(() => void transport.connections[0]!.emit({ data: 'A2' }))
    rerender(<Room {...disabled} transport={transport} frames={frames} />)
    const whileDisabled = frames.slice(disabledAt)
    expect(whileDisabled.length).toBeGreaterThanOrEqual(2)
    for (const frame of whileDisabled) {
      expect(frame).toMatchObject({ status: 'idle', data: undefined, lastEventData: undefined })
      expect(frame.state).toBe(INITIAL)
    }
  })
})
