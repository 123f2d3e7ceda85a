// `crossTab` in Node: the pure parts (the group key, the sequence that drops what two leaders both
// sent), `'solo'` where the host lacks Web Locks or BroadcastChannel, and the group protocol
// itself with streams of one process as the tabs (Node's own BroadcastChannel, and an in-process
// `navigator.locks`: test/helpers/fakeLocks.ts) against a real server on 127.0.0.1. The Chromium
// suite (test/e2e/cross-tab.test.ts) runs it in real tabs.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createEventStream,
  createTokenManager,
  EventStreamError,
  fetchTokenFrom,
  type EventStream,
  type EventStreamOptions,
  type StreamEvent,
  type Transport,
} from 'use-event-stream/core'
import { STREAM_DEFAULTS } from '../../src/core/eventStream'
import { crossTabGroupKey, crossTabName } from '../../src/crossTab/groupKey'
import { judge, type Known } from '../../src/crossTab/protocol'
import { createStreamPosition } from '../../src/core/position'
import { createStepLog } from '../../src/crossTab/steps'
import { CountingTarget } from '../helpers/fakePlatform'
import { createFakeLocks } from '../helpers/fakeLocks'
import { startReplayServer, type ReplayServer } from '../helpers/replayServer'
import { sleep, until } from '../helpers/wait'

const key = (options: Partial<EventStreamOptions<unknown>>, base = 'https://app.example/page') =>
  crossTabGroupKey({ url: '/api/stream', crossTab: { scope: 'alice' }, ...options }, STREAM_DEFAULTS, base)

describe('the group key', () => {
  it('is scope, url without the token parameter, sorted event types and the transport option as given', () => {
    expect(key({})).toBe(JSON.stringify(['alice', 'https://app.example/api/stream', ['message'], 'auto', 'GET', undefined]))
    // The url is resolved against the page, its token parameter and fragment do not count.
    expect(key({ url: 'https://app.example/api/stream?token=abc#x' })).toBe(key({}))
    expect(key({ url: '/api/stream?access=abc', tokenQueryParam: 'access' })).toBe(key({}))
    expect(key({ url: '/api/stream?channel=a' })).not.toBe(key({}))
    expect(key({}, 'https://other.example/')).not.toBe(key({}))
    // Event types as a set.
    expect(key({ events: ['b', 'a', 'a'] })).toBe(key({ events: ['a', 'b'] }))
    expect(key({ events: ['a'] })).not.toBe(key({ events: ['a', 'b'] }))
    // 'auto' is the default; 'fetch' is another group even where 'auto' would pick fetch.
    expect(key({ transport: 'auto' })).toBe(key({}))
    expect(key({ transport: 'fetch' })).not.toBe(key({ transport: 'auto' }))
    // Another scope is another group.
    expect(key({ crossTab: { scope: 'bob' } })).not.toBe(key({}))
  })

  it('a request body and method are part of the group: tabs subscribing with different filters never share', () => {
    expect(key({ method: 'POST', body: { topics: ['a'] } })).not.toBe(key({ method: 'POST', body: { topics: ['b'] } }))
    expect(key({ method: 'post', body: { topics: ['a'] } })).toBe(key({ method: 'POST', body: { topics: ['a'] } }))
    expect(key({ method: 'POST' })).not.toBe(key({}))
    // A body function cannot be compared across tabs: such a stream shares nothing.
    expect(key({ method: 'POST', body: () => ({ topics: ['a'] }) })).toBeUndefined()
  })

  it('options outside the key (headers, credentials, reconnect settings) do not split a group', () => {
    expect(key({ headers: { 'x-a': '1' }, withCredentials: true, reconnect: { maxDelay: 1 }, idleTimeout: 5, lastEventId: '7' })).toBe(key({}))
  })

  it('is undefined (no sharing) without crossTab, for a Transport object, and for a url that does not parse', () => {
    const transport: Transport = { name: 'custom', connect: () => () => {} }
    expect(key({ crossTab: false })).toBeUndefined()
    expect(key({ crossTab: undefined })).toBeUndefined()
    expect(key({ transport })).toBeUndefined()
    expect(key({ url: 'http://[::1' })).toBeUndefined()
    // A relative url with no page to resolve it against (Node, workers).
    expect(crossTabGroupKey({ url: '/api/stream', crossTab: { scope: 'alice' } }, STREAM_DEFAULTS)).toBeUndefined()
  })
})

