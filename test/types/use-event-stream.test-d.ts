// Type-level contract of the React entry, checked by `vitest --project types` (tsc).
import type { ComponentProps } from 'react'
import { describe, expectTypeOf, it } from 'vitest'
import {
  TokenProvider,
  createTokenManager,
  useEventStream,
  useToken,
  type EventStreamError,
  type EventStreamOptions,
  type StreamEvent,
  type TokenError,
  type TokenStatus,
  type TypedStreamEvent,
} from 'use-event-stream'

type Tick = { symbol: string; price: number }
type News = { headline: string }

describe('useEventStream types', () => {
  it('defaults to string data', () => {
    const result = useEventStream('/stream')
    expectTypeOf(result.data).toEqualTypeOf<string | undefined>()
    expectTypeOf(result.lastEvent).toEqualTypeOf<StreamEvent<string> | undefined>()
    expectTypeOf(result.state).toEqualTypeOf<undefined>()
    expectTypeOf(result.close).toEqualTypeOf<() => void>()
    expectTypeOf(result.reconnect).toEqualTypeOf<() => void>()
  })

  it('infers TData from parse, also in onEvent', () => {
    const result = useEventStream('/stream', {
      parse: (s) => JSON.parse(s) as Tick,
      onEvent: (event) => {
        expectTypeOf(event.data).toEqualTypeOf<Tick>()
      },
    })
    expectTypeOf(result.data).toEqualTypeOf<Tick | undefined>()
    expectTypeOf(result.lastEvent).toEqualTypeOf<StreamEvent<Tick> | undefined>()
  })

  it('infers the reduce state from initialState and reduce', () => {
    const result = useEventStream('/stream', {
      parse: (s) => JSON.parse(s) as Tick,
      reduce: (list: Tick[], event) => {
        expectTypeOf(event.data).toEqualTypeOf<Tick>()
        return [...list, event.data]
      },
      initialState: [],
    })
    expectTypeOf(result.state).toEqualTypeOf<Tick[]>()
  })

  it('requires initialState with reduce', () => {
    // @ts-expect-error reduce without initialState
    useEventStream('/stream', { reduce: (n: number) => n + 1 })
  })

  it('an events map gives a union of events discriminated on type', () => {
    const result = useEventStream('/stream', {
      events: { tick: (s) => JSON.parse(s) as Tick, news: (s) => ({ headline: s }) as News },
      onEvent: (event) => {
        if (event.type === 'tick') expectTypeOf(event.data).toEqualTypeOf<Tick>()
        else expectTypeOf(event.data).toEqualTypeOf<News>()
      },
    })
    expectTypeOf(result.lastEvent).toEqualTypeOf<TypedStreamEvent<'tick', Tick> | TypedStreamEvent<'news', News> | undefined>()
    expectTypeOf(result.data).toEqualTypeOf<Tick | News | undefined>()
    if (result.lastEvent?.type === 'news') expectTypeOf(result.lastEvent.data).toEqualTypeOf<News>()
  })

  it('does not accept parse with an events map', () => {
    // @ts-expect-error parse belongs to the list form
    useEventStream('/stream', { events: { tick: (s) => s }, parse: (s) => s })
  })

  it('narrows on status like the core snapshot', () => {
    const result = useEventStream('/stream')
    if (result.status === 'failed') expectTypeOf(result.error).toEqualTypeOf<EventStreamError>()
    if (result.status === 'reconnecting') expectTypeOf(result.retryAt).toEqualTypeOf<number | undefined>()
    if (result.status === 'open') expectTypeOf(result.retryAt).toEqualTypeOf<undefined>()
  })

  it('accepts null urls and the React options', () => {
    useEventStream(null, { enabled: false, share: false, tokens: false, batch: 'frame' })
    useEventStream(new URL('https://example.test/stream'), { batch: 50, transport: 'eventsource', withCredentials: true })
    // @ts-expect-error batch is false, 'frame' or a number
    useEventStream('/stream', { batch: true })
    // @ts-expect-error tokens: true means nothing
    useEventStream('/stream', { tokens: true })
  })

  it("takes every option of the core's but the url (its first argument) and position, so a new core option reaches the hook", () => {
    type HookOptions = NonNullable<Parameters<typeof useEventStream>[1]>
    expectTypeOf<Exclude<keyof EventStreamOptions<string>, 'url' | 'position' | keyof HookOptions>>().toEqualTypeOf<never>()
  })

  it('crossTab takes { scope } or false, and the result says which tab this is', () => {
    const result = useEventStream('/stream', { crossTab: { scope: 'user-1' } })
    expectTypeOf(result.tab).toEqualTypeOf<'leader' | 'follower' | 'solo'>()
    useEventStream('/stream', { crossTab: false })
    // @ts-expect-error the scope is required
    useEventStream('/stream', { crossTab: {} })
    // @ts-expect-error crossTab: true means nothing
    useEventStream('/stream', { crossTab: true })
  })
})

describe('useToken and TokenProvider types', () => {
  it('useToken never exposes the token', () => {
    const token = useToken()
    expectTypeOf(token.status).toEqualTypeOf<TokenStatus>()
    expectTypeOf(token.error).toEqualTypeOf<TokenError | undefined>()
    expectTypeOf(token.refresh).toEqualTypeOf<() => Promise<void>>()
    expectTypeOf(token).not.toHaveProperty('token')
  })

  it('TokenProvider takes fetchToken or tokens, not neither', () => {
    type Props = ComponentProps<typeof TokenProvider>
    expectTypeOf({ fetchToken: async () => 'jwt' }).toMatchTypeOf<Props>()
    const tokens = createTokenManager({ fetchToken: async () => 'jwt' })
    expectTypeOf({ tokens, gracePeriod: 0 }).toMatchTypeOf<Props>()
    expectTypeOf({ gracePeriod: 0 }).not.toMatchTypeOf<Props>()
    expectTypeOf({ tokens, refreshLeadTime: 1000 }).not.toMatchTypeOf<Props>()
    expectTypeOf({ tokens, crossTab: { scope: 'user-1' } }).toMatchTypeOf<Props>()
    expectTypeOf({ tokens, crossTab: { user: 'user-1' } }).not.toMatchTypeOf<Props>()
  })
})
