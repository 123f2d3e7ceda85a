// The React Native platform: AppState and the app's connectivity turned into the lifecycle the
// core listens to (a document-like target with `visibilityState` and `visibilitychange`, a
// window-like one with `focus`, `online`, `offline`), so a stream on a phone pauses in the
// background, resumes in the foreground and waits for the network exactly as in a browser tab.
import { describe, expect, it } from 'vitest'
import { createEventStreamWith } from 'use-event-stream/core'
import { createReactNativePlatform } from 'use-event-stream/react-native'
import { createMockTransport } from 'use-event-stream/testing'
import { fakeAppState } from '../helpers/fakeAppState'
import { createFakePlatform } from '../helpers/fakePlatform'

/** A connectivity source as an app wires one (NetInfo, expo-network): a listener set and a value. */
function fakeConnectivity(initial = true) {
  const listeners = new Set<(online: boolean) => void>()
  let online = initial
  return {
    subscribe(listener: (online: boolean) => void) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    set(value: boolean) {
      online = value
      for (const listener of Array.from(listeners)) listener(value)
    },
    get online() {
      return online
    },
    subscriptions: () => listeners.size,
  }
}

describe('createReactNativePlatform: AppState as the page lifecycle', () => {
  it("maps 'background' to a hidden document and every other state to a visible one", () => {
    const app = fakeAppState('active')
    const platform = createReactNativePlatform({ AppState: app.appState })
    const seen: string[] = []
    platform.document!.addEventListener('visibilitychange', () => seen.push(platform.document!.visibilityState!))
    expect(platform.document!.visibilityState).toBe('visible')
    app.set('inactive') // iOS on the way to the background, or the app switcher over the app: still shown
    app.set('background')
    app.set('background')
    app.set('active')
    expect(seen).toEqual(['hidden', 'visible'])
    expect(createReactNativePlatform({ AppState: fakeAppState(null).appState }).document!.visibilityState).toBe('visible')
    expect(createReactNativePlatform({ AppState: fakeAppState('background').appState }).document!.visibilityState).toBe('hidden')
  })

  it("coming back to 'active' is a wake-up (focus): timers were frozen in the background", () => {
    const app = fakeAppState('background')
    const platform = createReactNativePlatform({ AppState: app.appState })
    let focus = 0
    platform.window!.addEventListener('focus', () => focus++)
    app.set('inactive')
    app.set('active')
    app.set('active')
    expect(focus).toBe(1)
  })

  it('subscribes to AppState only while the core listens, and removes its subscription after the last listener', () => {
    const app = fakeAppState()
    const platform = createReactNativePlatform({ AppState: app.appState })
    expect(app.subscriptions()).toBe(0)
    const onVisibility = () => {}
    const onFocus = () => {}
    platform.document!.addEventListener('visibilitychange', onVisibility)
    platform.window!.addEventListener('focus', onFocus)
    expect(app.subscriptions()).toBeGreaterThan(0)
    platform.document!.removeEventListener('visibilitychange', onVisibility)
    expect(app.subscriptions()).toBeGreaterThan(0)
    platform.window!.removeEventListener('focus', onFocus)
    expect(app.subscriptions()).toBe(0)
  })

  it('has no EventSource, so the stream never picks a transport the host lacks', () => {
    const platform = createReactNativePlatform({ AppState: fakeAppState().appState })
    expect('EventSource' in platform && platform.EventSource === undefined).toBe(true)
  })

  it("passes the app's fetch through (expo/fetch streams response bodies)", () => {
    const fetch = (async () => new Response('')) as typeof globalThis.fetch
    expect(createReactNativePlatform({ AppState: fakeAppState().appState, fetch }).fetch).toBe(fetch)
    expect('fetch' in createReactNativePlatform({ AppState: fakeAppState().appState })).toBe(false)
  })
})

