import { EventStreamError, type EventStreamErrorKind } from 'use-event-stream/core'
import type { RawEvent, Transport, TransportCapabilities, TransportConnectOptions, TransportHandlers } from 'use-event-stream/core'

/** One connection attempt made through a `MockTransport`; drive it like a server would. */
export interface MockConnection {
  /** URL the stream asked for (without token). */
  readonly url: URL
  /** Whether a token was supplied (the value itself is deliberately not exposed). */
  readonly hasToken: boolean
  /** Compares the supplied token with `value` without exposing it. */
  tokenEquals(value: string): boolean
  /** Last event id the stream asked to resume from. */
  readonly lastEventId: string | undefined
  readonly options: Readonly<Omit<TransportConnectOptions, 'token'>>
  /** True once the stream aborted this connection. */
  readonly aborted: boolean
  /** True until `error`, `end`, `noContent` or an abort. */
  readonly active: boolean
  /** Accept the connection (200 text/event-stream). */
  open(): this
  /** Dispatch an event; `id` updates the connection's last event id as a real stream would. */
  emit(event: { data: string; type?: string; id?: string }): this
  /** An id-only block: updates the last event id without dispatching. */
  id(id: string): this
  /** A `retry:` field. */
  retry(ms: number): this
  /** Bytes arrived (a heartbeat comment). */
  heartbeat(): this
  /** Fail the connection with a typed error. */
  fail(kind: EventStreamErrorKind, options?: { status?: number; retryAfter?: number; message?: string }): this
  /** End the stream cleanly, as a server closing the response does. */
  end(): this
  /** Answer 204 No Content. */
  noContent(): this
}

/** The capabilities of the built-in eventsource transport: no headers, statuses hidden. */
const EVENTSOURCE_CAPABILITIES: TransportCapabilities = { headers: false, statuses: false, requestBody: false }

/** Options of `createMockTransport` (a string is the name). */
export interface MockTransportOptions {
  /** Shown as the snapshot's `transport`. Default `'fetch'`. */
  name?: string
  /**
   * What the stream may rely on. Default: the built-in transport's of that name, so
   * `'eventsource'` hides statuses and sends no headers, and, as the native `EventSource`, makes
   * id-only blocks invisible and leaves `hasOwnId` unknown where the id changed.
   */
  capabilities?: TransportCapabilities
}

/** A `Transport` whose connections a test drives by hand. */
export interface MockTransport extends Transport {
  /** Every connection attempt, oldest first. */
  readonly connections: readonly MockConnection[]
  /** The newest connection that is still active, if any. */
  readonly latest: MockConnection | undefined
  /** Called on every new connection attempt (e.g. to open it at once). */
  onConnect(listener: (connection: MockConnection) => void): () => void
}

/**
 * Creates a transport for tests that need no server: pass it as `transport` to
 * `createEventStream` or `useEventStream`, then open connections, push events and fail them.
 *
 * @example
 * const transport = createMockTransport()
 * const stream = createEventStream({ url: '/stream', transport })
 * stream.connect()
 * transport.latest!.open().emit({ data: 'hello' })
 */
export function createMockTransport(options: string | MockTransportOptions = {}): MockTransport {
  const { name = 'fetch', capabilities = name === 'eventsource' ? EVENTSOURCE_CAPABILITIES : undefined } = typeof options === 'string' ? { name: options } : options
  // Like the native EventSource: an id-only block is invisible (it only changes the id the next
  // event reports), and whether an event carried its own id is unknown where the id changed.
  const browserIds = capabilities?.statuses === false
  const connections: MockConnection[] = []
  const listeners = new Set<(connection: MockConnection) => void>()

  function connect(options: TransportConnectOptions, handlers: TransportHandlers): () => void {
    let aborted = false
    let active = true
    let lastEventId = options.lastEventId
    /** The id the last dispatched event reported (the browser-like mode infers `hasOwnId` from it). */
    let reported = options.lastEventId
    const token = options.token
    const { token: _omit, ...visible } = options
    const guard = (fn: () => void) => {
      if (active && !aborted) fn()
    }
    const finish = (fn: () => void) =>
      guard(() => {
        active = false
        fn()
      })
    const connection: MockConnection = {
      url: options.url,
      hasToken: token !== undefined,
      tokenEquals: (value) => token === value,
      lastEventId: options.lastEventId,
      options: visible,
      get aborted() {
        return aborted
      },
      get active() {
        return active && !aborted
      },
      open() {
        guard(() => {
          handlers.onActivity()
          handlers.onOpen()
        })
        return this
      },
      emit(event) {
        guard(() => {
          if (event.id !== undefined) lastEventId = event.id
          handlers.onActivity()
          const hasOwnId = browserIds ? (lastEventId === reported ? false : undefined) : event.id !== undefined
          reported = lastEventId
          const raw: RawEvent = { type: event.type ?? 'message', data: event.data, lastEventId, hasOwnId }
          handlers.onEvent(raw)
        })
        return this
      },
      id(id) {
        guard(() => {
          lastEventId = id
          handlers.onActivity()
          if (!browserIds) handlers.onLastEventId(id)
        })
        return this
      },
      retry(ms) {
        guard(() => handlers.onRetry(ms))
        return this
      },
      heartbeat() {
        guard(() => handlers.onActivity())
        return this
      },
      fail(kind, extra = {}) {
        finish(() =>
          handlers.onError(
            new EventStreamError(kind, extra.message ?? `Mock ${kind} failure${extra.status ? ` (HTTP ${extra.status})` : ''}`, {
              status: extra.status,
              retryAfter: extra.retryAfter,
            }),
          ),
        )
        return this
      },
      end() {
        finish(() => handlers.onClose({ noContent: false }))
        return this
      },
      noContent() {
        finish(() => handlers.onClose({ noContent: true }))
        return this
      },
    }
    connections.push(connection)
    for (const listener of Array.from(listeners)) listener(connection)
    return () => {
      aborted = true
    }
  }

  return {
    name,
    capabilities,
    connect,
    connections,
    get latest() {
      for (let i = connections.length - 1; i >= 0; i--) if (connections[i]!.active) return connections[i]
      return undefined
    },
    onConnect(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
}
