// Streams shared across tabs (`crossTab`), in a real Chromium: several pages of one browser
// context (tabs of one profile, so they share Web Locks and BroadcastChannels), each running
// `createEventStream({ crossTab: { scope } })` with its own token manager, against the reference
// server on 127.0.0.1. Node keeps the server half of each ledger (ids published, the server's
// connection list and token count), the pages the client half (ids delivered, `tab`, requests).
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import {
  bundleHarness,
  harnessOf,
  launchChromium,
  ledger,
  openHarnessPage,
  pauseScript,
  serveHarness,
  sleep,
  startPublisher,
  until,
  type StaticSite,
  type StreamState,
} from './support'

let server: ReferenceServer
let site: StaticSite
let browser: Browser
let groupSeq = 0

beforeAll(async () => {
  server = await startReferenceServer({ host: '127.0.0.1', heartbeatMs: 300, log: () => {} })
  const [script, launched] = await Promise.all([bundleHarness(), launchChromium()])
  browser = launched
  site = await serveHarness(script)
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  await server?.close()
})

interface Tab {
  page: Page
  console: string[]
  h: ReturnType<typeof harnessOf>
  read(): Promise<StreamState>
}

interface Group {
  context: BrowserContext
  channel: string
  tabs: Tab[]
  /** Opens one more page with the same stream (`crossTab` as given; `null`: none). */
  add(crossTab?: { scope: string } | null, channel?: string): Promise<Tab>
  /** Open stream connections at the server on `channel`. */
  open(channel?: string): ReturnType<ReferenceServer['counters']>['connections']
  connections(channel?: string): ReturnType<ReferenceServer['counters']>['connections']
  close(): Promise<void>
}

const KEY = 'shared'

/** `n` pages of one context, each streaming `channel` with `crossTab: { scope }` (tokens live `ttl` s). */
async function openGroup(n: number, options: { scope?: string; ttl?: number; ledgerBy?: 'id' | 'data' } = {}): Promise<Group> {
  const context = await browser.newContext()
  const channel = `seq-crosstab-${++groupSeq}`
  const tabs: Tab[] = []
  const add = async (crossTab: { scope: string } | null = { scope: options.scope ?? 'alice' }, on = channel) => {
    const { page, console } = await openHarnessPage(context, site)
    const h = harnessOf(page)
    await h.open({
      key: KEY,
      transport: 'fetch',
      streamUrl: `${server.url}/stream?channel=${on}`,
      tokenUrl: `${server.url}/auth/sse-token?ttl=${options.ttl ?? 30}`,
      apiKey: server.apiKey,
      ...(options.ledgerBy ? { ledgerBy: options.ledgerBy } : {}),
      ...(crossTab ? { crossTab } : {}),
    })
    const tab: Tab = { page, console, h, read: () => h.read(KEY) }
    tabs.push(tab)
    await until(async () => (await tab.read()).status === 'open', 10_000, `page ${tabs.length} open`)
    return tab
  }
  for (let i = 0; i < n; i++) await add()
  const connections = (on = channel) => server.counters().connections.filter((c) => c.channel === on)
  return {
    context,
    channel,
    tabs,
    add,
    connections,
    open: (on = channel) => connections(on).filter((c) => c.open),
    close: () => context.close(),
  }
}

const leaders = async (tabs: readonly Tab[]) => (await Promise.all(tabs.map((t) => t.read()))).filter((s) => s.tab === 'leader').length

/** Ids delivered by a page are the channel's sequential ids: contiguous means nothing lost or repeated. */
function contiguous(ids: readonly string[]): boolean {
  return ids.every((id, i) => i === 0 || Number(id) === Number(ids[i - 1]) + 1)
}

/**
 * Waits (bounded) until every page delivered the last of `sent`, then reads each page's state and
 * its ledger against `sent` (lost, duplicated), printing one line per page.
 */
async function pageLedgers(tabs: readonly Tab[], sent: readonly string[], label: string) {
  await until(
    async () => {
      for (const t of tabs) if ((await t.read()).ids.at(-1) !== sent.at(-1)) return false
      return true
    },
    10_000,
    `${label}: every page has the last event`,
  ).catch(() => {
    // The ledgers say what is missing.
  })
  await sleep(200)
  const states = await Promise.all(tabs.map((t) => t.read()))
  return states.map((state, i) => {
    const l = ledger(sent, state.ids)
    console.log(`[cross-tab] ${label} page ${i + 1} (${state.tab}): sent=${l.sent} received=${l.received} lost=${l.lost} duplicated=${l.duplicated}`)
    return { state, page: i + 1, lost: l.lost, duplicated: l.duplicated }
  })
}

