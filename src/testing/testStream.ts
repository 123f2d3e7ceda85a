import type { EventStreamErrorKind, TransportName } from 'use-event-stream/core'
import { createMockTokens, type MockTokens, type MockTokensOptions } from './mockTokens'
import { createMockTransport, type MockConnection, type MockTransport } from './mockTransport'

/** Options of {@link createTestStream}. */
export interface TestStreamOptions {
  /** Name the transport reports (`result.transport`). Default `'fetch'`. */
  transport?: TransportName
  /**
   * Token manager paired with the stream (`stream.tokens`): a `MockTokens` to share one, or options
   * to create one. It is used only where the test passes it (`<TokenProvider tokens={...}>` or the
   * `tokens` option); a cookie or public stream simply does not. Default: `createMockTokens()` (a
   * valid token at once).
   */
  tokens?: MockTokens | MockTokensOptions
  /**
   * Accept every connection the stream makes (on a microtask, as a server would answer), including
   * reconnects and rotation connections. `false` leaves each one `connecting` until `open()`.
   * Default `false`.
   */
  autoOpen?: boolean
  /** How long `waitForConnection()`/`open()` wait for the stream to connect, in ms. Default `2000`. */
  timeout?: number
}

/** The statuses {@link TestStream.setStatus} can produce by acting like a server. */
export type SettableStatus = 'open' | 'reconnecting' | 'failed' | 'closed'

/**
 * A server-less event stream for component tests: hand `transport` (and `tokens`) to
 * `useEventStream`/`TokenProvider`, then play the server. Every method acts on the wire, never on
 * the hook's state, so the component goes through the library's real state machine: `push` is an
 * event arriving, `fail` a broken connection, `end` the server closing the response.
 */
export interface TestStream {
  /** Pass as `transport` to `useEventStream` or `createEventStream`. */
  readonly transport: MockTransport
  /** The paired token manager: pass to `<TokenProvider tokens={...}>` (or as `tokens`). */
  readonly tokens: MockTokens
  /** Every connection attempt so far, oldest first. */
  readonly connections: readonly MockConnection[]
  /** The newest connection that is open and still active: where `push` sends events. */
  readonly connection: MockConnection | undefined
  /** Resolves with the newest active connection not opened yet, waiting for the stream to make one. */
  waitForConnection(): Promise<MockConnection>
  /** Accepts the pending connection (waiting for it first): status becomes `'open'`. */
  open(): Promise<MockConnection>
  /**
   * Sends one event on the open connection. A non-string `data` is sent as `JSON.stringify(data)`.
   * `id` sets the event id (the `Last-Event-ID` the stream resumes from). Throws when no
   * connection is open.
   */
  push(data: unknown, options?: { type?: string; id?: string | number }): MockConnection
  /** Sends several events in one go (one per item, same type), e.g. a burst. */
  pushMany(items: readonly unknown[], options?: { type?: string; firstId?: number }): MockConnection
  /**
   * Breaks the newest active connection with a typed error (default `'network'`). The stream then
   * reconnects with backoff (`'reconnecting'`), except for terminal errors: `'http'` with a 4xx
   * status other than 408/429, `'content-type'`, `'line-too-long'`, and a second `'unauthorized'` in a
   * row, which end it `'failed'`. The first `'unauthorized'` makes it fetch a fresh token and retry.
   */
  fail(kind?: EventStreamErrorKind, options?: { status?: number; retryAfter?: number; message?: string }): MockConnection
  /** The server ends the response cleanly; the stream reconnects (after `retry:` or backoff). */
  end(): MockConnection
  /**
   * Moves the stream to a status by doing what a server would: `'open'` accepts the pending
   * connection, `'reconnecting'` drops the connection (`fail('network')`), `'failed'` answers
   * HTTP 400 (terminal), `'closed'` answers 204 No Content.
   */
  setStatus(status: SettableStatus): Promise<void>
  /**
   * `tokens.rotate()`, then, when a connection is open, accepts the connection the stream makes with
   * the new token (`rotation: 'overlap'` or `'reconnect'`; only a stream given `stream.tokens`
   * rotates), so the stream has switched when the promise resolves. Returns the new token. With `rotation: 'none'` use `tokens.rotate()` instead
   * (the stream makes no new connection, and this would wait for one until `timeout`).
   */
  rotateToken(): Promise<string>
  /** Stops `autoOpen` and waiting promises. Connections already made stay as they are. */
  dispose(): void
}

/**
 * Creates a hand-driven stream (a mock transport and mock tokens) for testing components that use
 * `useEventStream`, with no server and no network.
 *
 * @example
 * const stream = createTestStream()
 * render(
 *   <TokenProvider tokens={stream.tokens}>
 *     <PriceTicker transport={stream.transport} />
 *   </TokenProvider>,
 * )
 * await act(() => stream.open())
 * act(() => { stream.push({ symbol: 'ACME', price: 101 }, { id: 1 }) })
 * expect(screen.getByText('ACME 101')).toBeTruthy()
 */
