// `crossTab` in the React binding, against the reference server: two `TokenProvider`s in one
// document are two registries, so their hooks make two streams that form a cross-tab group as two
// tabs would (jsdom has no Web Locks: an in-process `navigator.locks`, test/helpers/fakeLocks.ts,
// and Node's BroadcastChannel stand in). The Chromium suite runs real tabs.
import { act, cleanup, render, screen } from '@testing-library/react'
import { renderToString } from 'react-dom/server'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TokenProvider, useEventStream, useToken } from 'use-event-stream'
import { createFakeLocks } from '../helpers/fakeLocks'
import { eventually, sleep } from '../helpers/wait'
import { openConnections, publish, streamUrl, tokenFetcher, uniqueChannel } from './helpers'

const hasBroadcastChannel = typeof globalThis.BroadcastChannel === 'function'

const setLocks = (locks: unknown) => Object.defineProperty(globalThis.navigator, 'locks', { value: locks, configurable: true })
beforeEach(() => {
  setLocks(createFakeLocks())
})
afterEach(async () => {
  cleanup()
  delete (globalThis.navigator as { locks?: unknown }).locks
  // Closed streams let their connections go after the provider's deferred clean-up.
  await sleep(20)
})

function Feed({ name, url, crossTab, log }: { name: string; url: string; crossTab?: { scope: string } | false; log?: string[] }) {
  const { status, data, tab, state } = useEventStream(url, {
    crossTab,
    reduce: (n: number, event) => {
      log?.push(`${name}:${event.data}`)
      return n + 1
    },
    initialState: 0,
  })
  return <p data-testid={name}>{`${status} ${tab} data=${data ?? '-'} reduced=${state}`}</p>
}

function TokenStatus({ name }: { name: string }) {
  return <p data-testid={`${name}-token`}>{useToken().status}</p>
}

const text = (name: string) => screen.getByTestId(name).textContent

describe.runIf(hasBroadcastChannel)('crossTab under TokenProvider', () => {
  it("two providers with crossTab={{ scope }} share one connection; the follower's hook shows the latest event at once, without reducing it", async () => {
    const channel = uniqueChannel('react-crosstab')
    const url = streamUrl(channel)
    const fetchA = tokenFetcher()
    const fetchB = tokenFetcher()
    const log: string[] = []
    render(
      <TokenProvider fetchToken={fetchA} crossTab={{ scope: 'alice' }}>
        <Feed name="a" url={url} log={log} />
        <TokenStatus name="a" />
      </TokenProvider>,
    )
    await eventually(() => expect(text('a')).toBe('open leader data=- reduced=0'))
    await act(async () => {
      await publish(channel, 'first')
    })
    await eventually(() => expect(text('a')).toBe('open leader data=first reduced=1'))
    render(
      <TokenProvider fetchToken={fetchB} crossTab={{ scope: 'alice' }}>
        <Feed name="b" url={url} log={log} />
        <TokenStatus name="b" />
      </TokenProvider>,
    )
    // The latest event is shown at once; it is not new to the group, so `reduce` does not see it.
    await eventually(() => expect(text('b')).toBe('open follower data=first reduced=0'))
    await act(async () => {
      await publish(channel, 'second')
    })
    await eventually(() => expect([text('a'), text('b')]).toEqual(['open leader data=second reduced=2', 'open follower data=second reduced=1']))
    expect(log).toEqual(['a:first', 'a:second', 'b:second'])
    expect(await openConnections(channel)).toBe(1)
    // Only the leader's provider fetched a token; the follower's useToken() says it holds none.
    expect([fetchA.calls, fetchB.calls]).toEqual([1, 0])
    expect([text('a-token'), text('b-token')]).toEqual(['valid', 'idle'])
  })

  it("crossTab is part of the stream key: a hook's own crossTab (false included) wins over the provider's", async () => {
    const channel = uniqueChannel('react-crosstab-key')
    const url = streamUrl(channel)
    render(
      <TokenProvider fetchToken={tokenFetcher()} crossTab={{ scope: 'alice' }}>
        <Feed name="default" url={url} />
        <Feed name="same" url={url} crossTab={{ scope: 'alice' }} />
        <Feed name="bob" url={url} crossTab={{ scope: 'bob' }} />
        <Feed name="solo" url={url} crossTab={false} />
      </TokenProvider>,
    )
    await eventually(() => {
      expect(text('default')).toMatch(/^open leader/)
      expect(text('same')).toMatch(/^open leader/)
      expect(text('bob')).toMatch(/^open leader/)
      expect(text('solo')).toMatch(/^open solo/)
    })
    // alice (shared by two hooks in this tab), bob, and the solo stream.
    expect(await openConnections(channel)).toBe(3)
  })
})

describe('crossTab where streams cannot be shared', () => {
  it("server rendering: the idle snapshot, tab 'solo', no error", () => {
    const errors = vi.spyOn(console, 'error')
    function Status() {
      const { status, tab } = useEventStream('/api/stream', { crossTab: { scope: 'alice' } })
      return <p>{`${status}:${tab}`}</p>
    }
    const html = renderToString(
      <TokenProvider fetchToken={tokenFetcher()} crossTab={{ scope: 'alice' }}>
        <Status />
      </TokenProvider>,
    )
    expect(html).toBe('<p>idle:solo</p>')
    expect(errors).not.toHaveBeenCalled()
    errors.mockRestore()
  })

  it("without navigator.locks the hook streams on its own: 'solo'", async () => {
    setLocks(undefined)
    const channel = uniqueChannel('react-crosstab-solo')
    render(
      <TokenProvider fetchToken={tokenFetcher()} crossTab={{ scope: 'alice' }}>
        <Feed name="a" url={streamUrl(channel)} />
      </TokenProvider>,
    )
    await eventually(() => expect(text('a')).toBe('open solo data=- reduced=0'))
  })
})
