/**
 * What a long-lived stream from `use-event-stream/server` leaves behind: heap while it is open (in a
 * child process with `--expose-gc`), abort listeners on slow writes and shared signals, and how a
 * source is stopped when the client leaves (the signal contract). Real HTTP on 127.0.0.1.
 */
import { execFile } from 'node:child_process'
import { EventEmitter, getEventListeners, on } from 'node:events'
import { get, type IncomingMessage, type ServerResponse } from 'node:http'
import { Readable, pipeline } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryEventLog, createSseResponse, pipeSseToNode, type EventLog, type SseMessage, type SseSource, type SseSourceContext } from 'use-event-stream/server'
import { ChannelReader } from '../../reference-server/channels'
import { startScriptedServer, type ScriptedServer } from '../helpers/scriptedServer'
import { sleep, until } from '../helpers/wait'

const root = fileURLToPath(new URL('../..', import.meta.url))
const probe = fileURLToPath(new URL('../helpers/sseHeapProbe.ts', import.meta.url))
const MB = 1_048_576

let server: ScriptedServer
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end()
beforeAll(async () => {
  server = await startScriptedServer((req, res) => handler(req, res))
})
afterEach(() => server.reset())
afterAll(() => server.close())

/** Every process warning emitted while the test runs (e.g. MaxListenersExceededWarning). */
function collectWarnings() {
  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
  process.on('warning', onWarning)
  return {
    /** Warnings are emitted on the next tick: let them arrive, then stop listening. */
    async stop(): Promise<string[]> {
      await sleep(10)
      process.off('warning', onWarning)
      return warnings
    },
  }
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

/** Serves `createSseResponse`'s body the way Node adapters of fetch-style frameworks do. */
function serveResponse(response: Response, res: ServerResponse): void {
  res.writeHead(response.status, Object.fromEntries(response.headers))
  res.flushHeaders()
  pipeline(Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>), res, () => {})
}

/**
 * An HTTP GET on 127.0.0.1 whose response is left unread until `readSlowly` is called, which then
 * reads it to the end, pausing `pauseMs` after every chunk, and resolves with the bytes received.
 */
function slowClient(url: string): Promise<{ readSlowly(pauseMs: number): Promise<number> }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      res.pause()
      resolve({
        readSlowly: (pauseMs) =>
          new Promise((done, fail) => {
            let received = 0
            res.on('data', (chunk: Buffer) => {
              received += chunk.length
              res.pause()
              setTimeout(() => res.resume(), pauseMs)
            })
            res.on('end', () => done(received))
            res.on('error', fail)
            res.resume()
          }),
      })
    }).on('error', reject)
  })
}

/** Polls `read` every 150 ms until it is positive and unchanged between two polls; returns it. */
async function settled(read: () => number, what: string): Promise<number> {
  let previous = -1
  await until(
    () => {
      const now = read()
      const same = now > 0 && now === previous
      previous = now
      return same
    },
    10_000,
    what,
    () => sleep(150),
  )
  return previous
}

describe('heap stays flat while a long stream is open', () => {
  // The probe runs in a child process: only there can it force a full GC (`--expose-gc`) before
  // each measurement, which makes the numbers repeatable.
  it.each(['node', 'response'] as const)('%s adapter: 100k events of 1 KB grow the heap by less than 25 MB', async (adapter) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', probe, adapter, '100000', '1024'], {
      cwd: root,
      timeout: 110_000,
    })
    const { baseline, after, delivered } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { baseline: number; after: number; delivered: number }
    const grown = (after - baseline) / MB
    console.log(`[heap] ${adapter}: ${delivered} events × 1 KB, heap ${(baseline / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB (${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB)`)
    expect(delivered).toBe(100_000)
    expect(grown).toBeLessThan(25)
  }, 120_000)
})

