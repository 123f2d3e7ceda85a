// One stream position for every resumed connection: reconnects, both rotation policies and the
// eventsource transport's id semantics resume from it and drop replays by the same rule. Driven on
// a virtual clock through the mock transport, against a scripted log that replays after the id a
// connection resumes from (as a server keeping its events does), with ids on some events and
// id-only blocks.
import { afterEach, describe, expect, it } from 'vitest'
import { createEventStream, createTokenManager, TokenError, type EventStream, type EventStreamError, type EventStreamOptions } from 'use-event-stream/core'
import { createMockTokens, createMockTransport, type MockConnection } from 'use-event-stream/testing'
import { createStreamPosition } from '../../src/core/position'
import { decideOnFailure } from '../../src/core/failurePolicy'
import { createFakePlatform } from '../helpers/fakePlatform'
import { ledger } from '../helpers/replayServer'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
})

/** A step of the server's log: an event (data, maybe its own id) or an id-only block. */
type Step = { data: string; id?: string } | { id: string; data?: undefined }

/**
 * The server side: a log the test appends to; `accept(connection)` answers a connection 200 and
 * replays every step after the id it resumed from (nothing without one, or for an unknown id),
 * then sends it every step appended while it is live.
 */
function scriptedLog() {
  const steps: Step[] = []
  const live = new Set<MockConnection>()
  const send = (connection: MockConnection, step: Step) => {
    if (step.data === undefined) connection.id(step.id)
    else connection.emit({ data: step.data, id: step.id })
  }
  return {
    steps,
    append(...added: Step[]) {
      for (const step of added) {
        steps.push(step)
        for (const connection of live) if (connection.active) send(connection, step)
      }
    },
    accept(connection: MockConnection) {
      connection.open()
      const resumeAt = connection.lastEventId ? steps.findIndex((s) => s.id === connection.lastEventId) : -1
      if (resumeAt >= 0) for (const step of steps.slice(resumeAt + 1)) send(connection, step)
      live.add(connection)
    },
    /** Published events, numbered from 1 (the data of the n-th event is `n`). */
    get published() {
      return steps.filter((s) => s.data !== undefined).length
    },
  }
}

function setup(options: { transport?: 'fetch' | 'eventsource'; extra?: Partial<EventStreamOptions<string>> } = {}) {
  const clock = createFakePlatform()
  const transport = createMockTransport(options.transport ?? 'fetch')
  const tokens = createMockTokens()
  const received: string[] = []
  const errors: EventStreamError[] = []
  const stream = createEventStream<string>({
    url: 'http://127.0.0.1:9/stream',
    transport,
    tokens,
    platform: clock.platform,
    reconnect: { initialDelay: 100, maxDelay: 100 },
    onEvent: (e) => received.push(e.data),
    onError: (e) => errors.push(e),
    ...options.extra,
  })
  cleanups.push(() => stream.close())
  const log = scriptedLog()
  let n = 0
  /** Appends the next event (data = its number), with an id of its own when `withId`. */
  const publish = (withId = false) => {
    n++
    log.append(withId ? { data: String(n), id: `e${n}` } : { data: String(n) })
  }
  return { clock, transport, tokens, stream, received, errors, log, publish }
}

const latest = (transport: { connections: readonly MockConnection[] }) => transport.connections.at(-1)!