describe('terms: which leader a tab follows', () => {
  const known = (term: number, leader: string | undefined, more: Partial<Known> = {}): Known => ({ term, leader, free: false, asked: false, ...more })
  const msg = (t: string, e: number, from: string, to?: string) => ({ t, e, from, to })

  it("a tab that knows no leader takes the first welcome addressed to it or to everyone, and nothing else", () => {
    const none = known(0, undefined, { free: true })
    expect(judge(none, msg('welcome', 7, 'a'), 'me')).toBe('new')
    expect(judge(none, msg('welcome', 7, 'a', 'me'), 'me')).toBe('new')
    expect(judge(none, msg('welcome', 7, 'a', 'other'), 'me')).toBe('ignore')
    // Steps before a welcome cannot be placed: ask for one.
    expect(judge(none, msg('event', 7, 'a'), 'me')).toBe('ask')
  })

  it("a follower takes its leader's messages, a successor's welcome, and ignores a replaced leader", () => {
    const k = known(3, 'a')
    expect(judge(k, msg('event', 3, 'a'), 'me')).toBe('current')
    // Another sender in our term (two tabs took over at once): ask who holds the lock.
    expect(judge(k, msg('event', 3, 'b'), 'me')).toBe('ask')
    expect(judge(k, msg('event', 2, 'a'), 'me')).toBe('ignore')
    expect(judge(k, msg('welcome', 4, 'b'), 'me')).toBe('new')
    // Its first step arrived before its welcome (or the welcome was missed): ask for one.
    expect(judge(k, msg('event', 4, 'b'), 'me')).toBe('ask')
    // Two tabs took over in the same term: the one that answers our hello leads.
    expect(judge(k, msg('welcome', 3, 'b'), 'me')).toBe('ask')
    expect(judge(known(3, 'a', { asked: true }), msg('welcome', 3, 'b', 'me'), 'me')).toBe('new')
  })

  it("a tab whose group ended takes the welcome of whichever tab starts it again, whatever its term", () => {
    expect(judge(known(5, 'a', { free: true }), msg('welcome', 1, 'newcomer'), 'me')).toBe('new')
    expect(judge(known(5, 'a'), msg('welcome', 1, 'newcomer'), 'me')).toBe('ignore')
  })

  it('a term no tab of the group could have reached, or our own term from another sender, moves nobody unless it answers our own hello', () => {
    expect(judge(known(3, 'a'), msg('welcome', 1e9, 'forger'), 'me')).toBe('ask')
    expect(judge(known(3, 'a'), msg('event', 1e9, 'forger'), 'me')).toBe('ask')
    expect(judge(known(3, 'a'), msg('welcome', 1e9, 'forger', 'me'), 'me')).toBe('ask')
    expect(judge(known(3, 'a', { asked: true }), msg('welcome', 6, 'c', 'me'), 'me')).toBe('new')
  })
})

describe('re-basing on a new leader (the step log\'s filterAfter)', () => {
  const event = (data: string, lastEventId: string | undefined, hasOwnId?: boolean) => ({ type: 'message', data, lastEventId, hasOwnId })
  /** A tab's position and step log, moved together as a tab moves them. */
  function tab() {
    const position = createStreamPosition()
    const log = createStepLog(position)
    return {
      position,
      log,
      event(raw: ReturnType<typeof event>) {
        position.event(raw)
        log.keep({ t: 'event', type: raw.type, data: raw.data, id: raw.lastEventId, own: raw.hasOwnId })
      },
      idOnly(id: string) {
        position.idOnly(id)
        log.keep({ t: 'id', id })
      },
    }
  }

  it('a follower ahead of the new leader drops exactly the steps it delivered after the leader\'s point', () => {
    const t = tab()
    t.event(event('a', '1', true))
    t.event(event('b', '1', false))
    const leaderPoint = { id: t.position.id, since: t.position.since }
    t.event(event('c', '1', false))
    t.idOnly('5')
    t.event(event('d', '5', false))
    const filter = t.log.filterAfter(leaderPoint)!
    expect(filter.isReplay(event('c', '1', false))).toBe(true)
    expect(filter.isReplayedId('5')).toBe(true)
    expect(filter.isReplay(event('d', '5', false))).toBe(true)
    expect(filter.isReplay(event('e', '5', false))).toBe(false)
    expect(filter.caughtUp).toBe(true)
  })

  it('at the same point nothing is dropped; a point this tab never passed (it is behind) is unknown', () => {
    const t = tab()
    t.event(event('a', '1', true))
    expect(t.log.filterAfter({ id: '1', since: 0 })!.isReplay(event('b', '1', false))).toBe(false)
    expect(t.log.filterAfter({ id: '1', since: 4 })).toBeUndefined()
    expect(t.log.filterAfter({ id: '9', since: 0 })).toBeUndefined()
  })
})

