/**
 * `use-event-stream/react-native`: the `Platform` of a React Native or Expo app. React Native has
 * no `document`, no `window` events, no `navigator.onLine` and no `EventSource`; the app's
 * `AppState` and its connectivity source stand in for them, turned into the targets the core
 * already listens to, so the core never learns it runs on a phone and reads no global of its own.
 *
 * Its own entry with no runtime import: apps that never import it ship none of it.
 */
import type { Platform, PlatformEventTarget } from 'use-event-stream/core'

/** The part of `react-native`'s `AppState` the platform uses (the module itself, or a test's fake). */
export interface AppStateLike {
  /** `'active'`, `'background'`, `'inactive'` (iOS), `'unknown'`, `'extension'`; `null` before known. */
  readonly currentState: string | null | undefined
  addEventListener(type: 'change', listener: (state: string) => void): { remove(): void }
}

/** What `onConnectivityChange` returns: an unsubscribe function, or a subscription with `remove()`. */
export type ConnectivitySubscription = (() => void) | { remove(): void }

/** Options of `createReactNativePlatform`. */
export interface ReactNativePlatformOptions {
  /** `AppState` from `react-native`. Its `'background'` state is a hidden page. */
  AppState: AppStateLike
  /**
   * Whether the device is online now. Default: the last value `onConnectivityChange` reported,
   * `true` before any (a stream then tries, and a failed attempt backs off as usual).
   */
  isOnline?: () => boolean
  /**
   * Subscribes to connectivity changes, e.g. `(listener) => NetInfo.addEventListener((state) =>
   * listener(state.isConnected !== false))`. Going offline pauses streams; coming back reconnects
   * them at once instead of waiting out a backoff. Default: none (streams find out by failing).
   */
  onConnectivityChange?: (listener: (online: boolean) => void) => ConnectivitySubscription
  /** The `fetch` of the fetch transport and `fetchTokenFrom`, e.g. `fetch` from `expo/fetch`, which streams response bodies. Default: the global one. */
  fetch?: typeof fetch
}

/**
 * The platform of a React Native app: pass it as `platform` to `TokenProvider` and to every
 * `useEventStream` (or to `createEventStream` and `createTokenManager`).
 *
 * - `document`: `visibilityState` is `'hidden'` while `AppState.currentState` is `'background'`,
 *   `'visible'` otherwise (`'inactive'` is iOS's moment between the two, or the app switcher over
 *   a shown app); `visibilitychange` fires when that changes, so `pauseWhenHidden` works as in a
 *   browser tab.
 * - `window`: `focus` when the app becomes `'active'` again (timers may have been frozen in the
 *   background: the core re-reads its deadlines), `online`/`offline` from `onConnectivityChange`.
 * - `isOnline()`: from the options (see `isOnline`).
 * - `EventSource`: `undefined` (React Native has none, so `'auto'` picks fetch).
 * - `fetch`: the option, when given.
 *
 * `AppState` and the connectivity source are subscribed to only while a stream or token manager
 * listens, and unsubscribed after the last one stops: a platform made once at module scope costs
 * nothing until a stream connects.
 *
 * @example
 * ```tsx
 * import { AppState } from 'react-native'
 * import { fetch } from 'expo/fetch'
 * import { createReactNativePlatform } from 'use-event-stream/react-native'
 *
 * const platform = createReactNativePlatform({ AppState, fetch })
 * // <TokenProvider fetchToken={…} platform={platform}> … useEventStream(url, { platform, pauseWhenHidden: 30_000 })
 * ```
 */
export function createReactNativePlatform(options: ReactNativePlatformOptions): Partial<Platform> {
  const { AppState, onConnectivityChange } = options
  const hidden = (state: string | null | undefined) => state === 'background'

  const document = createTarget(
    (emit) => {
      let wasHidden = hidden(AppState.currentState)
      return AppState.addEventListener('change', (state) => {
        if (hidden(state) === wasHidden) return
        wasHidden = hidden(state)
        emit('visibilitychange')
      })
    },
    // A getter: the core reads it when a stream connects and on every `visibilitychange`.
    { get visibilityState() { return hidden(AppState.currentState) ? 'hidden' : 'visible' } },
  )

  /** Last value reported by `onConnectivityChange` while subscribed. */
  let reported: boolean | undefined
  const window = createTarget((emit) => {
    let wasActive = AppState.currentState === 'active'
    const appState = AppState.addEventListener('change', (state) => {
      const active = state === 'active'
      if (active && !wasActive) emit('focus')
      wasActive = active
    })
    // What the core last saw: the app's own answer when it gives one, so the first report that
    // differs from it is a change.
    reported = options.isOnline?.()
    const connectivity = onConnectivityChange?.((online) => {
      const changed = online !== (reported ?? true)
      reported = online
      if (changed) emit(online ? 'online' : 'offline')
    })
    return {
      remove() {
        appState.remove()
        if (typeof connectivity === 'function') connectivity()
        else connectivity?.remove()
        // Unsubscribed: a value reported long ago says nothing about now.
        reported = undefined
      },
    }
  })

  const platform: Partial<Platform> = {
    document,
    window,
    isOnline: options.isOnline ?? (() => reported ?? true),
    // No EventSource on React Native, even if a library put a partial one on the global object.
    EventSource: undefined,
  }
  if (options.fetch) platform.fetch = options.fetch
  return platform
}

/**
 * An event target that holds one subscription to its source while it has listeners: `start` is
 * called with the first listener and the subscription it returns is removed after the last one.
 */
function createTarget<T extends object>(start: (emit: (type: string) => void) => { remove(): void }, extra?: T): PlatformEventTarget & T {
  const listeners = new Map<string, Set<() => void>>()
  let subscription: { remove(): void } | undefined
  const count = () => [...listeners.values()].reduce((n, set) => n + set.size, 0)
  const emit = (type: string) => {
    for (const listener of Array.from(listeners.get(type) ?? [])) listener()
  }
  const target: PlatformEventTarget = {
    addEventListener(type, listener) {
      let set = listeners.get(type)
      if (!set) listeners.set(type, (set = new Set()))
      set.add(listener)
      subscription ??= start(emit)
    },
    removeEventListener(type, listener) {
      listeners.get(type)?.delete(listener)
      if (subscription && count() === 0) {
        subscription.remove()
        subscription = undefined
      }
    },
  }
  return Object.defineProperties(target, Object.getOwnPropertyDescriptors(extra ?? {})) as PlatformEventTarget & T
}