/** Every page delivered every id in `sent`, contiguously: nothing lost, nothing repeated. */
async function expectEveryPageGotEverything(tabs: readonly Tab[], sent: readonly string[], label: string): Promise<StreamState[]> {
  const ledgers = await pageLedgers(tabs, sent, label)
  for (const { state, page, lost, duplicated } of ledgers) {
    expect({ page, lost, duplicated, contiguous: contiguous(state.ids) }).toEqual({ page, lost: 0, duplicated: 0, contiguous: true })
  }
  return ledgers.map((l) => l.state)
}

/** Starts publishing to the group, waits until its last tab streams, and finds who leads. */
async function streamingGroup(group: Group) {
  const publisher = startPublisher(() => server, group.channel, 25)
  await until(async () => (await group.tabs.at(-1)!.read()).ids.length > 10, 10_000, 'events flowing')
  const states = await Promise.all(group.tabs.map((t) => t.read()))
  const leader = group.tabs[states.findIndex((s) => s.tab === 'leader')]!
  return { publisher, leader, rest: group.tabs.filter((t) => t !== leader), before: group.connections().length }
}

/** How a leader goes away in the handover tests. */
type Exit = 'close the page' | 'crash the page'

async function handover(exit: Exit) {
  const group = await openGroup(4)
  try {
    const { publisher, leader, rest, before } = await streamingGroup(group)
    const marks = await Promise.all(rest.map(async (t) => (await t.read()).statuses.length))
    const t0 = Date.now()
    if (exit === 'close the page') await leader.page.close()
    else {
      const cdp = await group.context.newCDPSession(leader.page)
      // The renderer dies at once; the call itself never answers.
      void cdp.send('Page.crash').catch(() => {})
    }
    await until(async () => (await leaders(rest)) === 1, 5000, 'a new leader')
    await sleep(600)
    const sent = await publisher.stop()
    const after = await expectEveryPageGotEverything(rest, sent, exit)
    const next = after.find((s) => s.tab === 'leader')!
    const tookOver = next.tabs.find((t) => t.tab === 'leader')!
    const resumed = group.connections().slice(before)
    console.log(
      `[cross-tab] ${exit}: new leader after ${tookOver.at - t0} ms, resumed after id ${tookOver.lastEventId}; connections since: ${JSON.stringify(resumed.map((c) => ({ lastEventId: c.lastEventId, via: c.lastEventIdVia, replayed: c.replayed })))}`,
    )
    // What the followers showed meanwhile: the new leader connecting, never `idle`.
    const shown = after.map((s, i) => s.statuses.slice(marks[i]))
    console.log(`[cross-tab] ${exit}: statuses shown during the handover: ${JSON.stringify(shown)}`)
    for (const statuses of shown) expect(statuses).not.toContain('idle')
    expect(tookOver.at - t0).toBeLessThan(1000)
    expect(resumed).toHaveLength(1)
    expect(resumed[0]!.lastEventId).toBe(tookOver.lastEventId)
    expect(resumed[0]!.lastEventIdVia).toBe('header')
    expect(group.open()).toHaveLength(1)
  } finally {
    await group.close()
  }
}