// ------------------------------------------------------------------------------------------------
// Streams of one process as tabs

let server: ReplayServer
/** 204 instead of a stream while set. */
let refuse: number | undefined
beforeAll(async () => {
  server = await startReplayServer({ authorize: (token) => (token === undefined ? 401 : (refuse ?? 200)) })
})
afterAll(() => server.close())

const open: Array<EventStream<string>> = []
afterEach(async () => {
  for (const stream of open.splice(0)) stream.close()
  refuse = undefined
  vi.unstubAllGlobals()
  await sleep(20)
})

interface Member {
  stream: EventStream<string>
  events: Array<StreamEvent<string>>
  errors: EventStreamError[]
  document: CountingTarget
}

/** A member of the group `scope` on the replay server, with a token manager of its own. */
function member(scope = 'alice', options: Partial<EventStreamOptions<string>> = {}): Member {
  const events: Member['events'] = []
  const errors: Member['errors'] = []
  const document = new CountingTarget()
  const stream = createEventStream<string>({
    url: server.streamUrl,
    transport: 'fetch',
    tokens: createTokenManager({ fetchToken: fetchTokenFrom(server.tokenUrl, { credentials: 'omit' }) }),
    crossTab: { scope },
    reconnect: { initialDelay: 50, maxDelay: 200 },
    onEvent: (event) => events.push(event),
    onError: (error) => errors.push(error),
    platform: { document },
    ...options,
  })
  open.push(stream)
  return { stream, events, errors, document }
}

const withHost = () => vi.stubGlobal('navigator', { locks: createFakeLocks() })
const snap = (m: Member) => m.stream.getSnapshot()

/** Two tabs of one group, both open: `a` leads, `b` follows. */
async function leaderAndFollower() {
  withHost()
  const a = member()
  a.stream.connect()
  await until(() => snap(a).tab === 'leader' && snap(a).status === 'open', 5000, 'leader')
  const b = member()
  b.stream.connect()
  await until(() => snap(b).status === 'open', 5000, 'follower')
  return { a, b }
}

describe("'solo' where the host cannot share", () => {
  it('without navigator.locks (Node), without BroadcastChannel, or with a Transport object: no error, the stream is on its own', async () => {
    const none = member()
    expect(snap(none).tab).toBe('solo')
    vi.stubGlobal('navigator', { locks: createFakeLocks() })
    vi.stubGlobal('BroadcastChannel', undefined)
    expect(snap(member()).tab).toBe('solo')
    vi.unstubAllGlobals()
    withHost()
    const transport: Transport = { name: 'custom', connect: () => () => {} }
    expect(snap(member('alice', { transport })).tab).toBe('solo')
    // And it streams as ever.
    none.stream.connect()
    await until(() => snap(none).status === 'open', 5000, 'solo open')
    const n = server.publish()
    await until(() => none.events.length === 1, 5000, 'solo event')
    expect(none.events[0]!.data).toBe(String(n))
    expect(snap(none).tab).toBe('solo')
  })
})

