// Cross-tab sharing under random schedules in a real Chromium: each schedule opens 3–5 pages of one
// browser context sharing a stream (`crossTab`), publishes an event every 25 ms with ids on some
// events only (always on the first, so that there is a position to resume from), and meanwhile
// opens pages, closes them, crashes them (CDP Page.crash) and stalls them (CDP Debugger.pause,
// briefly or long enough for a follower to take over). Every page's ledger, from the first event
// it received, must be 0 lost / 0 duplicated.
//
// Seeded: the seed is printed first. Replay a run with
//   SEED=1234 npx vitest run --project e2e test/e2e/cross-tab-random.test.ts
// (SCHEDULES=n changes the number of schedules, default 20; SCHEDULE=k runs only schedule k). The
// seed fixes each schedule's steps and waits, not the browser's timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, CDPSession } from 'playwright-core'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { mulberry32 } from '../helpers/random'
import { bundleHarness, harnessOf, launchChromium, ledger, openHarnessPage, pauseScript, serveHarness, sleep, startPublisher, until, within, type StaticSite, type StreamState } from './support'

const SEED = process.env.SEED !== undefined && process.env.SEED !== '' ? Number(process.env.SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0
const SCHEDULES = Number(process.env.SCHEDULES ?? 20)
const ONLY = process.env.SCHEDULE !== undefined && process.env.SCHEDULE !== '' ? Number(process.env.SCHEDULE) : undefined
console.log(`[cross-tab-random] SEED=${SEED} (replay: SEED=${SEED} npx vitest run --project e2e test/e2e/cross-tab-random.test.ts)`)

const KEY = 'shared'
let server: ReferenceServer
let site: StaticSite
let browser: Browser

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

// Every call into a page is bounded: a page that stops answering (paused, crashed, stuck) fails its
// schedule with the call it did not answer and every page's state, instead of hanging the suite.
const CALL_MS = 10_000

interface Page {
  name: string
  read(): Promise<StreamState>
  cdp(method: 'Debugger.resume' | 'Page.crash'): Promise<unknown>
  /** Pauses the page's script in the debugger; resolves once it is paused. */
  pause(): Promise<void>
  close(): Promise<void>
  /** Not closed or crashed by the schedule. */
  alive: boolean
  /**
   * Its renderer crashed: by the schedule, or with another page's when Chromium hosted both in one
   * process (it may, for same-site pages, when it runs short of processes). Such a page is gone
   * like a crashed one: it takes no further steps and has no ledger to check.
   */
  crashed: boolean
}

async function openPage(context: BrowserContext, channel: string, name: string): Promise<Page> {
  const { page } = await within(openHarnessPage(context, site), CALL_MS, `${name}: load the harness`)
  const h = harnessOf(page)
  await within(h.open({
    key: KEY,
    transport: 'fetch',
    streamUrl: `${server.url}/stream?channel=${channel}`,
    tokenUrl: `${server.url}/auth/sse-token?ttl=30`,
    apiKey: server.apiKey,
    ledgerBy: 'data',
    crossTab: { scope: 'alice' },
  }), CALL_MS, `${name}: open the stream`)
  let session: CDPSession | undefined
  const cdp = async () => (session ??= await within(context.newCDPSession(page), CALL_MS, `${name}: CDP session`))
  const self: Page = {
    name,
    alive: true,
    crashed: false,
    read: () => within(h.read(KEY), CALL_MS, `${name}: read`),
    cdp: async (method) => within((await cdp()).send(method), CALL_MS, `${name}: ${method}`),
    pause: async () => pauseScript(await cdp(), name),
    close: () => within(page.close(), CALL_MS, `${name}: close`),
  }
  page.on('crash', () => (self.crashed = true))
  return self
}

/** The pages still up; a page that went down with another's renderer is noted in `steps` once. */
function live(pages: Page[], steps: string[]): Page[] {
  for (const p of pages) {
    if (p.alive && p.crashed) {
      p.alive = false
      steps.push(`${p.name} crashed with another page's renderer`)
    }
  }
  return pages.filter((p) => p.alive)
}

/**
 * The states of the pages still up. A page whose read fails because its renderer crashed (with
 * another page's, whose crash event may come after the read was sent) is taken out as gone.
 */
async function readLive(pages: Page[], steps: string[]): Promise<{ alive: Page[]; states: StreamState[] }> {
  const candidates = live(pages, steps)
  const results = await Promise.allSettled(candidates.map((p) => p.read()))
  const alive: Page[] = []
  const states: StreamState[] = []
  for (const [i, result] of results.entries()) {
    const page = candidates[i]!
    if (result.status === 'fulfilled') {
      alive.push(page)
      states.push(result.value)
      continue
    }
    await until(() => page.crashed, 1000, `${page.name} to report its crash`).catch(() => {
      throw result.reason
    })
    live(pages, steps)
  }
  return { alive, states }
}

/** Each live page's state in one line, or why it gave none. */
async function describePages(pages: readonly Page[]): Promise<string> {
  const lines = await Promise.all(
    pages
      .filter((p) => p.alive)
      .map(async (p) => {
        if (p.crashed) return `${p.name}: crashed`
        try {
          const s = await within(p.read(), 2000, 'read')
          return `${p.name}: ${s.tab} ${s.status}, ${s.ids.length} events`
        } catch (error) {
          return `${p.name}: ${(error as Error).message}`
        }
      }),
  )
  return lines.join('; ')
}

type Action = 'open' | 'close' | 'crash' | 'stall' | 'long stall' | 'wait'

async function runSchedule(index: number, run = 1): Promise<{ steps: string[]; ledgers: Array<{ page: string; lost: number; duplicated: number; received: number }>; leaders: number; stuck?: string }> {
  let h = SEED ^ 0x9e3779b9
  h = Math.imul(h ^ index, 0x85ebca6b) >>> 0
  const random = mulberry32(h)
  const pick = <T,>(items: readonly T[]) => items[Math.floor(random() * items.length)]!
  const context = await browser.newContext()
  const channel = `seq-random-crosstab-${SEED}-${index}-${run}`
  const steps: string[] = []
  const pages: Page[] = []
  let named = 0
  let publisher: ReturnType<typeof startPublisher> | undefined
  const add = async () => {
    const page = await openPage(context, channel, `p${++named}`)
    pages.push(page)
    return page
  }
  try {
    const initial = 3 + Math.floor(random() * 3)
    for (let i = 0; i < initial; i++) await add()
    await until(async () => (await Promise.all(pages.map((p) => p.read()))).every((s) => s.status === 'open'), 10_000, 'every page open')
    const idEvery = pick([1, 2, 3, 5])
    publisher = startPublisher(() => server, channel, 25, { sendId: (i) => i === 0 || random() < 1 / idEvery, ledgerBy: 'data' })
    steps.push(`${initial} pages, ids on ~1/${idEvery}`)
    await sleep(300)
    const actions = 3 + Math.floor(random() * 3)
    for (let a = 0; a < actions; a++) {
      const { alive, states } = await readLive(pages, steps)
      const leader = alive[states.findIndex((s) => s.tab === 'leader')]
      // Between 3 and 5 pages (2 after a page went away, before another opens).
      const choices: Action[] = [
        'stall',
        'wait',
        ...(alive.length < 5 ? (['open'] as const) : []),
        ...(alive.length > 2 ? (['close', 'crash', 'crash'] as const) : []),
        ...(random() < 0.25 ? (['long stall'] as const) : []),
      ]
      const action = pick(choices)
      // Faults hit the leader half of the time: that is where the protocol works hardest.
      const target = leader && random() < 0.5 ? leader : pick(alive)
      steps.push(`${action}${action === 'open' || action === 'wait' ? '' : ` ${target.name}${target === leader ? ' (leader)' : ''}`}`)
      switch (action) {
        case 'open':
          await add()
          break
        case 'close':
          target.alive = false
          await target.close()
          break
        case 'crash': {
          target.alive = false
          void target.cdp('Page.crash').catch(() => {})
          break
        }
        case 'stall':
        case 'long stall': {
          await target.pause()
          await sleep(action === 'stall' ? 200 + Math.floor(random() * 1000) : 5500)
          await target.cdp('Debugger.resume')
          break
        }
        case 'wait':
          break
      }
      await sleep(200 + Math.floor(random() * 600))
    }
    await sleep(1000)
    const sent = await publisher.stop()
    await until(async () => (await readLive(pages, steps)).states.every((s) => s.ids.at(-1) === sent.at(-1)), 10_000, 'every page has the last event').catch(() => {})
    const { alive, states } = await readLive(pages, steps)
    const ledgers = states.map((s, i) => {
      const from = Math.max(0, sent.indexOf(s.ids[0]!))
      const l = ledger(sent.slice(from), s.ids)
      return { page: alive[i]!.name, lost: l.lost, duplicated: l.duplicated, received: l.received }
    })
    const leaders = states.filter((s) => s.tab === 'leader').length
    steps.push(`leaders at the end: ${leaders}`)
    return { steps, ledgers, leaders }
  } catch (error) {
    return { steps, ledgers: [], leaders: 0, stuck: `${(error as Error).message} (pages: ${await describePages(pages)})` }
  } finally {
    await publisher?.stop()
    await within(context.close(), CALL_MS, 'close the browser context').catch((error: Error) => console.log(`[cross-tab-random] ${error.message}`))
  }
}

describe(`crossTab in Chromium under random schedules (SEED=${SEED})`, () => {
  const indexes = ONLY !== undefined ? [ONLY] : Array.from({ length: SCHEDULES }, (_, i) => i)
  it(`${indexes.length} schedules of 3–5 pages opening, closing, crashing and stalling: every page's ledger is 0 lost / 0 duplicated, one leader at the end`, async () => {
    const failures: string[] = []
    for (const index of indexes) {
      let result = await runSchedule(index)
      if (result.stuck !== undefined) {
        // A browser call that never settled is not what this suite checks (the ledgers are), but it
        // is shown, and a schedule stuck twice fails. The browser is relaunched in case it is wedged.
        console.log(`[cross-tab-random] SEED=${SEED} SCHEDULE=${index}: ${result.steps.join('; ')} STUCK: ${result.stuck}; running it once more in a new browser`)
        await within(browser.close(), CALL_MS, 'close the browser').catch(() => {})
        browser = await launchChromium()
        result = await runSchedule(index, 2)
      }
      const { steps, ledgers, leaders, stuck } = result
      const bad: unknown[] = ledgers.filter((l) => l.lost !== 0 || l.duplicated !== 0 || l.received === 0)
      if (leaders !== 1) bad.push({ leaders })
      if (stuck !== undefined) bad.push({ stuck })
      console.log(`[cross-tab-random] SEED=${SEED} SCHEDULE=${index}: ${steps.join('; ')}${stuck !== undefined ? ` STUCK: ${stuck}` : ''} -> ${ledgers.map((l) => `${l.page} ${l.received}/${l.lost}/${l.duplicated}`).join(', ')}`)
      if (bad.length) failures.push(`SEED=${SEED} SCHEDULE=${index}: ${steps.join('; ')}: ${JSON.stringify(bad)}`)
    }
    expect(failures).toEqual([])
  }, 30 * 60_000)
})