describe('crossTab in Chromium (pages of one browser context, reference server)', () => {
  it('5 pages, one scope: one connection, one leader, token requests as for one tab, every page contiguous', async () => {
    // Tokens of 3 s are rotated every 2 s: the group goes through rotations while it runs.
    const group = await openGroup(5, { ttl: 3 })
    try {
      // One page streaming on its own, on another channel, for the same time: what one tab costs.
      const solo = await group.add(null, `${group.channel}-solo`)
      const tabs = group.tabs.slice(0, 5)
      // An outsider page of the same origin listening on the group's channel.
      const outsider = harnessOf((await openHarnessPage(group.context, site)).page)
      const { names } = await tabs[0]!.h.channels()
      expect(names).toHaveLength(1)
      await outsider.eavesdrop(names[0]!)
      // Token requests are counted over the same window for the group and the solo page.
      const tokensAt = async () => (await Promise.all(group.tabs.map((t) => t.read()))).map((s) => s.tokenRequests)
      const tokensBefore = await tokensAt()
      const mintsBefore = server.counters().tokenMints
      const publisher = startPublisher(() => server, group.channel, 25)
      let peak = 0
      let samplesWithTwo = 0
      let samples = 0
      const started = Date.now()
      while (Date.now() - started < 6500) {
        const open = group.open().length
        peak = Math.max(peak, open)
        if (open === 2) samplesWithTwo++
        samples++
        await sleep(25)
      }
      const sent = await publisher.stop()
      const states = await expectEveryPageGotEverything(tabs, sent, 'one scope')
      const soloState = await solo.read()
      const tokenDeltas = (await tokensAt()).map((n, i) => n - tokensBefore[i]!)
      const groupTokens = tokenDeltas.slice(0, 5).reduce((n, d) => n + d, 0)
      const soloTokens = tokenDeltas[5]!
      const mints = server.counters().tokenMints - mintsBefore
      console.log(
        `[cross-tab] 5 pages: connections=${group.connections().length} peak open=${peak} (2 open in ${samplesWithTwo}/${samples} samples); token requests in ${((Date.now() - started) / 1000).toFixed(1)} s: ${tokenDeltas.slice(0, 5).join('+')}=${groupTokens} (solo page: ${soloTokens}; server minted ${mints}); tabs=${states.map((s) => s.tab).join(',')}`,
      )
      expect(states.map((s) => s.tab).sort()).toEqual(['follower', 'follower', 'follower', 'follower', 'leader'])
      expect(soloState.tab).toBe('solo')
      expect(states.filter((s) => s.tab === 'follower').every((s) => s.tokenRequests === 0 && s.streamRequests === 0)).toBe(true)
      // One connection at a time, two while a rotation overlaps them.
      expect(peak).toBeLessThanOrEqual(2)
      expect(samplesWithTwo / samples).toBeLessThan(0.2)
      expect(group.open()).toHaveLength(1)
      // Rotations every 2 s: the group asked for as many tokens as the one solo page (±1 for
      // where the window falls in each one's refresh cycle), and the server minted those (one
      // more if a request was in flight when the pages were read).
      expect(Math.abs(groupTokens - soloTokens)).toBeLessThanOrEqual(1)
      expect(soloTokens).toBeGreaterThanOrEqual(2)
      expect(mints - (groupTokens + soloTokens)).toBeGreaterThanOrEqual(0)
      expect(mints - (groupTokens + soloTokens)).toBeLessThanOrEqual(1)
      // Every page shows the same stream: same last id, same latest data.
      expect(new Set(states.map((s) => s.lastEventId)).size).toBe(1)
      expect(new Set(states.map((s) => s.data)).size).toBe(1)
      // Nothing sensitive crossed the channel: none of the tokens any page received (the leader's
      // rotated ones included) is in what the outsider heard or what any page posted.
      const overheard = await outsider.overheard()
      const posted = (await Promise.all(tabs.map((t) => t.h.channels()))).flatMap((c) => c.posted)
      const tokens = (await Promise.all(group.tabs.map((t) => t.h.tokensSeen()))).flat()
      console.log(`[cross-tab] outsider heard ${overheard.length} messages (${new Set(overheard.map((m) => JSON.parse(m).t)).size} kinds); tokens checked: ${tokens.length}`)
      expect(overheard.length).toBeGreaterThan(sent.length)
      expect(tokens.length).toBeGreaterThanOrEqual(groupTokens)
      for (const token of tokens) {
        const parts = [token, ...token.split('.').filter((part) => part.length > 16)]
        for (const text of [...overheard, ...posted]) for (const part of parts) expect(text.includes(part)).toBe(false)
      }
      expect([...overheard, ...posted].some((text) => /bearer|authorization|x-api-key/i.test(text))).toBe(false)
    } finally {
      await group.close()
    }
  })

  it('close the leader page: a new leader within 1 s, nothing lost or repeated, resumed from the right Last-Event-ID, followers never shown idle', async () => {
    await handover('close the page')
  })

  it('crash the leader page (CDP Page.crash): a new leader within 1 s, nothing lost or repeated, resumed from the right Last-Event-ID, followers never shown idle', async () => {
    await handover('crash the page')
  })

  // A leader whose JavaScript stops (a tab the browser froze, a hung page) keeps the lock, so no
  // follower is granted it: its followers notice the silence instead. The leader says something
  // every second (an event, its state, or a heartbeat); a visible follower that hears nothing for
  // about 5 s takes the lock over (Web Locks `steal`) and resumes the stream from the group's
  // last event id. When the stalled page runs again it finds the lock taken, drops its connection
  // and follows.
  //
  // Chromium's own freeze (CDP `Page.setWebLifecycleState`) only freezes hidden pages, and a
  // headless page is never hidden: its timers and channel keep running (checked below), so the
  // group is simply not starved. The stall is made with CDP `Debugger.pause`, which stops every
  // task of the page, timers and messages alike, as a freeze does.
  it('a frozen leader (CDP Page.setWebLifecycleState): the group is not starved', async () => {
    const group = await openGroup(3)
    try {
      const { publisher, leader, rest } = await streamingGroup(group)
      const cdp = await group.context.newCDPSession(leader.page)
      await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
      const mark = (await rest[0]!.read()).ids.length
      await sleep(6000)
      const during = (await rest[0]!.read()).ids.length - mark
      const takenOver = (await leaders(rest)) === 1
      await cdp.send('Page.setWebLifecycleState', { state: 'active' })
      await sleep(500)
      const sent = await publisher.stop()
      console.log(`[cross-tab] CDP freeze: a follower got ${during} events in the 6 s frozen; ${takenOver ? 'a follower took over' : 'the leader kept relaying (Chromium did not freeze the visible page)'}`)
      expect(during).toBeGreaterThan(100)
      await expectEveryPageGotEverything(takenOver ? rest : group.tabs, sent, 'CDP freeze')
      expect(await leaders(group.tabs)).toBe(1)
    } finally {
      await group.close()
    }
  })

  it('a stalled leader (CDP Debugger.pause): a visible follower takes over after ~5 s of silence, nothing lost or repeated; the leader follows when it runs again', async () => {
    const group = await openGroup(3)
    try {
      const { publisher, leader, rest, before } = await streamingGroup(group)
      const cdp = await group.context.newCDPSession(leader.page)
      const t0 = Date.now()
      await pauseScript(cdp, 'the stalled page')
      await until(async () => (await leaders(rest)) === 1, 10_000, 'a follower takes over')
      const next = (await Promise.all(rest.map((t) => t.read()))).find((s) => s.tab === 'leader')!
      const tookOver = next.tabs.find((t) => t.tab === 'leader')!
      await sleep(1000)
      // The stalled page still holds its connection: its socket is open, its JavaScript stopped.
      const openWhileStalled = group.open().length
      await cdp.send('Debugger.resume')
      await until(async () => (await leader.read()).tab === 'follower', 5000, 'the stalled page follows')
      await sleep(500)
      const sent = await publisher.stop()
      await expectEveryPageGotEverything(rest, sent, 'stalled leader')
      const resumed = group.connections().slice(before)
      const old = await leader.read()
      const oldLedger = ledger(sent, old.ids)
      console.log(
        `[cross-tab] stalled leader: taken over after ${tookOver.at - t0} ms, resumed after id ${tookOver.lastEventId}; open while stalled: ${openWhileStalled}; the stalled page: ${old.tab}, duplicated=${oldLedger.duplicated}, missed while stalled=${oldLedger.lost}`,
      )
      expect(tookOver.at - t0).toBeGreaterThan(3000)
      expect(tookOver.at - t0).toBeLessThan(7000)
      expect(resumed).toHaveLength(1)
      expect(resumed[0]!.lastEventId).toBe(tookOver.lastEventId)
      expect(openWhileStalled).toBe(2)
      // Running again, the old leader let its connection go, follows, and repeats nothing (what the
      // channel said while its page was paused in the debugger, Chromium dropped: it missed that).
      expect(group.open()).toHaveLength(1)
      expect(await leaders(group.tabs)).toBe(1)
      expect(old.tab).toBe('follower')
      expect(oldLedger.duplicated).toBe(0)
      expect(old.ids.at(-1)).toBe(sent.at(-1))
    } finally {
      await group.close()
    }
  })

  it('a tab opened while the leader is stalled does not take over; a follower that heard the leader does, from the group position with a newer term: nothing lost or repeated anywhere', async () => {
    const group = await openGroup(3)
    try {
      const { publisher, leader, rest, before } = await streamingGroup(group)
      const cdp = await group.context.newCDPSession(leader.page)
      await pauseScript(cdp, 'the stalled page')
      // The newcomer hears no welcome from the stalled leader: it must not lead from nowhere.
      const { page, console: lines } = await openHarnessPage(group.context, site)
      const h = harnessOf(page)
      await h.open({ key: KEY, transport: 'fetch', streamUrl: `${server.url}/stream?channel=${group.channel}`, tokenUrl: `${server.url}/auth/sse-token?ttl=30`, apiKey: server.apiKey, crossTab: { scope: 'alice' } })
      const newcomer: Tab = { page, console: lines, h, read: () => h.read(KEY) }
      await until(async () => (await leaders([...rest, newcomer])) === 1, 10_000, 'a follower takes over')
      const states = await Promise.all([...rest, newcomer].map((t) => t.read()))
      expect(states.at(-1)!.tab).toBe('follower')
      await until(async () => (await newcomer.read()).status === 'open', 5000, 'the newcomer follows')
      await cdp.send('Debugger.resume')
      await until(async () => (await leader.read()).tab === 'follower', 5000, 'the stalled page follows')
      await sleep(500)
      const sent = await publisher.stop()
      await expectEveryPageGotEverything(rest, sent, 'newcomer during a stall')
      const fresh = await newcomer.read()
      const from = sent.indexOf(fresh.ids[0]!)
      const newcomerLedger = ledger(sent.slice(from), fresh.ids)
      const old = ledger(sent, (await leader.read()).ids)
      console.log(`[cross-tab] newcomer during a stall: newcomer from event ${from}: lost=${newcomerLedger.lost} duplicated=${newcomerLedger.duplicated}; the stalled page duplicated=${old.duplicated}; connections since: ${group.connections().length - before}`)
      expect({ lost: newcomerLedger.lost, duplicated: newcomerLedger.duplicated, contiguous: contiguous(fresh.ids) }).toEqual({ lost: 0, duplicated: 0, contiguous: true })
      expect(old.duplicated).toBe(0)
      expect(group.connections().length - before).toBe(1)
      expect(await leaders([...group.tabs, newcomer])).toBe(1)
    } finally {
      await group.close()
    }
  })

  it('a group that ended (204) is started again by a newly opened tab, and the tabs that saw later terms come back with it', async () => {
    const group = await openGroup(3)
    try {
      // A handover first, so the remaining tabs know a later term than a new tab's first one.
      const first = await streamingGroup(group)
      await first.leader.page.close()
      const rest = first.rest
      await until(async () => (await leaders(rest)) === 1, 5000, 'a new leader')
      const states = await Promise.all(rest.map((t) => t.read()))
      const leader = rest[states.findIndex((s) => s.tab === 'leader')]!
      await first.publisher.stop()
      server.setFault({ route: 'stream', fault: 'status:204', channel: group.channel })
      await leader.h.reconnect(KEY)
      await until(async () => (await Promise.all(rest.map((t) => t.read()))).every((s) => s.status === 'closed'), 5000, 'the group ended')
      await sleep(1500)
      const newcomer = await group.add()
      await until(async () => (await Promise.all(rest.map((t) => t.read()))).every((s) => s.status === 'open'), 5000, 'the old tabs come back')
      const marks = await Promise.all(rest.map(async (t) => (await t.read()).ids.length))
      const pub = startPublisher(() => server, group.channel, 25)
      await sleep(1000)
      const sent = await pub.stop()
      const all = [...rest, newcomer]
      await until(async () => (await Promise.all(all.map((t) => t.read()))).every((s) => s.ids.at(-1) === sent.at(-1)), 5000, 'every tab has the last event').catch(() => {})
      const after = await Promise.all(all.map((t) => t.read()))
      const ledgers = after.map((s, i) => ledger(sent, s.ids.slice(i < rest.length ? marks[i] : 0).filter((id) => sent.includes(id))))
      console.log(`[cross-tab] restart after 204: tabs=${after.map((s) => `${s.tab}/${s.status}`).join(',')}; ledgers=${JSON.stringify(ledgers)}`)
      expect(ledgers.map((l) => [l.lost, l.duplicated])).toEqual(all.map(() => [0, 0]))
      expect(after.filter((s) => s.tab === 'leader')).toHaveLength(1)
      expect(group.open()).toHaveLength(1)
    } finally {
      await group.close()
    }
  })

  it('a follower paused for a moment (CDP Debugger.pause) misses messages: the leader resends them, nothing lost or repeated', async () => {
    const group = await openGroup(3)
    try {
      const { publisher, rest } = await streamingGroup(group)
      const follower = rest[0]!
      const cdp = await group.context.newCDPSession(follower.page)
      await pauseScript(cdp, 'the stalled page')
      await sleep(1500)
      await cdp.send('Debugger.resume')
      await sleep(1000)
      const sent = await publisher.stop()
      await expectEveryPageGotEverything(group.tabs, sent, 'paused follower')
      expect(await leaders(group.tabs)).toBe(1)
    } finally {
      await group.close()
    }
  })

  it('forged messages from a same-origin page move no tab: terms no tab reached, a term that is not a number, malformed fields, and 20 reconnect requests cost one reconnect', async () => {
    const group = await openGroup(3)
    try {
      const { publisher, before } = await streamingGroup(group)
      const { page } = await openHarnessPage(group.context, site)
      const outsider = harnessOf(page)
      const name = (await group.tabs[0]!.h.channels()).names[0]!
      await outsider.eavesdrop(name)
      await until(async () => (await outsider.overheard()).some((m) => JSON.parse(m).t === 'event'), 5000, 'an event overheard')
      const real = JSON.parse((await outsider.overheard()).find((m) => JSON.parse(m).t === 'event')!)
      const { g, from, e, seq } = real
      const state = { status: 'open', attempt: 0, transport: 'fetch', openCount: 1 }
      const forged = [
        { g, from: 'forger', t: 'event', e: 1e9, seq: 1e9, type: 'message', data: '{"n":-1}', id: '999999' },
        { g, from: 'forger', t: 'welcome', e: 1e9, seq: 1e9, state, at: { id: '999999', since: 0 } },
        { g, from: 'forger', t: 'welcome', e, seq: 1e9, state, at: { id: '999999', since: 0 } },
        { g, from, t: 'event', e, seq: seq + 1, type: 'message', data: 42 },
        { g, from: 'forger', t: 'beat', e: null, seq: 0 },
        ...Array.from({ length: 20 }, (_, i) => ({ g, from: `forger-${i}`, t: 'reconnect' })),
      ]
      await page.evaluate(
        ([channelName, messages]) => {
          const channel = new BroadcastChannel(channelName as string)
          for (const message of messages as object[]) channel.postMessage(message)
          channel.close()
        },
        [name, forged] as const,
      )
      await sleep(1500)
      const sent = await publisher.stop()
      const states = await expectEveryPageGotEverything(group.tabs, sent, 'forged messages')
      const since = group.connections().slice(before)
      console.log(`[cross-tab] forged messages: connections since: ${since.length}; tabs=${states.map((s) => s.tab).join(',')}`)
      expect(since.length).toBeLessThanOrEqual(1)
      expect(states.filter((s) => s.tab === 'leader')).toHaveLength(1)
      for (const s of states) expect(s.ids).not.toContain('999999')
    } finally {
      await group.close()
    }
  })

  it('two scopes on the same url: two connections, and no event crosses', async () => {
    const group = await openGroup(2, { scope: 'alice' })
    try {
      await group.add({ scope: 'bob' })
      await group.add({ scope: 'bob' })
      const publisher = startPublisher(() => server, group.channel, 25)
      await sleep(1500)
      const sent = await publisher.stop()
      const states = await expectEveryPageGotEverything(group.tabs, sent, 'two scopes')
      expect(states.map((s) => s.tab)).toEqual(expect.arrayContaining(['leader', 'follower', 'leader', 'follower']))
      expect(states.slice(0, 2).filter((s) => s.tab === 'leader')).toHaveLength(1)
      expect(states.slice(2).filter((s) => s.tab === 'leader')).toHaveLength(1)
      expect(group.open()).toHaveLength(2)
      // Each scope's pages talk on a channel of their own, named by the protocol version and a
      // hash of the group, and every message names its group by that hash: never the url.
      const channels = await Promise.all(group.tabs.map((t) => t.h.channels()))
      const groupOf = (message: string) => JSON.parse(message).g
      expect(channels[0]!.names).toEqual(channels[1]!.names)
      expect(channels[2]!.names).toEqual(channels[3]!.names)
      expect(channels[0]!.names).not.toEqual(channels[2]!.names)
      for (const [i, c] of channels.entries()) {
        expect(c.posted.length).toBeGreaterThan(0)
        expect(c.names).toHaveLength(1)
        expect(c.names[0]).toMatch(/^use-event-stream\/v2\/[0-9a-z]+$/)
        expect(new Set(c.posted.map(groupOf))).toEqual(new Set([c.names[0]!.split('/').at(-1)]))
        expect(c.posted.some((text) => text.includes(group.channel) || text.includes(server.url))).toBe(false)
        expect(groupOf(c.posted[0]!)).not.toBe(groupOf(channels[i < 2 ? 2 : 0]!.posted[0]!))
      }
    } finally {
      await group.close()
    }
  })

  it("a follower's close() detaches only that page; a page without crossTab is 'solo'", async () => {
    const group = await openGroup(3)
    try {
      const solo = await group.add(null)
      const publisher = startPublisher(() => server, group.channel, 25)
      await sleep(500)
      const states = await Promise.all(group.tabs.map((t) => t.read()))
      const follower = group.tabs[states.findIndex((s) => s.tab === 'follower')]!
      const openBefore = group.open().map((c) => c.id)
      await follower.h.stop(KEY)
      const closed = await follower.read()
      expect({ status: closed.status, tab: closed.tab }).toEqual({ status: 'closed', tab: 'follower' })
      await sleep(1000)
      expect((await follower.read()).ids).toEqual(closed.ids)
      const sent = await publisher.stop()
      const rest = group.tabs.filter((t) => t !== follower)
      const after = await expectEveryPageGotEverything(rest, sent, 'follower closed')
      expect(after.map((s) => s.tab)).toEqual(expect.arrayContaining(['leader', 'follower', 'solo']))
      expect((await solo.read()).tab).toBe('solo')
      // The leader's connection and the solo page's stayed as they were.
      expect(group.open().map((c) => c.id)).toEqual(openBefore)
      expect(openBefore).toHaveLength(2)
    } finally {
      await group.close()
    }
  })
})