describe("the host's parts come from the platform (a worker or React Native host supplies or withholds them)", () => {
  const NodeBroadcastChannel = globalThis.BroadcastChannel

  it('a platform that withholds locks or BroadcastChannel streams solo although the host has both', () => {
    withHost()
    expect(snap(member('alice', { platform: { document: new CountingTarget(), locks: undefined } })).tab).toBe('solo')
    expect(snap(member('alice', { platform: { document: new CountingTarget(), BroadcastChannel: undefined } })).tab).toBe('solo')
    // The same options with the host's defaults share.
    expect(snap(member()).tab).toBe('follower')
  })

  it("a platform's own locks and channel form a group on a host that has neither", async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    expect(snap(member()).tab).toBe('solo')
    const platform = () => ({ document: new CountingTarget(), locks: locks as unknown as LockManager, BroadcastChannel: NodeBroadcastChannel })
    const locks = createFakeLocks()
    const a = member('alice', { platform: platform() })
    a.stream.connect()
    await until(() => snap(a).tab === 'leader' && snap(a).status === 'open', 5000, 'leader')
    const b = member('alice', { platform: platform() })
    b.stream.connect()
    await until(() => snap(b).status === 'open', 5000, 'follower')
    expect(snap(b).tab).toBe('follower')
    const n = server.publish()
    await until(() => b.events.length === 1, 5000, 'relayed event')
    expect(b.events[0]!.data).toBe(String(n))
  })
})

