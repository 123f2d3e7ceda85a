// Type imports only: the core's parts come from the loader (see `CoreParts`).
import type { EventStreamError } from '../core/errors'
import type { EventStream, EventStreamOptions, STREAM_DEFAULTS } from '../core/eventStream'
import type { watchLifecycle } from '../core/lifecycle'
import type { parseEventData } from '../core/parseEvent'
import type { createStreamPosition, ReplayFilter, StreamPosition } from '../core/position'
import type { resolvePlatform } from '../core/platform'
import type { callSafely } from '../core/reportError'
import type { createListeners } from '../core/subscribable'
import type { EventStreamSnapshot, PlatformEventTarget, StreamEvent } from '../core/types'
import { crossTabGroupKey, crossTabName, groupHash } from './groupKey'
import { fromWire, isMessage, judge, toWire, type LeaderMessage, type Message, type WireError, type WireEvent, type WirePoint, type WireState, type WireStep } from './protocol'

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


/** The leader says something at least this often (ms). */
export const BEAT = 1000
/**
 * A visible follower that heard nothing from the leader for this long (plus up to one beat of
 * jitter, so two followers rarely take over at once) takes the lock over: the leader is frozen,
 * hung, or a background tab whose timers the browser throttles.
 */
export const STALE = 4000

/** Followers' `reconnect` requests the leader follows, at most one per this many ms. */
const RECONNECT_EVERY = 1000

/** Steps every tab keeps (with the position after each), so that a leader can fill a follower's gap. */
const KEPT = 1000