describe("createReactNativePlatform: connectivity from the app", () => {
  it('online unless the app says otherwise', () => {
    expect(createReactNativePlatform({ AppState: fakeAppState().appState }).isOnline!()).toBe(true)
    let online = false
    const platform = createReactNativePlatform({ AppState: fakeAppState().appState, isOnline: () => online })
    expect(platform.isOnline!()).toBe(false)
    online = true
    expect(platform.isOnline!()).toBe(true)
  })

  it("onConnectivityChange becomes 'online'/'offline' on the window target, and the last value reported is isOnline() when no isOnline is given", () => {
    const net = fakeConnectivity(true)
    const platform = createReactNativePlatform({ AppState: fakeAppState().appState, onConnectivityChange: net.subscribe })
    const seen: string[] = []
    const onOnline = () => seen.push('online')
    const onOffline = () => seen.push('offline')
    platform.window!.addEventListener('online', onOnline)
    platform.window!.addEventListener('offline', onOffline)
    expect(net.subscriptions()).toBe(1)
    net.set(false)
    expect(platform.isOnline!()).toBe(false)
    net.set(false) // a repeated report (NetInfo sends one per change of any field) is not a change
    net.set(true)
    expect(seen).toEqual(['offline', 'online'])
    expect(platform.isOnline!()).toBe(true)
    platform.window!.removeEventListener('online', onOnline)
    platform.window!.removeEventListener('offline', onOffline)
    expect(net.subscriptions()).toBe(0)
  })

  it('accepts a subscription object with remove() (expo-network, AppState-style APIs)', () => {
    const net = fakeConnectivity(true)
    const platform = createReactNativePlatform({
      AppState: fakeAppState().appState,
      onConnectivityChange: (listener) => {
        const off = net.subscribe(listener)
        return { remove: off }
      },
    })
    const onOffline = () => {}
    platform.window!.addEventListener('offline', onOffline)
    expect(net.subscriptions()).toBe(1)
    platform.window!.removeEventListener('offline', onOffline)
    expect(net.subscriptions()).toBe(0)
  })
})

describe('a stream on the React Native platform', () => {
  /** The React Native platform over the virtual clock: AppState and connectivity from the test. */
  function setup(options: { appState?: string; online?: boolean } = {}) {
    const fake = createFakePlatform()
    const app = fakeAppState(options.appState ?? 'active')
    const net = fakeConnectivity(options.online ?? true)
    const platform = { ...fake.platform, ...createReactNativePlatform({ AppState: app.appState, onConnectivityChange: net.subscribe, isOnline: () => net.online }) }
    const transport = createMockTransport('fetch')
    return { fake, app, net, platform, transport }
  }

  it('pauses after pauseWhenHidden in the background and reconnects with the last id when active again', async () => {
    const { fake, app, platform, transport } = setup()
    const stream = createEventStreamWith(transport, { url: 'https://api.example/stream', platform, pauseWhenHidden: 5_000 })
    stream.connect()
    transport.latest!.open().emit({ data: 'a', id: '1' })
    app.set('background')
    await fake.advance(4_999)
    expect(stream.getSnapshot().status).toBe('open')
    await fake.advance(1)
    expect(stream.getSnapshot().status).toBe('paused')
    expect(transport.connections[0]!.aborted).toBe(true)
    app.set('active')
    expect(stream.getSnapshot().status).toBe('reconnecting')
    expect(transport.connections).toHaveLength(2)
    expect(transport.connections[1]!.lastEventId).toBe('1')
    stream.close()
    expect(app.subscriptions()).toBe(0)
  })

  it('a short trip to the background keeps the connection', async () => {
    const { fake, app, platform, transport } = setup()
    const stream = createEventStreamWith(transport, { url: 'https://api.example/stream', platform, pauseWhenHidden: 5_000 })
    stream.connect()
    transport.latest!.open()
    app.set('background')
    await fake.advance(2_000)
    app.set('active')
    await fake.advance(10_000)
    expect(stream.getSnapshot().status).toBe('open')
    expect(transport.connections).toHaveLength(1)
    stream.close()
  })

  it('started in the background, it counts hidden time from its start', async () => {
    const { fake, platform, transport } = setup({ appState: 'background' })
    const stream = createEventStreamWith(transport, { url: 'https://api.example/stream', platform, pauseWhenHidden: 1_000 })
    stream.connect()
    transport.latest!.open()
    await fake.advance(1_000)
    expect(stream.getSnapshot().status).toBe('paused')
    stream.close()
  })

  it('waits while the app reports no network and connects when it is back', async () => {
    const { net, platform, transport } = setup({ online: false })
    const stream = createEventStreamWith(transport, { url: 'https://api.example/stream', platform })
    stream.connect()
    expect(stream.getSnapshot()).toMatchObject({ status: 'paused', error: { kind: 'offline' } })
    expect(transport.connections).toHaveLength(0)
    net.set(true)
    expect(stream.getSnapshot().status).toBe('connecting')
    transport.latest!.open()
    net.set(false)
    expect(stream.getSnapshot().status).toBe('paused')
    stream.close()
    expect(net.subscriptions()).toBe(0)
  })
})