describe('a group of streams (in-process locks and Node BroadcastChannel)', () => {
  it('one leader connects and fetches tokens; the follower gets every event, in order, with the same ids, and joins with the latest one shown', async () => {
    withHost()
    const tokensBefore = server.tokenRequests
    const requestsBefore = server.streamRequests.length
    const a = member()
    // Before the election settles: 'follower'.
    expect(snap(a).tab).toBe('follower')
    a.stream.connect()
    await until(() => snap(a).status === 'open' && snap(a).tab === 'leader', 5000, 'leader open')
    const first = server.publish()
    await until(() => a.events.length === 1, 5000, 'first event')
    const b = member()
    b.stream.connect()
    await until(() => snap(b).status === 'open', 5000, 'follower open')
    // A joiner sees the group's latest event at once, without it counting as a new one.
    expect({ tab: snap(b).tab, data: snap(b).data, lastEventId: snap(b).lastEventId, eventCount: snap(b).eventCount, delivered: b.events.length }).toEqual({
      tab: 'follower',
      data: String(first),
      lastEventId: `e${first}`,
      eventCount: 0,
      delivered: 0,
    })
    const sent = [server.publish(), server.publish(), server.publish()]
    await until(() => b.events.length === 3 && a.events.length === 4, 5000, 'events')
    expect(b.events.map((e) => [e.data, e.id])).toEqual(sent.map((n) => [String(n), `e${n}`]))
    expect(snap(b).lastEventId).toBe(snap(a).lastEventId)
    expect(server.streamRequests.length - requestsBefore).toBe(1)
    expect(server.tokenRequests - tokensBefore).toBe(1)
  })

  it("a follower's reconnect() makes the leader reconnect; the leader's close() hands over with the group's last event id", async () => {
    const { a, b } = await leaderAndFollower()
    const requests = server.streamRequests.length
    b.stream.reconnect()
    await until(() => server.streamRequests.length === requests + 1 && snap(b).status === 'open', 5000, 'leader reconnected')
    const n = server.publish()
    await until(() => b.events.length === 1, 5000, 'event')
    a.stream.close()
    // It holds neither the lock nor a connection any more.
    expect(snap(a)).toMatchObject({ status: 'closed', tab: 'follower' })
    await until(() => snap(b).tab === 'leader' && snap(b).status === 'open', 5000, 'handover')
    expect(server.streamRequests.at(-1)!.lastEventId).toBe(`e${n}`)
    const m = server.publish()
    await until(() => b.events.length === 2, 5000, 'event after handover')
    expect(b.events.map((e) => e.data)).toEqual([String(n), String(m)])
    expect(server.openStreams).toBe(1)
  })

  it('errors cross as plain data and are rebuilt as EventStreamError; the snapshot holds the same object', async () => {
    const { a, b } = await leaderAndFollower()
    const shown: Array<[string, EventStreamError | undefined]> = []
    b.stream.subscribe(() => shown.push([snap(b).status, snap(b).error]))
    refuse = 503
    b.stream.reconnect()
    await until(() => b.errors.length > 0, 5000, 'error relayed')
    refuse = undefined
    const [error] = b.errors
    expect(error).toBeInstanceOf(EventStreamError)
    expect({ kind: error!.kind, status: error!.status }).toEqual({ kind: 'http', status: 503 })
    expect(a.errors[0]).not.toBe(error)
    expect(a.errors[0]!.message).toBe(error!.message)
    await until(() => snap(b).status === 'open', 5000, 'back open')
    // The follower went through the leader's 'reconnecting', showing the error it was told about.
    expect(shown).toContainEqual(['reconnecting', error])
  })

  it('the leader ends closed (204): the whole group ends, nobody reconnects; a reconnect() in any member starts it again', async () => {
    const { a, b } = await leaderAndFollower()
    refuse = 204
    const requests = server.streamRequests.length
    a.stream.reconnect()
    await until(() => snap(a).status === 'closed' && snap(b).status === 'closed', 5000, 'group closed')
    // One request, the one answered 204 (that nobody takes the lock over later is checked on the
    // virtual clock, test/node/cross-tab-protocol.test.ts).
    expect(server.streamRequests.slice(requests).map((r) => r.status)).toEqual([204])
    // Nobody holds a connection: nobody is the leader.
    expect([snap(a).tab, snap(b).tab]).toEqual(['follower', 'follower'])
    refuse = undefined
    b.stream.reconnect()
    await until(() => snap(a).status === 'open' && snap(b).status === 'open', 5000, 'group back')
    expect([snap(a).tab, snap(b).tab]).toEqual(['follower', 'leader'])
    expect(server.streamRequests.length).toBe(requests + 2)
  })

  it('a group ended and started again at once by another member never shows two leaders', async () => {
    const { a, b } = await leaderAndFollower()
    let most = 0
    const count = () => void (most = Math.max(most, [snap(a), snap(b)].filter((s) => s.tab === 'leader').length))
    a.stream.subscribe(count)
    b.stream.subscribe(count)
    refuse = 204
    a.stream.reconnect()
    await until(() => snap(a).status === 'closed' && snap(b).status === 'closed', 5000, 'group closed')
    refuse = undefined
    b.stream.reconnect()
    await until(() => snap(a).status === 'open' && snap(b).status === 'open', 5000, 'group back')
    expect([snap(a).tab, snap(b).tab].sort()).toEqual(['follower', 'leader'])
    expect(most).toBe(1)
  })

  it('pauseWhenHidden pauses the group only when every member is hidden', async () => {
    withHost()
    const a = member('alice', { pauseWhenHidden: 50 })
    a.stream.connect()
    await until(() => snap(a).tab === 'leader' && snap(a).status === 'open', 5000, 'leader')
    const b = member('alice', { pauseWhenHidden: 50 })
    b.stream.connect()
    await until(() => snap(b).status === 'open', 5000, 'follower')
    const hide = (m: Member, hidden: boolean) => {
      m.document.visibilityState = hidden ? 'hidden' : 'visible'
      m.document.dispatch('visibilitychange')
    }
    hide(a, true)
    await sleep(300)
    expect([snap(a).status, server.openStreams]).toEqual(['open', 1])
    hide(b, true)
    await until(() => snap(a).status === 'paused' && snap(b).status === 'paused', 5000, 'group paused')
    await until(() => server.openStreams === 0, 5000, 'connection dropped')
    hide(b, false)
    await until(() => snap(a).status === 'open' && snap(b).status === 'open', 5000, 'group back')
  })

  it('a missing scope fails the stream with a typed error, and makes no request', async () => {
    withHost()
    const requests = server.streamRequests.length
    const m = member('')
    m.stream.connect()
    await until(() => snap(m).status === 'failed', 5000, 'failed')
    expect(m.errors).toHaveLength(1)
    expect(m.errors[0]).toBeInstanceOf(EventStreamError)
    expect(m.errors[0]!.kind).toBe('invalid-request')
    expect(snap(m).error).toBe(m.errors[0])
    expect(server.streamRequests.length).toBe(requests)
  })

  it("a follower's close() detaches only that member", async () => {
    const { a, b } = await leaderAndFollower()
    b.stream.close()
    expect(snap(b)).toMatchObject({ status: 'closed', tab: 'follower' })
    server.publish()
    await until(() => a.events.length === 1, 5000, 'leader still streams')
    await sleep(100)
    expect(b.events).toHaveLength(0)
    expect([snap(a).status, server.openStreams]).toEqual(['open', 1])
  })

  it('streams of different scopes never share', async () => {
    withHost()
    const a = member('alice')
    const b = member('bob')
    a.stream.connect()
    b.stream.connect()
    await until(() => snap(a).status === 'open' && snap(b).status === 'open', 5000, 'both open')
    expect([snap(a).tab, snap(b).tab]).toEqual(['leader', 'leader'])
    expect(server.openStreams).toBe(2)
  })
})