describe('the stream position (unit)', () => {
  const event = (data: string, lastEventId: string | undefined, hasOwnId?: boolean) => ({ type: 'message', data, lastEventId, hasOwnId })

  it('counts events after the last id, and an id-only block moves it', () => {
    const position = createStreamPosition()
    position.event(event('a', '1', true))
    position.event(event('b', '1', false))
    expect([position.id, position.since]).toEqual(['1', 1])
    position.idOnly('5')
    expect([position.id, position.since]).toEqual(['5', 0])
  })

  it('a resumed connection drops the events after the id that were delivered, then passes everything', () => {
    const position = createStreamPosition()
    position.event(event('a', '1', true))
    position.event(event('b', '1', false))
    position.event(event('c', '1', false))
    const filter = position.resume()
    expect(filter.lastEventId).toBe('1')
    expect(filter.isReplay(event('b', '1', false))).toBe(true)
    expect(filter.isReplay(event('c', '1', false))).toBe(true)
    expect(filter.caughtUp).toBe(true)
    expect(filter.isReplay(event('d', '1', false))).toBe(false)
  })

  it('steps delivered while a new connection is being established are expected from it too, id-only blocks included', () => {
    const position = createStreamPosition()
    position.event(event('a', '1', true))
    const filter = position.resume()
    position.event(event('b', '1', false))
    position.idOnly('5')
    position.event(event('c', '5', false))
    expect(filter.isReplay(event('b', '1', false))).toBe(true)
    expect(filter.isReplayedId('5')).toBe(true)
    expect(filter.isReplay(event('c', '5', false))).toBe(true)
    expect(filter.isReplayedId('6')).toBe(false)
  })

  it('an uncertain id (own, or from a block before the event) is resolved by what the server repeats', () => {
    for (const blockBefore of [true, false]) {
      const position = createStreamPosition()
      position.event(event('a', '5', undefined))
      position.event(event('b', '5', false))
      const filter = position.resume()
      // The server repeats `a` only when its id came from a block before it.
      if (blockBefore) expect(filter.isReplay(event('a', '5', false))).toBe(true)
      expect(filter.isReplay(event('b', '5', false))).toBe(true)
      expect(filter.isReplay(event('c', '5', false))).toBe(false)
    }
  })

  it('a server that resumes elsewhere costs nothing more than what it skipped: the first unexpected step is new', () => {
    const position = createStreamPosition()
    position.event(event('a', '1', true))
    position.event(event('b', '1', false))
    const filter = position.resume()
    expect(filter.isReplay(event('x', '9', true))).toBe(false)
    expect(filter.isReplay(event('b', '9', false))).toBe(false)
  })

  it('a position moved to a point (a tab joining a group) resumes from it and drops the events counted after its id', () => {
    const position = createStreamPosition('0')
    position.moveTo({ id: '5', since: 2 })
    expect([position.id, position.since]).toEqual(['5', 2])
    const filter = position.resume()
    expect(filter.lastEventId).toBe('5')
    expect(filter.isReplay(event('b', '5', false))).toBe(true)
    expect(filter.isReplay(event('c', '5', false))).toBe(true)
    expect(filter.isReplay(event('d', '5', false))).toBe(false)
  })

  it('filterAfter expects the given steps after a point, each at its position, then passes everything', () => {
    const filter = createStreamPosition().filterAfter({ id: '1', since: 1 }, [
      { kind: 'event', id: '1', since: 2, type: 'message', data: 'c' },
      { kind: 'id', id: '5' },
      { kind: 'event', id: '5', since: 1, type: 'message', data: 'd' },
    ])
    expect(filter.lastEventId).toBe('1')
    expect(filter.isReplay(event('c', '1', false))).toBe(true)
    expect(filter.isReplayedId('5')).toBe(true)
    expect(filter.isReplay(event('d', '5', false))).toBe(true)
    expect(filter.isReplay(event('e', '5', false))).toBe(false)
  })

  it('without an id there is nothing to resume from, so nothing is dropped', () => {
    const position = createStreamPosition()
    position.event(event('a', undefined, false))
    const filter = position.resume()
    expect(filter.lastEventId).toBeUndefined()
    expect(filter.isReplay(event('a', undefined, false))).toBe(false)
  })
})

