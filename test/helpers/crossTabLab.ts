// Cross-tab groups on the virtual clock: "tabs" of one Node process, each a `createCrossTabStream`
// with a platform of its own on one shared virtual clock (test/helpers/fakePlatform.ts), an
// in-memory BroadcastChannel and Web Locks on that platform whose deliveries are timers of that clock, and a leader
// stream on a mock transport against one replaying log (ids on some events, id-only blocks). A tab
// can stall, as a page paused in the debugger does: its timers, lock grants and network wait until
// it runs again, and what the channel says meanwhile is lost to it (Chromium drops it too).
import {
  callSafely,
  createEventStreamWith,
  createListeners,
  createStreamPosition,
  EventStreamError,
  idleSnapshot,
  parseEventData,
  type EventStream,
  type EventStreamOptions,
  type Platform,
  type StreamEvent,
  type StreamGap,
} from 'use-event-stream/core'
import { createMockTransport, type MockConnection } from 'use-event-stream/testing'
import { STREAM_DEFAULTS } from '../../src/core/eventStream'
import { watchLifecycle } from '../../src/core/lifecycle'
import { resolvePlatform } from '../../src/core/platform'
import { createCrossTabStream, type CoreParts, type CrossTabPlatform } from '../../src/crossTab/crossTabStream'
import type { CrossTabTimings } from '../../src/crossTab/election'
import { createFakeLocks } from './fakeLocks'
import { CountingTarget, createFakePlatform } from './fakePlatform'
import { mulberry32 } from './random'

const CORE: CoreParts = [EventStreamError, resolvePlatform, callSafely, createListeners, watchLifecycle, STREAM_DEFAULTS, parseEventData, createStreamPosition]

/** A step of the server's log: an event (data = its number) or an id-only block. */
type Step = { data: string; id: string | undefined } | { data: undefined; id: string }

export interface LabTab {
  readonly name: string
  readonly stream: EventStream<string>
  readonly events: Array<StreamEvent<string>>
  readonly gaps: StreamGap[]
  readonly document: CountingTarget
  readonly window: CountingTarget
  /** Stops the tab's JavaScript (timers, lock grants, network, channel) until `resume()`. */
  stall(): void
  resume(): void
  readonly stalled: boolean
  /** The page is gone (closed or crashed): its lock is released, it hears and says nothing. */
  crash(): void
}