/** Node's BroadcastChannel, with a switch that makes one tab miss what is posted (a paused page). */
class TapChannel extends BroadcastChannel {
  static all: TapChannel[] = []
  deaf = false
  constructor(name: string) {
    super(name)
    TapChannel.all.push(this)
  }
  // eslint-disable-next-line accessor-pairs
  override set onmessage(listener: ((event: MessageEvent) => void) | null) {
    super.onmessage = listener && ((event: MessageEvent) => void (this.deaf || listener(event)))
  }
}

describe('gaps in what a follower heard', () => {
  /** Leader `a` and follower `b` on tapped channels: `deaf(true)` makes `b` miss messages. */
  async function tapped(options: Partial<EventStreamOptions<string>> = {}) {
    TapChannel.all = []
    vi.stubGlobal('BroadcastChannel', TapChannel)
    withHost()
    const a = member()
    a.stream.connect()
    await until(() => snap(a).tab === 'leader' && snap(a).status === 'open', 5000, 'leader')
    const b = member('alice', options)
    b.stream.connect()
    await until(() => snap(b).status === 'open', 5000, 'follower')
    const channel = TapChannel.all.at(-1)!
    return { a, b, deaf: (value: boolean) => void (channel.deaf = value) }
  }

  it('a follower that missed steps (seq jumps) gets them resent by the leader: nothing lost, in order', async () => {
    const { a, b, deaf } = await tapped()
    const sent = [server.publish()]
    await until(() => b.events.length === 1, 5000, 'first event')
    deaf(true)
    for (let i = 0; i < 5; i++) sent.push(server.publish())
    await until(() => a.events.length === 6, 5000, 'the leader has them')
    await sleep(50)
    deaf(false)
    sent.push(server.publish())
    await until(() => b.events.length >= 7, 5000, 'the follower catches up')
    await sleep(100)
    expect(b.events.map((e) => e.data)).toEqual(sent.map(String))
  })

  it('past what the leader keeps, the follower reports the gap through onGap and goes on with what the leader kept', async () => {
    const gaps: Array<{ lastEventId: string | undefined; resumedAt: string | undefined }> = []
    const { a, b, deaf } = await tapped({ onGap: (gap) => gaps.push(gap) })
    const first = server.publish()
    await until(() => b.events.length === 1, 5000, 'first event')
    deaf(true)
    for (let i = 0; i < 1100; i++) server.publish()
    await until(() => a.events.length === 1101, 10_000, 'the leader has them')
    await sleep(50)
    deaf(false)
    const next = server.publish()
    await until(() => b.events.at(-1)?.data === String(next), 5000, 'the follower goes on')
    const after = b.events.slice(1).map((e) => Number(e.data))
    // The oldest step the leader kept is where the follower goes on from; everything after it comes, in order.
    expect(gaps).toEqual([{ lastEventId: `e${first}`, resumedAt: `e${after[0]! - 1}` }])
    expect(after).toEqual(Array.from({ length: next - after[0]! + 1 }, (_, i) => after[0]! + i))
    expect(after.length).toBeLessThan(1001)
    expect(snap(b).lastEventId).toBe(snap(a).lastEventId)
  })
})

