// Type imports only: the core's parts come from the loader (see `CoreParts`).
import type { EventStreamError } from '../core/errors'
import type { EventStream, EventStreamOptions, STREAM_DEFAULTS } from '../core/eventStream'
import type { watchLifecycle } from '../core/lifecycle'
import type { parseEventData } from '../core/parseEvent'
import type { createStreamPosition } from '../core/position'
import type { resolvePlatform } from '../core/platform'
import type { callSafely } from '../core/reportError'
import type { createListeners } from '../core/subscribable'
import type { EventStreamSnapshot, Platform, StreamEvent } from '../core/types'
import { createElection, DEFAULT_TIMINGS, type CrossTabTimings } from './election'
import { createFollower } from './follower'
import { crossTabGroupKey, crossTabName, groupHash } from './groupKey'
import { createGroupVisibility } from './groupVisibility'
import { startLeaderTerm, type LeaderTerm } from './leader'
import { fromWire, judge, type LeaderMessage, type Message, type WireError, type WireEvent, type WireState } from './protocol'
import { createStepLog, KEPT, pointOf } from './steps'
import { isMessage } from './validate'

/**
 * The core's parts this chunk uses, handed over by the loader (`./lazy`) rather than imported, so
 * that splitting this chunk off does not make bundlers split the core off too.
 */
export type CoreParts = readonly [
  EventStreamError: typeof EventStreamError,
  resolvePlatform: typeof resolvePlatform,
  callSafely: typeof callSafely,
  createListeners: typeof createListeners,
  watchLifecycle: typeof watchLifecycle,
  defaults: typeof STREAM_DEFAULTS,
  parseEventData: typeof parseEventData,
  createStreamPosition: typeof createStreamPosition,
]


export type { CrossTabTimings }

/**
 * A platform (see `EventStreamOptions.platform`) may carry the group's timings: tests run the
 * protocol on a virtual clock with short ones.
 */
export type CrossTabPlatform = Partial<Platform> & { crossTabTimings?: Partial<CrossTabTimings> }

/**
 * One tab's member of a cross-tab group (see `crossTab` in `EventStreamOptions`), or `undefined`
 * when the options form no group (see `crossTabGroupKey`): an `EventStream` whose events and status
 * come either from a stream of its own (`tab: 'leader'`: it holds the group's Web Lock, connects
 * with its own token manager and relays what its stream does, see `./leader`), or from the leader
 * over the group's `BroadcastChannel` (`tab: 'follower'`, see `./follower`). Who leads is the
 * election's (`./election`); the messages and which leader to believe, the protocol's
 * (`./protocol`, `./validate`).
 *
 * Every tab's position is the group's (each step is relayed), so a new leader resumes from exactly
 * where the group is; a follower takes steps in the leader's `seq` order and re-bases on each new
 * term. This file composes those parts: the tab's snapshot, its membership (channel, ticker,
 * lifecycle, the back/forward cache) and the public surface.
 */
