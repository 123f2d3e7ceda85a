// The cross-tab protocol on the virtual clock (test/helpers/crossTabLab.ts): tabs of one process
// with in-memory channels and locks, a replaying log with ids on some events, and short timings
// (a beat of 100 ms, staleness of 400 ms) passed through the platform. Every wait is virtual.
import { afterEach, describe, expect, it } from 'vitest'
import { STREAM_DEFAULTS } from '../../src/core/eventStream'
import { crossTabGroupKey, crossTabName } from '../../src/crossTab/groupKey'
import { createLab, ledgerOf, type LabTab } from '../helpers/crossTabLab'

const open: LabTab[] = []
afterEach(() => {
  for (const tab of open.splice(0)) tab.stream.close()
})

const data = (tab: LabTab) => tab.events.map((e) => e.data)
const tabOf = (tab: LabTab) => tab.stream.getSnapshot().tab

async function group(n: number, seed = 1) {
  const lab = createLab({ seed })
  const tabs: LabTab[] = []
  for (let i = 0; i < n; i++) {
    const tab = lab.tab()
    open.push(tab)
    tabs.push(tab)
    tab.stream.connect()
    await lab.advance(50)
  }
  return { lab, tabs }
}

describe('the cross-tab protocol on the virtual clock', () => {
  it('a leader that stops running is taken over after the staleness by a follower that heard it; a tab opened meanwhile never leads; nobody loses or repeats an event', async () => {
    const { lab, tabs } = await group(3)
    const [leader, ...rest] = tabs
    expect(tabs.map(tabOf)).toEqual(['leader', 'follower', 'follower'])
    for (let i = 0; i < 12; i++) {
      lab.publish({ id: i % 5 === 0 })
      await lab.advance(10)
    }
    leader!.stall()
    const newcomer = lab.tab()
    open.push(newcomer)
    newcomer.stream.connect()
    for (let i = 0; i < 100; i++) {
      lab.publish({ id: i % 5 === 0 })
      await lab.advance(10)
    }
    expect(tabOf(newcomer)).toBe('follower')
    expect(rest.map(tabOf).sort()).toEqual(['follower', 'leader'])
    leader!.resume()
    for (let i = 0; i < 20; i++) {
      lab.publish({ id: i % 5 === 0 })
      await lab.advance(10)
    }
    await lab.advance(500)
    expect(tabOf(leader!)).toBe('follower')
    for (const tab of [...tabs]) expect({ tab: tab.name, ...ledgerOf(lab.sent, data(tab)) }).toEqual({ tab: tab.name, lost: 0, duplicated: 0 })
    const joined = data(newcomer)
    expect(ledgerOf(lab.sent.slice(lab.sent.indexOf(joined[0]!)), joined)).toEqual({ lost: 0, duplicated: 0 })
  })

  it('a crashed leader is replaced within a beat and the new one resumes from the group position: no replay of an event without an id is delivered twice', async () => {
    const { lab, tabs } = await group(3)
    for (let i = 0; i < 13; i++) {
      lab.publish({ id: i % 5 === 0 })
      await lab.advance(10)
    }
    const requests = lab.streamRequests
    tabs[0]!.crash()
    await lab.advance(100)
    expect(tabs.slice(1).map(tabOf).sort()).toEqual(['follower', 'leader'])
    expect(lab.streamRequests).toBe(requests + 1)
    for (let i = 0; i < 10; i++) {
      lab.publish({ id: i % 5 === 0 })
      await lab.advance(10)
    }
    await lab.advance(100)
    for (const tab of tabs.slice(1)) expect(ledgerOf(lab.sent, data(tab))).toEqual({ lost: 0, duplicated: 0 })
  })

  it('id-only blocks are relayed: every tab is at the leader\'s position', async () => {
    const { lab, tabs } = await group(2)
    lab.publish({ id: true })
    lab.publish()
    lab.idOnly()
    lab.publish()
    await lab.advance(50)
    expect(tabs.map((t) => t.stream.getSnapshot().lastEventId)).toEqual(['b2', 'b2'])
    tabs[0]!.crash()
    await lab.advance(100)
    lab.publish()
    await lab.advance(50)
    expect(ledgerOf(lab.sent, data(tabs[1]!))).toEqual({ lost: 0, duplicated: 0 })
  })

  it('a group that ended (204) stays ended for as long as nobody connects, with nobody shown as leader; a reconnect() anywhere starts it again', async () => {
    const { lab, tabs } = await group(3)
    lab.refuse = true
    const requests = lab.streamRequests
    tabs[0]!.stream.reconnect()
    await lab.advance(100)
    expect(tabs.map((t) => t.stream.getSnapshot().status)).toEqual(['closed', 'closed', 'closed'])
    await lab.advance(100 * lab.timings.stale)
    expect(lab.streamRequests).toBe(requests + 1)
    expect(tabs.map(tabOf)).toEqual(['follower', 'follower', 'follower'])
    lab.refuse = false
    tabs[2]!.stream.reconnect()
    await lab.advance(200)
    expect(tabs.map((t) => t.stream.getSnapshot().status)).toEqual(['open', 'open', 'open'])
    expect(tabs.map(tabOf)).toEqual(['follower', 'follower', 'leader'])
  })

  it('a flood of resend requests is answered at most 20 times a beat; a follower that was not answered asks again and gets its steps', async () => {
    const { lab, tabs } = await group(2)
    const spy = lab.intruder(crossTabName(crossTabGroupKey({ url: 'https://app.example/stream', crossTab: { scope: 'alice' }, transport: 'fetch' }, STREAM_DEFAULTS)!))
    lab.publish({ id: true })
    await lab.advance(20)
    const g = spy.heard[0]!.g
    for (let i = 0; i < 100; i++) spy.post({ g, from: `forger-${i}`, t: 'resend', at: { id: 'e1', since: 0 } })
    await lab.advance(10)
    expect(spy.heard.filter((m) => m.t === 'replay').length).toBe(20)
    // A follower that missed steps meanwhile still gets them (it asks again the next beat).
    tabs[1]!.stall()
    for (let i = 0; i < 5; i++) lab.publish()
    await lab.advance(20)
    tabs[1]!.resume()
    for (let i = 0; i < 100; i++) spy.post({ g, from: `forger-${i}`, t: 'resend', at: { id: 'e1', since: 0 } })
    lab.publish()
    await lab.advance(500)
    expect(ledgerOf(lab.sent, data(tabs[1]!))).toEqual({ lost: 0, duplicated: 0 })
  })
})