describe('no abort listener accumulates', () => {
  it('createSseResponse: 60 writes that each wait for a slow reader add no listener and no warning', async () => {
    const warnings = collectWarnings()
    const shutdown = new AbortController() // a long-lived signal, as a server's shutdown signal would be
    const seen: Array<{ context: number; shared: number }> = []
    async function* source({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
      for (let i = 0; i < 60; i++) {
        seen.push({ context: abortListeners(signal), shared: abortListeners(shutdown.signal) })
        yield { id: i, data: 'x'.repeat(100) }
      }
    }
    const reader = createSseResponse(source, { signal: shutdown.signal, heartbeatMs: 0 }).body!.getReader()
    let text = ''
    // A macrotask between reads: every write finds the body's queue full and waits for the reader
    // (events pulled meanwhile are joined into the next write).
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      text += new TextDecoder().decode(next.value)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(text.split('\n\n').length - 1).toBe(60)
    expect(await warnings.stop()).toEqual([])
    const first = seen[0]!
    expect(seen.every((s) => s.context === first.context && s.shared === first.shared)).toBe(true)
    expect(first.shared).toBeLessThanOrEqual(1)
    expect(abortListeners(shutdown.signal)).toBe(0)
  })

  it('createSseResponse: streams that ended leave no listener on a signal they shared', async () => {
    const shutdown = new AbortController()
    const request = new Request('http://127.0.0.1/stream', { signal: new AbortController().signal })
    for (let i = 0; i < 20; i++) {
      async function* one() {
        yield { data: String(i) }
      }
      expect(await createSseResponse(one(), { signal: shutdown.signal, request, heartbeatMs: 0 }).text()).toBe(`data: ${i}\n\n`)
    }
    expect(abortListeners(shutdown.signal)).toBe(0)
    expect(abortListeners(request.signal)).toBe(0)
  })

  it.each(['pipeSseToNode', 'createSseResponse'] as const)('%s: 400 writes of 64 KB to a slow-reading HTTP client add no listener and no warning', async (adapter) => {
    const warnings = collectWarnings()
    const shutdown = new AbortController()
    const counts = new Set<string>()
    let pulls = 0
    async function* source({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
      for (let i = 0; i < 400; i++) {
        pulls++
        counts.add(`${abortListeners(signal)}/${abortListeners(shutdown.signal)}`)
        yield { id: i, data: String(i).padStart(64 * 1024, 'x') }
      }
    }
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      if (adapter === 'pipeSseToNode') piped = pipeSseToNode(res, source, { signal: shutdown.signal, heartbeatMs: 0 })
      else serveResponse(createSseResponse(source, { signal: shutdown.signal, heartbeatMs: 0 }), res)
    }
    const client = await slowClient(`${server.url}/stream`)
    // While the client reads nothing, the socket's buffers fill and the source stops being pulled:
    // every write from then on waits for the client.
    const pulledWhilePaused = await settled(() => pulls, 'the source to stall')
    expect(pulledWhilePaused).toBeLessThan(380)
    expect(await client.readSlowly(1)).toBeGreaterThan(400 * 64 * 1024)
    await piped
    console.log(`[slow client] ${adapter}: source stalled at ${pulledWhilePaused}/400 events while the client was paused`)
    expect(await warnings.stop()).toEqual([])
    expect([...counts]).toHaveLength(1)
    expect(abortListeners(shutdown.signal)).toBe(0)
  })
})

/* ---------------------------------------------------------------------------------------------
 * #3 the signal contract: a source stops when its signal aborts
 * -------------------------------------------------------------------------------------------*/

/** A pub/sub channel that only speaks when told to, counting its subscribers. */
function quietChannel() {
  const listeners = new Set<(message: SseMessage) => void>()
  return {
    subscribers: () => listeners.size,
    publish: (message: SseMessage) => listeners.forEach((listener) => listener(message)),
    subscribe() {
      const queue: SseMessage[] = []
      let wake: (() => void) | undefined
      const listener = (message: SseMessage) => {
        queue.push(message)
        wake?.()
      }
      listeners.add(listener)
      return {
        /** The next message, waiting as long as it takes. */
        async next(): Promise<SseMessage> {
          while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
          return queue.shift()!
        },
        close: () => listeners.delete(listener),
      }
    },
  }
}

/** `promise`'s value, or `undefined` as soon as `signal` aborts; leaves no listener behind (as in docs/server.md). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined)
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** Opens `/stream` with fetch and reads until `done(text)`; returns the text and the abort handle. */
async function openUntil(done: (text: string) => boolean): Promise<{ text: string; leave: () => void }> {
  const abort = new AbortController()
  const response = await fetch(`${server.url}/stream`, { signal: abort.signal })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!done(text)) {
    const chunk = await reader.read()
    if (chunk.done) break
    text += decoder.decode(chunk.value, { stream: true })
  }
  return { text, leave: () => abort.abort() }
}