export function createLab(options: { timings?: Partial<CrossTabTimings>; seed?: number } = {}) {
  const clock = createFakePlatform()
  const timings = { beat: 100, stale: 400, ...options.timings }
  const random = mulberry32(options.seed ?? 1)
  const locks = createFakeLocks((fn) => void clock.platform.setTimeout(fn, 0))
  const channels = new Set<{ name: string; tab: TabState; deliver(data: unknown): void }>()
  const steps: Step[] = []
  const live = new Map<MockConnection, TabState>()
  let published = 0
  let streamRequests = 0
  /** New connections are answered 204 while set. */
  let refuse = false

  interface TabState {
    stalled: boolean
    gone: boolean
    /** What waits for the tab to run again. */
    waiting: Array<() => void>
    /** Releases the locks the tab holds when it is gone. */
    onGone: Array<() => void>
  }

  const inTab = (tab: TabState, fn: () => void) => {
    if (tab.gone) return
    if (tab.stalled) tab.waiting.push(fn)
    else fn()
  }

  const send = (connection: MockConnection, step: Step) => {
    if (!connection.active) return
    if (step.data === undefined) connection.id(step.id)
    else connection.emit({ data: step.data, id: step.id })
  }

  function publish(options: { id?: boolean } = {}): string {
    const data = String(++published)
    const step: Step = { data, id: options.id ? `e${published}` : undefined }
    steps.push(step)
    for (const [connection, tab] of live) inTab(tab, () => send(connection, step))
    return data
  }

  function idOnly(): string {
    const step: Step = { data: undefined, id: `b${published}` }
    steps.push(step)
    for (const [connection, tab] of live) inTab(tab, () => send(connection, step))
    return step.id
  }

  let count = 0
  function tab(extra: Partial<EventStreamOptions<string>> = {}): LabTab {
    const name = `tab${++count}`
    const state: TabState = { stalled: false, gone: false, waiting: [], onGone: [] }
    const window = new CountingTarget()
    const document = new CountingTarget()
    const own = mulberry32(Math.floor(random() * 2 ** 32))
    // The host's parts as this tab sees them: deliveries to a stalled tab wait (locks) or are lost (channel).
    class Channel {
      onmessage: ((event: { data: unknown }) => void) | null = null
      private readonly entry
      constructor(readonly name: string) {
        this.entry = {
          name,
          tab: state,
          deliver: (data: unknown) => {
            if (!state.stalled && !state.gone) this.onmessage?.({ data })
          },
        }
        channels.add(this.entry)
      }
      postMessage(data: unknown): void {
        if (state.gone || state.stalled) return
        const copy = structuredClone(data)
        for (const other of channels) if (other !== this.entry && other.name === this.name) clock.platform.setTimeout(() => other.deliver(copy), 0)
      }
      close(): void {
        channels.delete(this.entry)
      }
    }
    const tabLocks = {
      request: (lockName: string, opts: { signal?: AbortSignal; steal?: boolean }, callback: (lock: unknown) => unknown) =>
        locks.request(lockName, opts, (lock) =>
          state.gone
            ? undefined
            : new Promise((resolve, reject) => {
                state.onGone.push(() => resolve(undefined))
                inTab(state, () => Promise.resolve().then(() => callback(lock)).then(resolve, reject))
              }),
        ),
    }
    const transport = createMockTransport('fetch')
    transport.onConnect((connection) => {
      streamRequests++
      clock.platform.setTimeout(
        () =>
          inTab(state, () => {
            if (!connection.active) return
            if (refuse) return void connection.noContent()
            connection.open()
            const from = connection.lastEventId ? steps.findIndex((s) => s.id === connection.lastEventId) : -1
            if (from >= 0) for (const step of steps.slice(from + 1)) send(connection, step)
            live.set(connection, state)
          }),
        5,
      )
    })
    const platform: CrossTabPlatform = {
      now: clock.platform.now,
      monotonic: clock.platform.monotonic,
      setTimeout: (fn, ms) => clock.platform.setTimeout(() => inTab(state, fn), ms),
      clearTimeout: clock.platform.clearTimeout,
      random: own,
      window,
      document,
      isOnline: () => true,
      crossTabTimings: timings,
      // The tab's locks and channel come with its platform: the host's globals are never read.
      locks: tabLocks as unknown as LockManager,
      BroadcastChannel: Channel as unknown as typeof BroadcastChannel,
    }
    const events: Array<StreamEvent<string>> = []
    const gaps: StreamGap[] = []
    const options: EventStreamOptions<string> = {
      url: 'https://app.example/stream',
      crossTab: { scope: 'alice' },
      transport: 'fetch',
      reconnect: { initialDelay: 50, maxDelay: 50 },
      platform,
      onEvent: (event) => events.push(event),
      onGap: (gap) => gaps.push(gap),
      ...extra,
    }
    const stream = createCrossTabStream(options, { ...idleSnapshot<string>('fetch', undefined), tab: 'follower' }, (leaderOptions) => createEventStreamWith(transport, leaderOptions), CORE)!
    return {
      name,
      stream,
      events,
      gaps,
      document,
      window,
      get stalled() {
        return state.stalled
      },
      stall() {
        state.stalled = true
      },
      resume() {
        state.stalled = false
        for (const fn of state.waiting.splice(0)) fn()
      },
      crash() {
        state.gone = true
        for (const entry of Array.from(channels)) if (entry.tab === state) channels.delete(entry)
        for (const [connection, tab] of live) if (tab === state) live.delete(connection)
        // The browser releases a dead page's locks.
        for (const release of state.onGone.splice(0)) release()
      },
    }
  }

  /** A same-origin script on the channel `name`: hears what the tabs post and posts what it likes. */
  function intruder(name: string) {
    const heard: Array<Record<string, any>> = []
    const state: TabState = { stalled: false, gone: false, waiting: [], onGone: [] }
    const entry = { name, tab: state, deliver: (data: unknown) => void heard.push(data as Record<string, any>) }
    channels.add(entry)
    return {
      heard,
      post(message: object) {
        for (const other of channels) if (other !== entry && other.name === name) clock.platform.setTimeout(() => other.deliver(structuredClone(message)), 0)
      },
    }
  }

  return {
    clock,
    timings,
    tab,
    intruder,
    publish,
    idOnly,
    locks,
    get streamRequests() {
      return streamRequests
    },
    /** Answer new connections 204 (the server ends the stream) while true. */
    set refuse(value: boolean) {
      refuse = value
    },
    /** Every event published so far (their data), in order. */
    get sent() {
      return steps.filter((s) => s.data !== undefined).map((s) => s.data!)
    },
    advance: (ms: number) => clock.advance(ms),
  }
}

/** Lost and duplicated in `received` against `sent` (from `from` on). */
export function ledgerOf(sent: readonly string[], received: readonly string[]) {
  const seen = new Set<string>()
  let duplicated = 0
  for (const data of received) {
    if (seen.has(data)) duplicated++
    seen.add(data)
  }
  return { lost: sent.filter((d) => !seen.has(d)).length, duplicated }
}

export type { Platform }