/**
 * One tab's member of a cross-tab group (see `crossTab` in `EventStreamOptions`), or `undefined`
 * when the options form no group (see `crossTabGroupKey`): an `EventStream`
 * whose events and status come either from a stream of its own (`tab: 'leader'`: it holds the
 * group's Web Lock, connects with its own token manager and broadcasts what its stream does), or
 * from the leader over the group's `BroadcastChannel` (`tab: 'follower'`).
 *
 * Election: every member queues for the lock; the browser grants it to one, and to the next one in
 * the queue when the holder releases it: `close()`, the tab going away or crashing. The new leader
 * starts a real stream from the last event id the group saw (`makeLeader`), so a server that
 * replays after `Last-Event-ID` fills the gap. Every tab's position is the group's (each step is
 * relayed), so the new leader resumes from exactly where the group is; a follower takes steps in
 * the leader's `seq` order and re-bases on each new term (see `rebase`).
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
  const key = invalid ? '' : crossTabGroupKey(options, defaults)
  // The host's parts, as they are now (the loader checked they exist).
  const locks = globalThis.navigator?.locks
  const Channel = globalThis.BroadcastChannel
  if (key === undefined || !locks || !Channel) return undefined
  const platform = resolvePlatform(options.platform)
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
  /** Our place in the lock's queue; aborting it leaves the queue. */
  let queued: AbortController | undefined
  let ticker: unknown
  let stopWatching: (() => void) | undefined
  let stopDormancy: (() => void) | undefined
  /** Releases the lock of a term whose group ended (held one beat longer, see `stopLeading`). */
  let lingering: (() => void) | undefined
  /** When a leader last spoke (monotonic ms), or when we started waiting for one. */
  let heardAt = 0
  let staleAfter = STALE

  // The group as this tab knows it.
  /**
   * Where the group's stream is, as far as this tab delivered it: moved by every step this tab
   * delivers, whether its own stream's (leading) or relayed (following), so that any tab that
   * takes the lead resumes from exactly where the group is and drops the server's replays of
   * events without ids as a reconnecting stream does.
   */
  const position = createStreamPosition(options.lastEventId)
  /** The `seq` of the last step taken from the leader (or of the welcome), `undefined` before joining. */
  let seq: number | undefined
  /** The last `KEPT` steps this tab took, each with the position after it. */
  let kept: Array<{ at: WirePoint; step: WireStep }> = []
  /** We miss steps and asked the leader for them (`resend`): steps wait until the answer. */
  let missing = false
  let missingAt = 0
  /** When we (leading) last reconnected for a follower's request. */
  let reconnectedAt = -Infinity
  /** After a re-base that found us ahead of the new leader: the steps we delivered already. */
  let catchUp: ReplayFilter | undefined
  /** The term of the leader we follow (or of ours), 0 before we know one. */
  let term = 0
  let leaderId: string | undefined
  /** We heard a leader since we started: only then may silence mean a stalled leader. */
  let heard = false
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

  /** While this tab leads. */
  let lead:
    | {
        stream: EventStream<string>
        release: () => void
        unsubscribe: () => void
        /** The state the group was last told, and the last event id it was sent (with an event or a state). */
        posted: WireState | undefined
        postedId: string | undefined
        /** Followers whose page is visible, by id, with when they last said so. */
        visible: Map<string, number>
        groupDocument: GroupDocument | undefined
      }
    | undefined

  function set(patch: Partial<EventStreamSnapshot<TData>>): void {
    for (const field in patch) {
      if (!Object.is((snapshot as any)[field], (patch as any)[field])) {
        snapshot = { ...snapshot, ...patch } as EventStreamSnapshot<TData>
        return listeners.notify()
      }
    }
  }

  function post(message: Partial<LeaderMessage> | Record<string, unknown>): void {
    channel?.postMessage({ g, from: me, ...(lead ? { e: term, seq: seq ?? 0 } : {}), ...message })
  }

  const hidden = () => platform.document?.visibilityState === 'hidden'

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
  function join(steal = false): void {
    queued?.abort()
    const controller = new AbortController()
    queued = controller
    const granted = (): Promise<void> | undefined => {
      if (queued !== controller || !running) return undefined
      return new Promise<void>((release) => startLeading(release))
    }
    // A steal cannot be combined with a signal; it is granted at once, and `granted` drops it when
    // this tab has left meanwhile. A lock taken from us rejects the request: follow again.
    locks.request(name, steal ? { steal: true } : { signal: controller.signal }, granted).then(undefined, () => {
      if (lead && queued === controller) stepDown()
    })
    heardAt = platform.monotonic()
    staleAfter = STALE + platform.random() * BEAT
    asked = true
    post({ t: 'hello', hidden: hidden() })
  }

  function tick(): void {
    if (lead) {
      post({ t: 'beat' })
      updateGroupVisibility()
    } else if (running && missing && platform.monotonic() - missingAt >= BEAT) {
      askForSteps()
    }
    if (!lead && running && !hidden()) {
      post({ t: 'vis', hidden: false })
      // Only a visible tab judges the silence: a hidden one's own timers are throttled too.
      // A tab that never heard a leader knows no position to resume from: it never steals.
      if (heard && platform.monotonic() - heardAt > staleAfter) join(true)
    }
    ticker = platform.setTimeout(tick, BEAT)
  }

  function onVisibility(isHidden: boolean): void {
    if (lead) updateGroupVisibility()
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
    set({ tab: 'follower' })
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
    heard = false
    // Until the election settles.
    set({ tab: 'follower' })
    stopDormancy?.()
    stopDormancy = undefined
    attach()
    stopWatching ??= watchLifecycle(platform, { visibility: onVisibility })
    if (ticker === undefined) ticker = platform.setTimeout(tick, BEAT)
    join()
  }

  /** Stops everything this tab does for the group; `ended`: the group ended, keep listening. */
  function stopRunning(ended: boolean): void {
    running = false
    queued?.abort()
    queued = undefined
    stopLeading(ended)
    stopWatching?.()
    stopWatching = undefined
    if (ticker !== undefined) platform.clearTimeout(ticker)
    ticker = undefined
    if (!ended) {
      lingering?.()
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
    seq ??= 0
    catchUp = undefined
    const groupDocument = options.pauseWhenHidden === undefined ? undefined : createGroupDocument(hidden())
    let stream: EventStream<string> | undefined
    const mine = () => !!stream && lead?.stream === stream
    stream = makeLeader({
      ...options,
      // The group's position: the stream resumes from it, and every step it delivers moves it and
      // goes to the group as it happens (id-only blocks too), so every tab's position stays the
      // leader's.
      position: relaying(position, mine),
      parse: undefined,
      onEvent(event) {
        if (!mine()) return
        deliver({ type: event.type, data: event.raw, id: event.id })
      },
      onError(error) {
        if (!mine()) return
        post({ t: 'error', error: toWire(error, errorId(error)) })
        callSafely(onErrorCallback, error)
      },
      platform: groupDocument ? { ...options.platform, document: groupDocument } : options.platform,
    })
    lead = { stream, release, unsubscribe: () => {}, posted: undefined, postedId: undefined, visible: new Map(), groupDocument }
    lead.unsubscribe = stream.subscribe(() => leaderChanged(stream))
    set({ tab: 'leader' })
    post({ t: 'welcome', to: undefined, state: wireState(stream), latest, at: point() })
    stream.connect()
  }

  const point = () => ({ id: position.id, since: position.since })
  const samePoint = (a: WirePoint, b: WirePoint) => a.id === b.id && a.since === b.since

  function keep(step: WireStep): void {
    if (kept.length >= KEPT) kept = kept.slice(KEPT / 2)
    kept.push({ at: point(), step })
  }

  /** The steps we took after `at`, or `undefined` when `at` is not among the positions we kept. */
  function stepsAfter(at: WirePoint): WireStep[] | undefined {
    if (samePoint(at, point())) return []
    for (let i = kept.length - 1; i >= 0; i--) if (samePoint(kept[i]!.at, at)) return kept.slice(i + 1).map((k) => k.step)
    return undefined
  }

  /** Asks the leader for the steps after our position; steps wait until it answers (asked again each beat). */
  function askForSteps(): void {
    missing = true
    missingAt = platform.monotonic()
    post({ t: 'resend', at: point() })
  }

  /** The position handed to our leader stream: it moves ours and tells the group each step. */
  function relaying(target: StreamPosition, mine: () => boolean): StreamPosition {
    return {
      get id() {
        return target.id
      },
      get since() {
        return target.since
      },
      // A replaced term's stream delivers nothing: its steps move nothing.
      event(raw) {
        if (!mine()) return
        target.event(raw)
        seq = (seq ?? 0) + 1
        const step: WireStep = { t: 'event', type: raw.type, data: raw.data, id: raw.lastEventId, own: raw.hasOwnId }
        keep(step)
        post(step)
        lead!.postedId = raw.lastEventId
      },
      idOnly(id) {
        if (!mine()) return
        target.idOnly(id)
        seq = (seq ?? 0) + 1
        keep({ t: 'id', id })
        post({ t: 'id', id })
        lead!.postedId = id
      },
      moveTo: (at) => target.moveTo(at),
      filterFrom: (at) => target.filterFrom(at),
      resume: () => target.resume(),
    }
  }

  function wireState(stream: EventStream<string>): WireState {
    const s = stream.getSnapshot()
    return {
      // A leader's stream is `idle` only until the `connect()` that follows its creation: the
      // group sees a connection on its way, never an `idle` between two leaders.
      status: s.status === 'idle' ? 'connecting' : s.status,
      error: s.error && toWire(s.error, errorId(s.error)),
      attempt: s.attempt,
      retryAt: s.retryAt,
      transport: s.transport,
      openCount: s.openCount,
      lastEventId: s.lastEventId,
    }
  }

  /** Our stream changed: show it, tell the group, and end the group with it. */
  function leaderChanged(stream: EventStream<string>): void {
    const current = lead
    if (current?.stream !== stream) return
    const state = wireState(stream)
    const s = stream.getSnapshot()
    mirror(state, s.error)
    set({ lastEventId: s.lastEventId })
    // Every event moves the last event id: the event message said so already.
    const posted = current.posted
    const changed =
      !posted ||
      state.lastEventId !== current.postedId ||
      posted.error?.id !== state.error?.id ||
      (['status', 'attempt', 'retryAt', 'transport', 'openCount'] as const).some((field) => posted[field] !== state[field])
    if (changed) {
      current.posted = state
      current.postedId = state.lastEventId
      post({ t: 'state', state })
    }
    if (state.status === 'closed' || state.status === 'failed') endGroup(s.error)
  }

  /**
   * Hands the connection back: our stream closes without a word to the group, the lock goes to the
   * next tab. After the group ended (`linger`), the lock is held one beat longer: the members hear
   * of the end and leave the lock's queue before anyone is granted it (and would connect again).
   */
  function stopLeading(linger = false): void {
    const current = lead
    if (!current) return
    lead = undefined
    current.unsubscribe()
    current.stream.close()
    // `leader` means holding the lock and its connection: the connection is gone (the lock, when
    // lingering, is held only so that nobody reconnects).
    set({ tab: 'follower' })
    if (!linger) return current.release()
    const timer = platform.setTimeout(() => lingering?.(), BEAT)
    lingering = () => {
      lingering = undefined
      platform.clearTimeout(timer)
      current.release()
    }
  }

  /** Another tab leads now (it took the lock over, or we saw its newer term): follow it. */
  function stepDown(): void {
    stopLeading()
    set({ tab: 'follower' })
    if (running) join()
  }

  // ---------------------------------------------------------------------------------------------
  // pauseWhenHidden: the group is hidden only when every member is

  function updateGroupVisibility(): void {
    const current = lead
    if (!current?.groupDocument) return
    const now = platform.monotonic()
    let anyVisible = !hidden()
    for (const [id, at] of current.visible) {
      if (now - at > STALE) current.visible.delete(id)
      else anyVisible = true
    }
    current.groupDocument.update(!anyVisible)
  }

  function noteVisibility(from: string, isHidden: boolean): void {
    if (!lead) return
    if (isHidden) lead.visible.delete(from)
    else lead.visible.set(from, platform.monotonic())
    updateGroupVisibility()
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
        noteVisibility(message.from, message.hidden)
        if (lead) post({ t: 'welcome', to: message.from, state: wireState(lead.stream), latest, at: point() })
        return
      case 'vis':
        return noteVisibility(message.from, message.hidden)
      case 'bye':
        lead?.visible.delete(message.from)
        return updateGroupVisibility()
      case 'reconnect': {
        // At most one a second for the whole group, whoever asks.
        const now = platform.monotonic()
        if (!lead || now - reconnectedAt < RECONNECT_EVERY) return
        reconnectedAt = now
        return lead.stream.reconnect()
      }
      case 'resend': {
        if (!lead) return
        const steps = stepsAfter(message.at)
        if (steps) return post({ t: 'replay', to: message.from, at: message.at, steps, gap: false })
        const oldest = kept[0]
        return post({ t: 'replay', to: message.from, at: oldest ? oldest.at : point(), steps: kept.slice(1).map((k) => k.step), gap: true })
      }
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
    heardAt = platform.monotonic()
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
      heard = true
      asked = false
    }
    if (!running) return
    switch (message.t) {
      case 'welcome':
        if (verdict === 'new') rebase(message)
        if (message.to === undefined) post({ t: 'vis', hidden: hidden() })
        return applyState(message.state)
      case 'state':
        return applyState(message.state)
      case 'event':
      case 'id':
        // Within a term, steps come in `seq` order: a number already taken is a repeat, a number
        // past the next one a gap (a paused tab missed messages): ask for what is missing.
        if (seq === undefined || message.seq <= seq || missing) return
        if (message.seq > seq + 1) return askForSteps()
        seq = message.seq
        return step(message)
      case 'replay':
        if (message.to !== me || !missing) return
        if (message.gap) {
          // The leader no longer holds our position: what came between is lost for this tab.
          const gap = { lastEventId: position.id, resumedAt: message.at.id }
          position.moveTo(message.at)
          kept = []
          catchUp = undefined
          if (onGap) callSafely(onGap, gap)
        } else if (!samePoint(message.at, point())) return askForSteps()
        missing = false
        for (const item of message.steps) step(item)
        seq = message.seq
        return
      case 'error':
        callSafely(onErrorCallback, rebuilt(message.error)!)
        return
    }
  }

  /**
   * A new term (or this tab joining): the leader's numbering starts at the welcome's `seq`, from
   * the group position `at`. A tab at `at` goes on; one ahead of it (it delivered steps the new
   * leader has not: the old leader's last messages) drops the steps it already delivered as the
   * new leader relays them again; one that joins, or is behind, starts from `at`.
   */
  function rebase(message: { seq: number; at: WirePoint; latest: WireEvent | undefined }): void {
    const { at } = message
    catchUp = undefined
    missing = false
    const fresh = seq === undefined
    seq = message.seq
    if (fresh) {
      position.moveTo(at)
      kept = []
      if (message.latest) deliver(message.latest, true)
    } else if (!samePoint(at, point())) {
      const filter = position.filterFrom(at)
      if (filter) catchUp = filter
      // Behind the new leader (or too far ahead to tell): fill the gap from what it kept.
      else askForSteps()
    }
    set({ lastEventId: position.id })
  }

  /** One step relayed by the leader: moves our position and, for an event, delivers it. */
  function step(message: WireStep): void {
    if (message.t === 'id') {
      if (replayed(() => catchUp!.isReplayedId(message.id))) return
      position.idOnly(message.id)
      keep({ t: 'id', id: message.id })
      return set({ lastEventId: message.id })
    }
    const raw = { type: message.type, data: message.data, lastEventId: message.id, hasOwnId: message.own }
    if (replayed(() => catchUp!.isReplay(raw))) return
    position.event(raw)
    keep({ t: 'event', type: raw.type, data: raw.data, id: raw.lastEventId, own: raw.hasOwnId })
    deliver({ type: raw.type, data: raw.data, id: raw.lastEventId })
  }

  /** True for a step we delivered before a re-base (see `rebase`). */
  function replayed(check: () => boolean): boolean {
    if (catchUp && !catchUp.caughtUp && check()) return true
    catchUp = undefined
    return false
  }

  /** A newer term than we can accept on our own: ask its leader for a welcome (once a beat). */
  function askForWelcome(): void {
    const now = platform.monotonic()
    if (!running || now - askedAt < BEAT) return
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

/** A document for the leader's stream whose visibility is the group's: hidden when every member is. */
interface GroupDocument extends PlatformEventTarget {
  visibilityState: 'visible' | 'hidden'
  update(hidden: boolean): void
}

function createGroupDocument(hidden: boolean): GroupDocument {
  const listeners = new Set<() => void>()
  const document: GroupDocument = {
    visibilityState: hidden ? 'hidden' : 'visible',
    addEventListener: (type, listener) => void (type === 'visibilitychange' && listeners.add(listener)),
    removeEventListener: (_type, listener) => void listeners.delete(listener),
    update(isHidden) {
      const state = isHidden ? 'hidden' : 'visible'
      if (document.visibilityState === state) return
      document.visibilityState = state
      for (const listener of Array.from(listeners)) listener()
    },
  }
  return document
}
