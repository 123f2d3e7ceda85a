// The hooks as a React Native app runs them: react-test-renderer (React Native's test renderer:
// host components, no DOM) in Node, the React Native platform with a simulated AppState, an
// expo/fetch-like fetch, and the reference server. A stream that pauses in the background must
// come back in the foreground without losing what was published meanwhile.
// React 19 prints once that react-test-renderer is deprecated: it is still what React Native's own
// test tooling renders with, and the one renderer here with host components and no DOM.
import { createElement, act } from 'react'
import { create, type ReactTestRenderer } from 'react-test-renderer'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fetchTokenFrom, TokenProvider, useEventStream, useToken } from 'use-event-stream'
import { createReactNativePlatform } from 'use-event-stream/react-native'
import { fakeAppState } from '../helpers/fakeAppState'
import { useReferenceServer } from '../helpers/referenceServer'
import { createStreamingFetch } from '../helpers/streamingFetch'
import { sleep, until } from '../helpers/wait'


describe('TokenProvider and useEventStream under react-test-renderer with the React Native platform', () => {
  const server = useReferenceServer({ heartbeatMs: 200 })
  let renderer: ReactTestRenderer | undefined

  beforeAll(() => {
    // Tells React that updates are wrapped in act(), as React Native's testing tools do.
    ;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true
  })
  afterEach(async () => {
    await act(async () => renderer?.unmount())
    renderer = undefined
  })

  it('receives events, pauses in the background with pauseWhenHidden, and resumes in the foreground with what it missed', async () => {
    expect(typeof (globalThis as { document?: unknown }).document).toBe('undefined')
    const app = fakeAppState()
    const streaming = createStreamingFetch()
    const platform = createReactNativePlatform({ AppState: app.appState, fetch: streaming.fetch })
    const fetchToken = fetchTokenFrom(`${server().url}/auth/sse-token`, { fetch: streaming.fetch, headers: { 'x-api-key': server().apiKey } })
    const channel = `seq-rn-${Date.now()}`
    const url = `${server().url}/stream?channel=${channel}`

    function Ticker() {
      const { status, data, transport } = useEventStream(url, {
        platform,
        pauseWhenHidden: 300,
        reduce: (seen: string[], event) => [...seen, event.data],
        initialState: [],
      })
      const token = useToken()
      // Host components by name, as React Native's are ('View', 'Text').
      return createElement('View', null, createElement('Text', { testID: 'status' }, `${transport} ${status} ${data ?? '-'}`), createElement('Text', { testID: 'token' }, token.status))
    }
    function Seen() {
      const { state } = useEventStream(url, { platform, pauseWhenHidden: 300, reduce: (seen: string[], event) => [...seen, event.data], initialState: [] })
      return createElement('Text', { testID: 'seen' }, state.join(','))
    }

    await act(async () => {
      renderer = create(createElement(TokenProvider, { fetchToken, platform }, createElement(Ticker), createElement(Seen)))
    })
    const text = (testID: string) => String(renderer!.root.findByProps({ testID }).props.children)
    const waitFor = (predicate: () => boolean, what: string) => until(predicate, 5000, what, () => act(() => sleep(20)))
    const openStreams = () => server().counters().connections.filter((c) => c.channel === channel && c.open).length

    await waitFor(() => text('status').startsWith('fetch open'), 'the stream to open over fetch')
    expect(text('token')).toBe('valid')
    server().publish(channel, { data: 'a' })
    server().publish(channel, { data: 'b' })
    await waitFor(() => text('seen') === 'a,b', 'a and b')
    expect(text('status')).toBe('fetch open b')
    // Both hooks share one connection (same stream key under one provider).
    expect(openStreams()).toBe(1)

    act(() => app.set('background'))
    await waitFor(() => text('status').startsWith('fetch paused'), 'the stream to pause in the background')
    await until(() => openStreams() === 0, 5000, 'the server to see the connection closed')
    // Published while the app is in the background: delivered on resume, from the last event id.
    server().publish(channel, { data: 'c' })

    act(() => app.set('active'))
    await waitFor(() => text('seen') === 'a,b,c', 'c, replayed after the resume')
    server().publish(channel, { data: 'd' })
    await waitFor(() => text('seen') === 'a,b,c,d', 'd, live')
    expect(text('status')).toBe('fetch open d')
    const connections = server().counters().connections.filter((c) => c.channel === channel)
    expect(connections).toHaveLength(2)
    expect(connections[1]).toMatchObject({ authVia: 'header', replayed: 1 })

    await act(async () => renderer!.unmount())
    renderer = undefined
    // The provider disposes after a task (StrictMode remounts in between); then nothing is left.
    await until(() => openStreams() === 0 && app.subscriptions() === 0, 5000, 'no connection and no AppState subscription left')
  })
})