describe('the failure policy (the table of docs/states-and-errors.md)', () => {
  const error = (kind: string, status?: number) => ({ kind, status }) as EventStreamError
  const base = { tokens: true, refreshed: false, statusesHidden: false, opened: false }
  it.each([
    ['401/403 with a token manager, first time', error('unauthorized', 401), base, 'refresh'],
    ['401/403 again before an open', error('unauthorized', 401), { ...base, refreshed: true }, 'stop'],
    ['401/403 without a token manager', error('unauthorized', 401), { ...base, tokens: false }, 'stop'],
    ['408', error('http', 408), base, 'retry'],
    ['429', error('http', 429), base, 'retry'],
    ['5xx', error('http', 503), base, 'retry'],
    ['another 4xx', error('http', 404), base, 'stop'],
    ['wrong content type', error('content-type'), base, 'stop'],
    ['over-long line or event', error('line-too-long'), base, 'stop'],
    ['a request that cannot be made', error('invalid-request'), base, 'stop'],
    ['network', error('network'), base, 'retry'],
    ['idle timeout', error('idle-timeout'), base, 'retry'],
    ['a refusal whose status the transport hid', error('network'), { ...base, statusesHidden: true }, 'retry-newer-token'],
    ['a hidden-status failure after the connection opened', error('network'), { ...base, statusesHidden: true, opened: true }, 'retry'],
  ] as const)('%s → %s', (_name, failure, context, action) => {
    expect(decideOnFailure(failure, context)).toBe(action)
  })
})

describe('every resumed connection resumes from the position and drops replays by it', () => {
  it('an id-only block after an overlap rotation moves the resume point, and later rotations lose nothing', async () => {
    const { clock, transport, tokens, stream, received, log, publish } = setup()
    stream.connect()
    await clock.advance(0)
    log.accept(latest(transport))
    publish(true) // 1, id e1
    publish()
    publish()
    tokens.rotate()
    await clock.advance(0)
    // The new connection opens late: the old one delivers 4 meanwhile.
    publish()
    await clock.advance(300)
    log.accept(latest(transport))
    expect(transport.connections[0]!.aborted).toBe(true)
    log.append({ id: 'b5' })
    publish()
    publish()
    expect(stream.getSnapshot().lastEventId).toBe('b5')
    for (let r = 0; r < 2; r++) {
      tokens.rotate()
      await clock.advance(0)
      publish()
      log.accept(latest(transport))
    }
    publish()
    expect(latest(transport).lastEventId).toBe('b5')
    expect(ledger(received, log.published)).toEqual({ lost: 0, duplicated: 0, first: 1 })
  })

  for (const policy of ['overlap', 'reconnect'] as const) {
    it(`eventsource semantics (ids only as the stream's last id, id-only blocks invisible): 0 lost, 0 duplicated over 60 ${policy} rotations with ids on every 3rd event and id-only blocks`, async () => {
      const { clock, transport, tokens, stream, received, log, publish } = setup({ transport: 'eventsource', extra: { rotation: policy } })
      stream.connect()
      await clock.advance(0)
      log.accept(latest(transport))
      let n = 0
      const step = () => {
        n++
        if (n % 7 === 0) log.append({ id: `b${n}` })
        else publish(n % 3 === 0)
      }
      step()
      publish(true)
      for (let r = 0; r < 60; r++) {
        for (let i = 0; i < 1 + (r % 4); i++) step()
        tokens.rotate()
        await clock.advance(0)
        // The old connection goes on while the new one connects (overlap only).
        for (let i = 0; i < r % 3; i++) step()
        log.accept(latest(transport))
        for (let i = 0; i < r % 2; i++) step()
      }
      publish(true)
      expect(transport.connections.length).toBe(61)
      expect(ledger(received, log.published)).toMatchObject({ lost: 0, duplicated: 0 })
    })
  }

  for (const how of ['a network drop', "rotation: 'reconnect'"] as const) {
    it(`after ${how}, the new connection's replay of the id-less events after the resume id is dropped`, async () => {
      const { clock, transport, tokens, stream, received, log, publish } = setup({ extra: { rotation: 'reconnect' } })
      stream.connect()
      await clock.advance(0)
      log.accept(latest(transport))
      publish(true)
      publish()
      publish()
      if (how === 'a network drop') {
        latest(transport).fail('network')
        await clock.advance(100)
      } else {
        tokens.rotate()
        await clock.advance(0)
      }
      expect(latest(transport).lastEventId).toBe('e1')
      log.accept(latest(transport))
      publish()
      expect(received).toEqual(['1', '2', '3', '4'])
    })
  }

  it('with no id ever seen, a new token keeps the connection until it ends, then the stream reconnects with it', async () => {
    const { clock, transport, tokens, stream, received, log, publish } = setup()
    stream.connect()
    await clock.advance(0)
    log.accept(latest(transport))
    for (let r = 0; r < 3; r++) {
      publish()
      tokens.rotate()
      await clock.advance(1000)
      publish()
    }
    expect(transport.connections).toHaveLength(1)
    expect(received).toEqual(['1', '2', '3', '4', '5', '6'])
    latest(transport).end()
    await clock.advance(1000)
    expect(transport.connections).toHaveLength(2)
    expect(transport.connections[1]!.tokenEquals('mock-token-4')).toBe(true)
  })

  it('a silent stream rotates for each new token version within a second', async () => {
    const { clock, transport, tokens, stream, log, publish } = setup()
    stream.connect()
    await clock.advance(0)
    log.accept(latest(transport))
    publish(true)
    for (let r = 1; r <= 4; r++) {
      tokens.rotate()
      await clock.advance(1000)
      expect(transport.connections).toHaveLength(r + 1)
      log.accept(latest(transport))
      expect(transport.connections[r - 1]!.aborted).toBe(true)
    }
    expect(stream.getSnapshot().status).toBe('open')
  })
})