/**
 * Publishes `{"n":i}` on `channel` by hand, with an id only where `withId(i)` says: the test decides
 * which event is the last one before a fault. The data strings are the ledger.
 */
function handPublisher(channel: string, withId: (i: number) => boolean) {
  const sent: string[] = []
  return {
    sent,
    publish(count: number) {
      for (let k = 0; k < count; k++) {
        const i = sent.length
        const data = JSON.stringify({ n: i })
        server.publish(channel, { data, sendId: withId(i) })
        sent.push(data)
      }
    },
  }
}

/** Per page: what it lost and what it got twice, by data (the events carry ids only now and then). */
async function dataLedgers(tabs: readonly Tab[], sent: readonly string[], label: string) {
  return (await pageLedgers(tabs, sent, label)).map(({ page, lost, duplicated }) => ({ page, lost, duplicated }))
}

describe('crossTab in Chromium: where the server puts ids on some events only', () => {
  it('the leader crashes after events without ids: the new leader resumes from the group position, nobody gets a replay twice', async () => {
    const group = await openGroup(4, { ledgerBy: 'data' })
    try {
      const pub = handPublisher(group.channel, (i) => i % 5 === 0)
      // 13 events: the last id is on event 10, events 11 and 12 follow without one.
      for (let i = 0; i < 13; i++) {
        pub.publish(1)
        await sleep(25)
      }
      await until(async () => (await Promise.all(group.tabs.map((t) => t.read()))).every((s) => s.ids.at(-1) === pub.sent.at(-1)), 10_000, 'every page has event 12')
      const states = await Promise.all(group.tabs.map((t) => t.read()))
      const leader = group.tabs[states.findIndex((s) => s.tab === 'leader')]!
      const rest = group.tabs.filter((t) => t !== leader)
      const before = group.connections().length
      const cdp = await group.context.newCDPSession(leader.page)
      void cdp.send('Page.crash').catch(() => {})
      await until(async () => (await leaders(rest)) === 1, 5000, 'a new leader')
      for (let i = 0; i < 12; i++) {
        pub.publish(1)
        await sleep(25)
      }
      const ledgers = await dataLedgers(rest, pub.sent, 'id-less handover')
      const resumed = group.connections().slice(before)
      console.log(`[cross-tab] id-less handover: connections since: ${JSON.stringify(resumed.map((c) => ({ lastEventId: c.lastEventId, replayed: c.replayed })))}`)
      expect(ledgers).toEqual(rest.map((_, i) => ({ page: i + 1, lost: 0, duplicated: 0 })))
      expect(resumed).toHaveLength(1)
    } finally {
      await group.close()
    }
  })
})