describe('a source stops when its signal aborts', () => {
  it('events.on(emitter, name, { signal }): the listener is removed when the client leaves, and the stream ends without error', async () => {
    const emitter = new EventEmitter()
    const errors: unknown[] = []
    async function* fromEmitter({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
      for await (const [message] of on(emitter, 'message', { signal })) yield message as SseMessage
    }
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      piped = pipeSseToNode(res, fromEmitter, { heartbeatMs: 0, onError: (error) => errors.push(error) })
    }
    const opening = openUntil((text) => text.includes('data: one'))
    await until(() => emitter.listenerCount('message') === 1, 2000, 'the source to listen')
    emitter.emit('message', { data: 'one' })
    const { text, leave } = await opening
    expect(text).toBe('data: one\n\n')
    leave()
    await until(() => emitter.listenerCount('message') === 0, 2000, 'the listener to be removed')
    await expect(piped).resolves.toBeUndefined()
    expect(errors).toEqual([])
  })

  it('a stop through options.signal ends the body cleanly; the AbortError the source then throws is not an error', async () => {
    const emitter = new EventEmitter()
    const errors: unknown[] = []
    let thrown: unknown
    let resumed = 0
    async function* fromEmitter({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
      try {
        for await (const [message] of on(emitter, 'message', { signal })) {
          yield message as SseMessage
          resumed++ // asked for the next message: waiting in events.on from here
        }
      } catch (error) {
        thrown = error
        throw error
      }
    }
    const stop = new AbortController() // e.g. the token's expiry
    const response = createSseResponse(fromEmitter, { signal: stop.signal, heartbeatMs: 0, onError: (error) => errors.push(error) })
    const reader = response.body!.getReader()
    await until(() => emitter.listenerCount('message') === 1, 2000, 'the source to listen')
    emitter.emit('message', { data: 'one' })
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n')
    await until(() => resumed === 1, 2000, 'the source to wait for the next message')
    stop.abort()
    expect(await reader.read()).toEqual({ done: true, value: undefined })
    await until(() => thrown !== undefined, 2000, 'the source to throw')
    expect((thrown as Error).name).toBe('AbortError')
    expect(emitter.listenerCount('message')).toBe(0)
    expect(errors).toEqual([])
  })

  // The source listens to the app's shutdown signal from before the stream starts, so its AbortError
  // is on its way before the stream has seen the abort.
  function abortedBy(signal: AbortSignal): { source: AsyncIterableIterator<SseMessage>; waiting: () => boolean } {
    let fail: ((reason: unknown) => void) | undefined
    signal.addEventListener('abort', () => fail?.(signal.reason), { once: true })
    let sent = false
    const source: AsyncIterableIterator<SseMessage> = {
      [Symbol.asyncIterator]() {
        return this
      },
      next: () => {
        if (!sent) {
          sent = true
          return Promise.resolve({ done: false, value: { data: 'one' } })
        }
        return new Promise((_resolve, reject) => (fail = reject))
      },
    }
    return { source, waiting: () => fail !== undefined }
  }

  it('pipeSseToNode: a source that rejects with AbortError on the signal that stops the stream ends the response cleanly', async () => {
    const shutdown = new AbortController()
    const errors: unknown[] = []
    const { source, waiting } = abortedBy(shutdown.signal)
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      piped = pipeSseToNode(res, source, { signal: shutdown.signal, heartbeatMs: 0, onError: (error) => errors.push(error) })
    }
    const response = await fetch(`${server.url}/stream`)
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n')
    await until(waiting, 2000, 'the source to wait for the next event')
    shutdown.abort()
    expect(await reader.read()).toEqual({ done: true, value: undefined }) // a clean end, not a broken stream
    await expect(piped).resolves.toBeUndefined()
    expect(errors).toEqual([])
  })

  it('createSseResponse: a source that rejects with AbortError on the signal that stops the stream closes the body cleanly', async () => {
    const shutdown = new AbortController()
    const errors: unknown[] = []
    const { source, waiting } = abortedBy(shutdown.signal)
    const response = createSseResponse(source, { signal: shutdown.signal, heartbeatMs: 0, onError: (error) => errors.push(error) })
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n')
    await until(waiting, 2000, 'the source to wait for the next event')
    shutdown.abort()
    expect(await reader.read()).toEqual({ done: true, value: undefined })
    expect(errors).toEqual([])
  })

  it('a generator that races its waits against the signal runs its finally on a quiet channel when the client leaves', async () => {
    const channel = quietChannel()
    let released = 0
    async function* feed({ signal }: SseSourceContext): AsyncGenerator<SseMessage> {
      const subscription = channel.subscribe()
      try {
        for (;;) {
          const message = await unlessAborted(subscription.next(), signal)
          if (message === undefined) return
          yield message
        }
      } finally {
        subscription.close()
        released++
      }
    }
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      piped = pipeSseToNode(res, feed, { heartbeatMs: 0 })
    }
    const opening = openUntil((text) => text.includes('data: one'))
    await until(() => channel.subscribers() === 1, 2000, 'a subscriber')
    channel.publish({ data: 'one' })
    const { leave } = await opening
    leave() // nothing is published after this: the channel stays quiet
    await until(() => released === 1, 2000, 'the generator to run its finally')
    expect(channel.subscribers()).toBe(0)
    await piped
  })

  it('why: a generator that ignores the signal keeps its subscription until its pending wait settles', async () => {
    const channel = quietChannel()
    let released = 0
    async function* naive(): AsyncGenerator<SseMessage> {
      const subscription = channel.subscribe()
      try {
        for (;;) yield await subscription.next()
      } finally {
        subscription.close()
        released++
      }
    }
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      piped = pipeSseToNode(res, naive, { heartbeatMs: 0 })
    }
    const opening = openUntil((text) => text.includes('data: one'))
    await until(() => channel.subscribers() === 1, 2000, 'a subscriber')
    channel.publish({ data: 'one' })
    const { leave } = await opening
    leave()
    await piped // the response is done with...
    await sleep(50)
    expect({ released, subscribers: channel.subscribers() }).toEqual({ released: 0, subscribers: 1 }) // ...the generator is not
    channel.publish({ data: 'late' }) // its pending next() settles; the queued return() runs its finally
    await until(() => released === 1, 2000, 'the generator to run its finally')
    expect(channel.subscribers()).toBe(0)
  })

  it("the reference server's channel reads are released on a quiet channel when the client leaves", async () => {
    const log = createMemoryEventLog()
    let reading = 0
    // The log's read, counted: it ends (and its finally runs) only when its signal aborts.
    const counted: EventLog = {
      append: (event) => log.append(event),
      close: () => log.close(),
      read(options) {
        reading++
        const inner = log.read(options)
        return (async function* () {
          try {
            yield* inner
          } finally {
            reading--
          }
        })()
      },
    }
    let piped: Promise<void> | undefined
    handler = (_req, res) => {
      // As the reference server does: the channel reader itself is the source.
      piped = pipeSseToNode(res, new ChannelReader(counted, undefined, undefined), { heartbeatMs: 0 })
    }
    const opening = openUntil((text) => text.includes('data: "one"'))
    await until(() => reading === 1, 2000, 'a reader')
    await log.append({ data: '"one"' })
    const { leave } = await opening
    leave()
    await until(() => reading === 0, 2000, 'the read to be released')
    await piped
  })
})