export function createCrossTabStream<TData>(
  options: EventStreamOptions<TData>,
  initial: EventStreamSnapshot<TData>,
  makeLeader: (options: EventStreamOptions<string>) => EventStream<string>,
  core: CoreParts,
): EventStream<TData> | undefined {
  const [EventStreamError, resolvePlatform, callSafely, createListeners, watchLifecycle, defaults, parseEventData, createStreamPosition] = core
  const scope = options.crossTab && options.crossTab.scope
  // Bad input: the stream fails at `connect()` with a typed error, as it does for a bad url.
  const invalid = typeof scope !== 'string' || !scope
  const platform = resolvePlatform(options.platform)
  const key = invalid ? '' : crossTabGroupKey(options, defaults, platform.location?.href)
  // The host's parts, from the platform only (the loader checked it has them).
  const { locks, BroadcastChannel: HostChannel } = platform
  if (key === undefined || !locks || !HostChannel) return undefined
  /** The checked constructor, as the functions below see it. */
  const Channel = HostChannel
  const timings: CrossTabTimings = { ...DEFAULT_TIMINGS, ...(options.platform as CrossTabPlatform | undefined)?.crossTabTimings }
  const { beat } = timings
  const name = crossTabName(key)
  /** What names the group in every message (the key hashed: never the url). */
  const g = groupHash(key)
  const me = platform.random().toString(36).slice(2) + platform.now().toString(36)
  const { parse, onEvent: onEventCallback, onError: onErrorCallback, onGap } = options
  const listeners = createListeners()
  let snapshot = initial

  /** `connect()` was called and neither `close()` nor the group's end came since. */
  let running = false
  /** The group ended (`closed` by the server, or `failed`): still listening, so a restart by any tab brings this one back. */
  let ended = false
  let channel: BroadcastChannel | undefined
  let ticker: unknown
  let stopWatching: (() => void) | undefined
  let stopDormancy: (() => void) | undefined
  /** Releases the lock of a term whose group ended (held one beat longer, see `LeaderTerm.stop`). */
  let lingering: (() => void) | undefined
  /** While this tab leads. */
  let lead: LeaderTerm | undefined

  // The group as this tab knows it.
  /**
   * Where the group's stream is, as far as this tab delivered it: moved by every step this tab
   * delivers, whether its own stream's (leading) or relayed (following), so that any tab that
   * takes the lead resumes from exactly where the group is and drops the server's replays of
   * events without ids as a reconnecting stream does.
   */
  const position = createStreamPosition(options.lastEventId)
  const log = createStepLog(position)
  /** The term of the leader we follow (or of ours), 0 before we know one. */
  let term = 0
  let leaderId: string | undefined
  /** We asked for a welcome (`hello`) and have not had one since. */
  let asked = false
  let askedAt = -Infinity
  /** Connections opened under earlier leaders, so `openCount` never goes back. */
  let openedBefore = 0
  let leaderOpenCount = 0
  let latest: WireEvent | undefined
  let knownError: { id: string; error: EventStreamError } | undefined
  /** Our leader stream's errors, numbered for the wire. */
  const errorIds = new WeakMap<EventStreamError, string>()
  let errorCount = 0
  const errorId = (error: EventStreamError) => errorIds.get(error) ?? (errorIds.set(error, `${me}.${++errorCount}`), errorIds.get(error)!)

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    for (const field in patch) {
      if (!Object.is((snapshot as any)[field], (patch as any)[field])) {
        snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
        return listeners.notify()
      }
    }
  }

  function post(message: object): void {
    channel?.postMessage({ g, from: me, ...(lead ? { e: term, seq: follower.seq ?? 0 } : {}), ...message })
  }

  const hidden = () => platform.document?.visibilityState === 'hidden'

  const follower = createFollower({
    position,
    log,
    deliver,
    showId: (id) => set({ lastEventId: id }),
    ask: (at) => post({ t: 'resend', at }),
    gap: (gap) => void (onGap && callSafely(onGap, gap)),
    monotonic: () => platform.monotonic(),
    beat,
  })

  const election = createElection({
    locks,
    name,
    platform,
    timings,
    granted: startLeading,
    wanted: () => running,
    // Another tab took the lock over: follow it.
    lost: () => void (lead && stepDown()),
  })

  // ---------------------------------------------------------------------------------------------
  // Events, as the leader's stream dispatched them, through this tab's own `parse`

  /** Delivers one event (`quiet`: the group's latest event shown to a tab that joins: no `onEvent`, not counted). */
  function deliver(raw: WireEvent, quiet = false): void {
    latest = raw
    const { type, data: text, id } = raw
    const parsed = parseEventData(parse, type, text, id)
    if (parsed.error) {
      // As in the core: the error goes to `onError`, the snapshot moves past the event.
      set({ lastEventId: id })
      if (!quiet) callSafely(onErrorCallback, parsed.error)
      return
    }
    const data = parsed.data
    const event: StreamEvent<TData> = { type, data, raw: text, id, receivedAt: platform.now() }
    if (!quiet) callSafely(onEventCallback, event)
    set({ data, lastEvent: event, lastEventId: id, eventCount: snapshot.eventCount + (quiet ? 0 : 1) })
  }

  /** The connection fields of a leader's state (ours or one from the wire). */
  function mirror(state: WireState, error: EventStreamError | undefined): void {
    leaderOpenCount = state.openCount
    set({
      status: state.status,
      error,
      attempt: state.attempt,
      retryAt: state.retryAt,
      transport: state.transport,
      openCount: openedBefore + state.openCount,
    } as Partial<EventStreamSnapshot<TData>>)
  }

  /** The same error object for every message about one error. */
  function rebuilt(error: WireError | undefined): EventStreamError | undefined {
    if (!error) return undefined
    if (knownError?.id !== error.id) knownError = { id: error.id, error: fromWire(error, EventStreamError) }
    return knownError.error
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  function attach(): void {
    if (channel) return
    channel = new Channel(name)
    channel.onmessage = (event) => receive(event.data)
  }

  function detach(): void {
    channel?.close()
    channel = undefined
  }

  /** Queues for the lock (or takes it from a silent leader) and asks the leader for the group's state. */
  function join(): void {
    election.join()
    asked = true
    post({ t: 'hello', hidden: hidden() })
  }

  function tick(): void {
    if (lead) {
      post({ t: 'beat' })
      lead.visibility?.update(hidden())
    } else if (running) {
      follower.tick()
      if (!hidden()) {
        post({ t: 'vis', hidden: false })
        // Only a visible tab judges the silence: a hidden one's own timers are throttled too.
        election.judgeSilence()
      }
    }
    ticker = platform.setTimeout(tick, beat)
  }

  function onVisibility(isHidden: boolean): void {
    if (lead) lead.visibility?.update(isHidden)
    else post({ t: 'vis', hidden: isHidden })
  }

  // ---------------------------------------------------------------------------------------------
  // The back/forward cache: a page kept there is frozen. It leaves the group while it is (a leader
  // hands the lock over at once instead of starving the group until a follower takes over; its
  // channel is closed, so no message evicts it from the cache) and joins again when it is shown.

  let stopPageWatch: (() => void) | undefined
  /** What this tab was doing when its page went into the cache. */
  let away: 'running' | 'ended' | undefined

  function watchPage(): void {
    const page = platform.window
    if (!page || stopPageWatch) return
    const hide = (event?: { persisted?: boolean }) => void (event?.persisted && leavePage())
    const show = (event?: { persisted?: boolean }) => void (event?.persisted && backToPage())
    page.addEventListener('pagehide', hide)
    page.addEventListener('pageshow', show)
    stopPageWatch = () => {
      page.removeEventListener('pagehide', hide)
      page.removeEventListener('pageshow', show)
      stopPageWatch = undefined
    }
  }

  function leavePage(): void {
    if (!running && !ended) return
    away = running ? 'running' : 'ended'
    if (running) post({ t: 'bye' })
    stopRunning(false)
  }

  function backToPage(): void {
    const was = away
    away = undefined
    if (was === 'running') startRunning()
    else if (was === 'ended') {
      ended = true
      attach()
    }
  }

  function startRunning(): void {
    watchPage()
    running = true
    ended = false
    election.reset()
    // Until the election settles.
    set({ tab: 'follower' })
    stopDormancy?.()
    stopDormancy = undefined
    attach()
    stopWatching ??= watchLifecycle(platform, { visibility: onVisibility })
    if (ticker === undefined) ticker = platform.setTimeout(tick, beat)
    join()
  }

  /** Stops everything this tab does for the group; `ended`: the group ended, keep listening. */
  function stopRunning(ended: boolean): void {
    running = false
    election.leave()
    stopLeading(ended)
    stopWatching?.()
    stopWatching = undefined
    if (ticker !== undefined) platform.clearTimeout(ticker)
    ticker = undefined
    if (!ended) {
      lingering?.()
      lingering = undefined
      detach()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Leading

  function startLeading(release: () => void): void {
    // A new term: numbered past every term this tab has seen, and the previous leader's
    // connections added to what `openCount` has counted.
    term++
    leaderId = me
    openedBefore += leaderOpenCount
    leaderOpenCount = 0
    follower.lead()
    lead = startLeaderTerm(
      {
        options: { ...options, onEvent: undefined, onError: undefined, onGap } as EventStreamOptions<string>,
        makeLeader,
        position,
        log,
        follower,
        post,
        deliver,
        reportError: (error) => callSafely(onErrorCallback, error),
        show(state, error, lastEventId) {
          mirror(state, error)
          set({ lastEventId })
        },
        end: endGroup,
        errorId,
        platform,
        beat,
        visibility: options.pauseWhenHidden === undefined ? undefined : createGroupVisibility(platform, hidden(), timings.stale),
      },
      release,
    )
    set({ tab: 'leader' })
    post(welcome(lead, undefined))
    lead.stream.connect()
  }

  const welcome = (term: LeaderTerm, to: string | undefined) => ({ t: 'welcome', to, state: term.state(), latest, at: pointOf(position) })

  /** Ends our term (see `LeaderTerm.stop`); `leader` means holding the lock and its connection. */
  function stopLeading(linger = false): void {
    const current = lead
    if (!current) return
    lead = undefined
    const release = current.stop(linger)
    if (release) lingering = release
    set({ tab: 'follower' })
  }

  /** Another tab leads now (it took the lock over, or we saw its newer term): follow it. */
  function stepDown(): void {
    stopLeading()
    if (running) join()
  }

  // ---------------------------------------------------------------------------------------------
  // The end of the group, and of this tab's part in it

  /**
   * The leader's stream ended (`closed` by a 204, or `failed`): every member ends the same way and
   * leaves the lock's queue, so nobody reconnects. They keep listening: a `connect()` or
   * `reconnect()` in any tab starts the group again, and the others come back with it. An end
   * caused by the token endpoint refusing the user (`unauthorized`) also comes back by itself when
   * this tab's token manager has a token again (a sign-in), as a stream on its own does.
   */
  function endGroup(error: EventStreamError | undefined): void {
    stopRunning(true)
    ended = true
    const tokens = options.tokens
    if (tokens && error?.kind === 'unauthorized' && !stopDormancy) {
      stopDormancy = tokens.subscribe(() => {
        if (tokens.getSnapshot().status === 'valid') connect()
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The channel

  function receive(message: unknown): void {
    if (!isMessage(message, g, KEPT) || message.from === me) return
    switch (message.t) {
      case 'hello':
        lead?.visibility?.note(message.from, message.hidden)
        if (lead) post(welcome(lead, message.from))
        return
      case 'vis':
        return lead?.visibility?.note(message.from, message.hidden)
      case 'bye':
        return lead?.visibility?.forget(message.from)
      case 'reconnect':
        return lead?.reconnectFor()
      case 'resend':
        return lead?.resend(message.from, message.at)
    }
    fromLeader(message as Message & LeaderMessage)
  }

  function fromLeader(message: Message & LeaderMessage): void {
    // An ended group is started again by whichever tab connects first: its term may be any.
    const verdict = judge({ term, leader: leaderId, free: term === 0 || ended, asked }, message, me)
    if (lead) {
      // Only a successor's welcome replaces us (a steal also rejects our lock request).
      if (verdict !== 'new' || message.e <= term) return
      stepDown()
    }
    if (verdict === 'ignore') return
    if (verdict === 'ask') return askForWelcome()
    if (verdict === 'new') {
      if (ended) {
        // The group was started again by another tab.
        if (isEnd((message as { state: WireState }).state)) return
        startRunning()
      }
      term = message.e
      if (message.from !== leaderId) {
        openedBefore += leaderOpenCount
        leaderOpenCount = 0
      }
      leaderId = message.from
      asked = false
    }
    election.heard()
    if (!running) return
    switch (message.t) {
      case 'welcome':
        if (verdict === 'new') follower.rebase(message)
        if (message.to === undefined) post({ t: 'vis', hidden: hidden() })
        return applyState(message.state)
      case 'state':
        return applyState(message.state)
      case 'event':
      case 'id':
        return follower.take(message)
      case 'replay':
        if (message.to === me) follower.replay(message)
        return
      case 'error':
        callSafely(onErrorCallback, rebuilt(message.error)!)
        return
    }
  }

  /** A newer term than we can accept on our own: ask its leader for a welcome (once a beat). */
  function askForWelcome(): void {
    const now = platform.monotonic()
    if (!running || now - askedAt < beat) return
    askedAt = now
    asked = true
    post({ t: 'hello', hidden: hidden() })
  }

  function applyState(state: WireState): void {
    mirror(state, rebuilt(state.error))
    if (isEnd(state)) endGroup(snapshot.error)
  }

  // ---------------------------------------------------------------------------------------------
  // The public surface

  function connect(): void {
    if (running) return
    if (invalid) {
      const error = new EventStreamError('invalid-request', 'crossTab.scope must be a non-empty string, such as the signed-in user\'s id')
      set({ status: 'failed', error } as Partial<EventStreamSnapshot<TData>>)
      return callSafely(onErrorCallback, error)
    }
    set({ status: 'connecting', attempt: 0, error: undefined, retryAt: undefined } as Partial<EventStreamSnapshot<TData>>)
    startRunning()
  }

  return {
    connect,
    close() {
      stopPageWatch?.()
      away = undefined
      stopDormancy?.()
      stopDormancy = undefined
      if (running) post({ t: 'bye' })
      stopRunning(false)
      ended = false
      if (snapshot.status !== 'idle') set({ status: 'closed', retryAt: undefined } as Partial<EventStreamSnapshot<TData>>)
    },
    reconnect() {
      if (!running) return connect()
      if (lead) lead.stream.reconnect()
      else post({ t: 'reconnect' })
    },
    getSnapshot: () => snapshot,
    subscribe: listeners.subscribe,
  }
}

const isEnd = (state: WireState) => state.status === 'closed' || state.status === 'failed'