describe('messages nobody can trust (any script of the origin can post on the channel)', () => {
  const groupName = () => crossTabName(crossTabGroupKey({ url: server.streamUrl, transport: 'fetch', crossTab: { scope: 'alice' } }, STREAM_DEFAULTS)!)

  /** A same-origin script on the group's channel: hears what the tabs post, posts what it likes. */
  function intruder() {
    const channel = new BroadcastChannel(groupName())
    const heard: Array<Record<string, any>> = []
    channel.onmessage = (event) => heard.push((event as MessageEvent).data)
    return { heard, post: (message: object) => channel.postMessage(message), close: () => channel.close() }
  }

  it('a forged message moves no tab: a term no tab reached, a welcome in the current term, malformed fields under the leader\'s own name, NaN and unsafe numbers', async () => {
    const { a, b } = await leaderAndFollower()
    const spy = intruder()
    try {
      server.publish()
      await until(() => b.events.length === 1 && spy.heard.some((m) => m.t === 'event'), 5000, 'an event heard')
      const real = spy.heard.find((m) => m.t === 'event')!
      const { g, from, e, seq } = real
      const requests = server.streamRequests.length
      const forged = { g, type: 'message', id: 'forged', own: true }
      for (const message of [
        { ...forged, from: 'forger', t: 'event', e: 1e9, seq: 1e9, data: 'forged' },
        { ...forged, from: 'forger', t: 'welcome', e: 1e9, seq: 1e9, to: undefined, state: { status: 'open', attempt: 0, transport: 'fetch', openCount: 1 }, at: { id: 'forged', since: 0 } },
        { ...forged, from: 'forger', t: 'welcome', e, seq: 1e9, to: undefined, state: { status: 'open', attempt: 0, transport: 'fetch', openCount: 1 }, at: { id: 'forged', since: 0 } },
        { ...forged, from, t: 'event', e, seq: seq + 1, data: 42 },
        { ...forged, from, t: 'event', e, seq: 2 ** 60, data: 'forged' },
        { ...forged, from, t: 'event', e: Number.NaN, seq: seq + 1, data: 'forged' },
        { g, from: 'forger', t: 'beat', e: Number.NaN, seq: 0 },
        { g, from, t: 'state', e, seq, state: { status: 'closed', attempt: 'x', transport: 'fetch', openCount: 1 } },
      ]) spy.post(message)
      await sleep(300)
      const n = server.publish()
      await until(() => b.events.length === 2, 5000, 'the next real event')
      expect(b.events.map((ev) => ev.data)).toEqual([String(n - 1), String(n)])
      expect([snap(a).tab, snap(b).tab, snap(b).status, snap(b).lastEventId]).toEqual(['leader', 'follower', 'open', `e${n}`])
      expect(server.streamRequests.length).toBe(requests)
    } finally {
      spy.close()
    }
  })

  it('reconnect requests are followed at most once a second for the whole group', async () => {
    const { b } = await leaderAndFollower()
    const spy = intruder()
    try {
      await until(() => spy.heard.length > 0, 5000, 'a message heard')
      const { g } = spy.heard[0]!
      const requests = server.streamRequests.length
      b.stream.reconnect()
      for (let i = 0; i < 20; i++) spy.post({ g, from: `forger-${i}`, t: 'reconnect' })
      await sleep(500)
      expect(server.streamRequests.length - requests).toBe(1)
      await until(() => snap(b).status === 'open', 5000, 'open again')
    } finally {
      spy.close()
    }
  })
})

describe('names on the wire', () => {
  it('the channel and lock are named by the protocol version and a hash of the group key; messages carry the hash, never the url', async () => {
    const key = crossTabGroupKey({ url: 'https://app.example/api/stream?channel=a&apiKey=s3cr3t', crossTab: { scope: 'alice' } }, STREAM_DEFAULTS)!
    expect(crossTabName(key)).toMatch(/^use-event-stream\/v2\/[0-9a-z]{1,11}$/)
    expect(crossTabName(key)).not.toContain('s3cr3t')
    expect(crossTabName(key)).toBe(crossTabName(key))
    expect(crossTabName(key)).not.toBe(crossTabName(crossTabGroupKey({ url: 'https://app.example/api/stream?channel=b&apiKey=s3cr3t', crossTab: { scope: 'alice' } }, STREAM_DEFAULTS)!))
    // What a group of streams posts.
    withHost()
    const url = `${server.streamUrl}?apiKey=s3cr3t`
    const spy = new BroadcastChannel(crossTabName(crossTabGroupKey({ url, transport: 'fetch', crossTab: { scope: 'alice' } }, STREAM_DEFAULTS)!))
    const heard: string[] = []
    spy.onmessage = (event) => heard.push(JSON.stringify((event as MessageEvent).data))
    try {
      const a = member('alice', { url })
      a.stream.connect()
      await until(() => snap(a).tab === 'leader' && snap(a).status === 'open', 5000, 'leader')
      const b = member('alice', { url })
      b.stream.connect()
      await until(() => snap(b).status === 'open', 5000, 'follower')
      server.publish()
      await until(() => b.events.length === 1, 5000, 'event')
      expect(heard.length).toBeGreaterThan(2)
      for (const text of heard) expect(/s3cr3t|127\.0\.0\.1|alice/.test(text)).toBe(false)
    } finally {
      spy.close()
    }
  })
})

