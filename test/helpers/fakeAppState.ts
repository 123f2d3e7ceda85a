import type { AppStateLike } from 'use-event-stream/react-native'

/** What `react-native`'s AppState offers, driven by the test; counts its subscriptions. */
export function fakeAppState(initial: string | null = 'active') {
  const listeners = new Set<(state: string) => void>()
  const appState = {
    currentState: initial,
    addEventListener(type: 'change', listener: (state: string) => void) {
      if (type !== 'change') throw new Error(`unexpected AppState event ${type}`)
      listeners.add(listener)
      return { remove: () => void listeners.delete(listener) }
    },
  } satisfies AppStateLike
  return {
    appState,
    /** The OS moves the app to `state`: React Native updates `currentState`, then tells listeners. */
    set(state: string) {
      appState.currentState = state
      for (const listener of Array.from(listeners)) listener(state)
    },
    subscriptions: () => listeners.size,
  }
}