describe('waiting for the token manager', () => {
  it('a stream waits out the token endpoint\'s Retry-After without counting attempts, reports once, and connects as soon as a token arrives', async () => {
    const clock = createFakePlatform()
    let up = false
    let tokenRequests = 0
    const tokens = createTokenManager({
      platform: clock.platform,
      fetchToken: async () => {
        tokenRequests++
        if (up) return { token: 'tok', expiresIn: 3600 }
        throw new TokenError('http', 'busy', { status: 503, retryAfter: 600_000 })
      },
    })
    cleanups.push(() => tokens.dispose())
    const transport = createMockTransport()
    const errors: EventStreamError[] = []
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, tokens, platform: clock.platform, reconnect: { maxAttempts: 8 }, onError: (e) => errors.push(e) })
    cleanups.push(() => stream.close())
    stream.connect()
    for (let minute = 0; minute < 9; minute++) await clock.advance(60_000)
    expect(stream.getSnapshot()).toMatchObject({ status: 'reconnecting', attempt: 0 })
    expect(stream.getSnapshot().error?.kind).toBe('token')
    expect(errors.map((e) => e.kind)).toEqual(['token'])
    expect(transport.connections).toHaveLength(0)
    up = true
    for (let minute = 0; minute < 3 && transport.connections.length === 0; minute++) await clock.advance(60_000)
    expect(transport.connections).toHaveLength(1)
    expect(tokenRequests).toBeLessThanOrEqual(3)
    transport.latest!.open()
    expect(stream.getSnapshot().status).toBe('open')
  })
})