export function createTestStream(options: TestStreamOptions = {}): TestStream {
  const transport = createMockTransport(options.transport ?? 'fetch')
  const tokens = isMockTokens(options.tokens) ? options.tokens : createMockTokens(options.tokens)
  const timeout = options.timeout ?? 2000
  // Which connections the test (or autoOpen) accepted; the mock transport does not expose it.
  const opened = new WeakSet<MockConnection>()
  let autoOpen = options.autoOpen ?? false
  let disposed = false
  const waiting = new Set<(error?: Error) => void>()

  const accept = (connection: MockConnection) => {
    if (!connection.active || opened.has(connection)) return connection
    opened.add(connection)
    connection.open()
    return connection
  }

  const stopListening = transport.onConnect((connection) => {
    // A test may also accept a connection directly (`stream.connections[0].open()`): record it too,
    // so `push` finds it.
    const openDirectly = connection.open
    ;(connection as { open: () => MockConnection }).open = function (this: MockConnection) {
      opened.add(connection)
      return openDirectly.call(connection)
    }
    if (autoOpen) queueMicrotask(() => accept(connection))
  })

  function pending(): MockConnection | undefined {
    for (let i = transport.connections.length - 1; i >= 0; i--) {
      const connection = transport.connections[i]!
      if (connection.active && !opened.has(connection)) return connection
    }
    return undefined
  }

  function current(): MockConnection | undefined {
    for (let i = transport.connections.length - 1; i >= 0; i--) {
      const connection = transport.connections[i]!
      if (connection.active && opened.has(connection)) return connection
    }
    return undefined
  }

  function requireOpen(action: string): MockConnection {
    const connection = current()
    if (!connection) {
      const hint = pending() ? ' A connection is pending: call `await stream.open()` first.' : ' The stream has not connected (is the component mounted with this transport?).'
      throw new Error(`createTestStream: cannot ${action}, no connection is open.${hint}`)
    }
    return connection
  }

  function waitForConnection(): Promise<MockConnection> {
    const found = pending()
    if (found) return Promise.resolve(found)
    if (disposed) return Promise.reject(new Error('createTestStream: disposed'))
    return new Promise<MockConnection>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (error?: Error, connection?: MockConnection) => {
        if (timer !== undefined) clearTimeout(timer)
        unsubscribe()
        waiting.delete(finish)
        if (connection) resolve(connection)
        else reject(error)
      }
      const unsubscribe = transport.onConnect((connection) => finish(undefined, connection))
      waiting.add(finish)
      // Under fake timers this fires only when the test advances time, which is what it asked for.
      timer = setTimeout(
        () => finish(new Error(`createTestStream: the stream made no connection within ${timeout} ms (is it mounted, enabled, and given this transport? A reconnect waits for its backoff delay.)`)),
        timeout,
      )
    })
  }

  function activeOrThrow(action: string): MockConnection {
    const connection = current() ?? pending()
    if (!connection) throw new Error(`createTestStream: cannot ${action}, the stream has no active connection.`)
    return connection
  }

  const stream: TestStream = {
    transport,
    tokens,
    get connections() {
      return transport.connections
    },
    get connection() {
      return current()
    },
    waitForConnection,
    async open() {
      return accept(await waitForConnection())
    },
    push(data, extra = {}) {
      const connection = requireOpen('push an event')
      return connection.emit({
        data: typeof data === 'string' ? data : JSON.stringify(data),
        ...(extra.type !== undefined ? { type: extra.type } : {}),
        ...(extra.id !== undefined ? { id: String(extra.id) } : {}),
      })
    },
    pushMany(items, extra = {}) {
      const connection = requireOpen('push events')
      items.forEach((item, index) =>
        connection.emit({
          data: typeof item === 'string' ? item : JSON.stringify(item),
          ...(extra.type !== undefined ? { type: extra.type } : {}),
          ...(extra.firstId !== undefined ? { id: String(extra.firstId + index) } : {}),
        }),
      )
      return connection
    },
    fail(kind = 'network', extra = {}) {
      return activeOrThrow('fail').fail(kind, extra)
    },
    end() {
      return requireOpen('end the stream').end()
    },
    async setStatus(status) {
      switch (status) {
        case 'open':
          await stream.open()
          return
        case 'reconnecting':
          activeOrThrow('drop the connection').fail('network', { message: 'Mock connection lost' })
          return
        case 'failed':
          activeOrThrow('fail the stream').fail('http', { status: 400, message: 'Mock HTTP 400' })
          return
        case 'closed':
          activeOrThrow('close the stream').noContent()
          return
      }
    },
    async rotateToken() {
      const wasOpen = current() !== undefined
      const token = tokens.rotate()
      // Only an open stream rotates; otherwise the new token simply serves the next connection.
      if (!wasOpen) return token
      // The stream asks for the new token on a microtask, then opens its rotation connection.
      const connection = await waitForConnection()
      accept(connection)
      return token
    },
    dispose() {
      disposed = true
      autoOpen = false
      stopListening()
      for (const finish of Array.from(waiting)) finish(new Error('createTestStream: disposed'))
    },
  }
  return stream
}

function isMockTokens(value: unknown): value is MockTokens {
  return typeof value === 'object' && value !== null && typeof (value as MockTokens).rotate === 'function' && typeof (value as MockTokens).getToken === 'function'
}