// Playwright turns the back/forward cache off, and Chromium never keeps a `Cache-Control:
// no-store` page in it (the shared harness server's pages are): this suite has a browser with the
// cache on, and serves the harness page cacheable, with a second page to navigate to.
describe('crossTab in Chromium with the back/forward cache', () => {
  let cacheBrowser: Browser
  let cacheSite: Server
  let cacheUrl = ''

  beforeAll(async () => {
    const [script, launched] = await Promise.all([bundleHarness(), chromium.launch({ ...chromiumLaunchOptions(), ignoreDefaultArgs: ['--disable-back-forward-cache'] })])
    cacheBrowser = launched
    const html = '<!doctype html><html><head><meta charset="utf-8"><title>loading</title></head><body><div id="out"></div><script type="module" src="/harness.js"></script></body></html>'
    cacheSite = createServer((req, res) => {
      if (req.url === '/harness.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script)
      if (req.url === '/elsewhere') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>elsewhere</title>')
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
    })
    await new Promise<void>((resolve) => cacheSite.listen(0, '127.0.0.1', resolve))
    const address = cacheSite.address()
    cacheUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`
  })

  afterAll(async () => {
    await cacheBrowser?.close()
    cacheSite?.closeAllConnections()
    await new Promise<void>((resolve) => (cacheSite ? cacheSite.close(() => resolve()) : resolve()))
  })

  it('a leader navigated away hands over at once; back again (restored from the cache) it follows, and no tab loses or repeats an event', async () => {
    const context = await cacheBrowser.newContext()
    const channel = `seq-crosstab-${++groupSeq}`
    try {
      const tabs: Tab[] = []
      for (let i = 0; i < 3; i++) {
        const page = await context.newPage()
        await page.goto(cacheUrl)
        await page.waitForFunction(() => document.title === 'harness ready', undefined, { timeout: 10_000 })
        const h = harnessOf(page)
        await h.open({ key: KEY, transport: 'fetch', streamUrl: `${server.url}/stream?channel=${channel}`, tokenUrl: `${server.url}/auth/sse-token?ttl=30`, apiKey: server.apiKey, crossTab: { scope: 'alice' } })
        const tab: Tab = { page, console: [], h, read: () => h.read(KEY) }
        tabs.push(tab)
        await until(async () => (await tab.read()).status === 'open', 10_000, `page ${i + 1} open`)
      }
      const publisher = startPublisher(() => server, channel, 25)
      await until(async () => (await tabs.at(-1)!.read()).ids.length > 10, 10_000, 'events flowing')
      const states = await Promise.all(tabs.map((t) => t.read()))
      const leader = tabs[states.findIndex((s) => s.tab === 'leader')]!
      const rest = tabs.filter((t) => t !== leader)
      await leader.page.evaluate(() => addEventListener('pageshow', (event) => ((window as any).restored = event.persisted)))
      const t0 = Date.now()
      await leader.page.goto(`${cacheUrl}elsewhere`)
      await until(async () => (await leaders(rest)) === 1, 5000, 'a new leader')
      const handover = Date.now() - t0
      await sleep(1000)
      await leader.page.goBack({ waitUntil: 'commit' })
      await until(async () => (await leader.page.evaluate(() => (window as any).restored)) !== undefined, 5000, 'the page shown again')
      const restored = await leader.page.evaluate(() => (window as any).restored)
      await until(async () => (await leader.read()).status === 'open', 5000, 'the restored page follows')
      await sleep(1000)
      const sent = await publisher.stop()
      console.log(`[cross-tab] bfcache: handover after ${handover} ms; restored from the cache: ${restored}`)
      expect(restored).toBe(true)
      expect(handover).toBeLessThan(1000)
      await expectEveryPageGotEverything(tabs, sent, 'bfcache')
      expect(await leaders(tabs)).toBe(1)
      expect((await leader.read()).tab).toBe('follower')
    } finally {
      await context.close()
    }
  })
})

describe('the demo (npm run demo) in two tabs', () => {
  it('the first tab leads both panels, the second follows them: its token card stays idle, its ledgers show nothing lost or repeated', async () => {
    const { demoConfig } = await import('../../demo/vite.config')
    const { createServer } = await import('vite')
    const config = demoConfig(server.url)
    const vite = await createServer({ ...config, server: { ...config.server, port: 0, strictPort: false, hmr: false }, logLevel: 'silent' })
    await vite.listen()
    const context = await browser.newContext()
    try {
      const url = vite.resolvedUrls!.local[0]!
      const text = (page: Page, testId: string) => page.getByTestId(testId).textContent({ timeout: 15_000 })
      const tabs = async (page: Page) => [await text(page, 'tab-eventsource'), await text(page, 'tab-fetch')]
      const first = await context.newPage()
      await first.goto(url)
      await until(async () => (await tabs(first)).every((t) => t === 'leader'), 20_000, 'the first tab leads')
      const second = await context.newPage()
      await second.goto(url)
      expect(await text(second, 'cross-tab-note')).toContain('Open this page in a second tab')
      await until(async () => (await tabs(second)).every((t) => t === 'follower') && Number(await text(second, 'received-fetch')) >= 2, 20_000, 'the second tab follows')
      expect(await tabs(first)).toEqual(['leader', 'leader'])
      expect([await text(first, 'token-status'), await text(second, 'token-status')]).toEqual(['valid', 'idle'])
      for (const transport of ['eventsource', 'fetch']) {
        expect([await text(second, `lost-${transport}`), await text(second, `duplicated-${transport}`)]).toEqual(['0', '0'])
      }
    } finally {
      await context.close()
      await vite.close()
    }
  })
})