describe('every wait is capped at one hour and re-read on wake', () => {
  it("a 10 h Retry-After with a 10 min maxDelay waits at most 1 h", async () => {
    const clock = createFakePlatform({ random: () => 0.99 })
    const transport = createMockTransport()
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform, reconnect: { maxDelay: 600_000, initialDelay: 600_000 } })
    cleanups.push(() => stream.close())
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('http', { status: 503, retryAfter: 36_000_000 })
    expect(stream.getSnapshot().retryAt! - clock.platform.now()).toBeLessThanOrEqual(3_600_000)
  })

  it("the token manager waits at most 1 h for a day's Retry-After", async () => {
    const clock = createFakePlatform()
    const tokens = createTokenManager({
      platform: clock.platform,
      fetchToken: async () => {
        throw new TokenError('http', 'busy', { status: 429, retryAfter: 86_400_000 })
      },
    })
    cleanups.push(() => tokens.dispose())
    cleanups.push(tokens.subscribe(() => {}))
    await tokens.getToken().catch(() => {})
    await clock.advance(0)
    expect(tokens.getSnapshot().refreshAt! - clock.platform.now()).toBeLessThanOrEqual(3_600_000)
  })

  it('after an hour asleep, a pending retry runs at once on wake', async () => {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform, reconnect: { initialDelay: 60_000, maxDelay: 60_000 } })
    cleanups.push(() => stream.close())
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('network')
    clock.suspend(3_600_000)
    clock.window.dispatch('focus')
    await clock.advance(0)
    expect(transport.connections).toHaveLength(2)
  })
})

describe('the snapshot shows an error only with the status it belongs to', () => {
  function plain() {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const stream: EventStream<string> = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform })
    cleanups.push(() => stream.close())
    return { clock, transport, stream }
  }

  it('close() while reconnecting gives closed without the old error', async () => {
    const { clock, transport, stream } = plain()
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('network')
    expect(stream.getSnapshot().error).toBeDefined()
    stream.close()
    expect(stream.getSnapshot()).toMatchObject({ status: 'closed', error: undefined, retryAt: undefined })
  })

  it('a 204 after a 503 gives closed without the 503', async () => {
    const { clock, transport, stream } = plain()
    stream.connect()
    await clock.advance(0)
    transport.latest!.fail('http', { status: 503 })
    await clock.advance(60_000)
    transport.latest!.noContent()
    expect(stream.getSnapshot()).toMatchObject({ status: 'closed', error: undefined })
  })
})

describe('listeners', () => {
  it('a listener removed by another listener during the same notification is not called', async () => {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform })
    cleanups.push(() => stream.close())
    const calls: string[] = []
    let removeSecond = () => {}
    stream.subscribe(() => {
      calls.push('first')
      removeSecond()
    })
    removeSecond = stream.subscribe(() => calls.push('second'))
    stream.connect()
    expect(calls).toEqual(['first'])
  })
})

describe('gaps the server could not fill', () => {
  it('onGap is called for the server\'s stream-gap notice without listing it in events; the notice is not an event', async () => {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const gaps: unknown[] = []
    const received: string[] = []
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform, lastEventId: '3', onGap: (gap) => gaps.push(gap), onEvent: (e) => received.push(e.data) })
    cleanups.push(() => stream.close())
    stream.connect()
    await clock.advance(0)
    expect(transport.latest!.options.events).toContain('stream-gap')
    transport.latest!.open().emit({ type: 'stream-gap', data: JSON.stringify({ lastEventId: '3', resumedAt: '890' }) }).emit({ data: 'x', id: '890' })
    expect(gaps).toEqual([{ lastEventId: '3', resumedAt: '890' }])
    expect(received).toEqual(['x'])
    expect(stream.getSnapshot().lastEventId).toBe('890')
  })

  it('a gap nobody handles is a dev-only warning, never silent', async () => {
    const clock = createFakePlatform()
    const transport = createMockTransport()
    const warnings: string[] = []
    const original = console.warn
    console.warn = (message: string) => warnings.push(message)
    cleanups.push(() => (console.warn = original))
    const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform })
    cleanups.push(() => stream.close())
    stream.connect()
    await clock.advance(0)
    transport.latest!.open().emit({ type: 'stream-gap', data: JSON.stringify({ lastEventId: '3', resumedAt: '890' }) })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('onGap')
  })
})