describe('what a connection costs', () => {
  it('pipeSseToNode streaming a log: one stop signal per connection, aborted when the client leaves, with no listener left on it', async () => {
    // Node gives every AbortSignal a hidden class of its own: a connection should make one, not one per layer.
    // Counted while the server sets a connection up (synchronously, to the log read's first wait):
    // the clients in this process make controllers of their own.
    const Original = globalThis.AbortController
    let created = 0
    let settingUp = false
    globalThis.AbortController = class extends Original {
      constructor() {
        super()
        if (settingUp) created++
      }
    }
    const log = createMemoryEventLog()
    const signals: AbortSignal[] = []
    const piped: Promise<void>[] = []
    try {
      handler = (req, res) => {
        settingUp = true
        piped.push(
          pipeSseToNode(
            res,
            ({ lastEventId, signal }) => {
              signals.push(signal)
              return log.read({ after: lastEventId, signal })
            },
            { request: req },
          ),
        )
        settingUp = false
      }
      const clients = await Promise.all([1, 2, 3, 4, 5].map(() => fetch(`${server.url}/stream`)))
      await until(() => signals.length === 5, 2000, 'every source to start')
      await sleep(20)
      await log.append({ data: 'one' })
      for (const response of clients) {
        const reader = response.body!.getReader()
        expect(new TextDecoder().decode((await reader.read()).value)).toBe('id: 1\ndata: one\n\n')
        await reader.cancel()
      }
      await Promise.all(piped)
      expect(created).toBe(5)
      expect(signals.every((signal) => signal.aborted)).toBe(true)
      expect(signals.map(abortListeners)).toEqual([0, 0, 0, 0, 0])
    } finally {
      globalThis.AbortController = Original
      await log.close()
    }
  })
})
