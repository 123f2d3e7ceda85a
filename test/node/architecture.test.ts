// The layers point one way: the core (framework-free contracts and engines) imports nothing from
// the transports, the React binding or the server; transports depend on the core's contracts only;
// the 'auto' choice and the core entry sit above both. Checked on the import graph of src/, so a
// cycle cannot creep back in; and a transport written outside the library is a first-class citizen.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createEventStream, EventStreamError, type Transport } from 'use-event-stream/core'
import { createFakePlatform } from '../helpers/fakePlatform'

const SRC = path.resolve(__dirname, '../../src')

/** Every source file of src/, as paths relative to it. */
function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(full)
    return /\.tsx?$/.test(entry.name) ? [path.relative(SRC, full)] : []
  })
}

/** Source text without comments (examples in TSDoc import the package by name). */
const code = (file: string) => readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')

/** The layer a source file belongs to: its folder under src/, or the file itself at the top. */
const layerOf = (file: string) => (file.includes(path.sep) ? file.split(path.sep)[0]! : file.replace(/\.tsx?$/, ''))

/** Layer-to-layer edges, from static and dynamic imports (the package's own name is its entry). */
function edges(): Array<{ from: string; to: string; file: string }> {
  const entryOf: Record<string, string> = { 'use-event-stream': 'index', 'use-event-stream/core': 'entries', 'use-event-stream/server': 'server', 'use-event-stream/testing': 'testing' }
  return sources().flatMap((file) => {
    const text = code(path.join(SRC, file))
    const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!)
    return specifiers.flatMap((specifier) => {
      let to: string | undefined
      if (specifier.startsWith('.')) to = layerOf(path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), specifier)))
      else if (specifier.startsWith('use-event-stream')) to = entryOf[specifier.replace(/\/(redis)$/, '')] ?? specifier
      return to && to !== layerOf(file) ? [{ from: layerOf(file), to, file }] : []
    })
  })
}

describe('architecture', () => {
  it('the core imports nothing outside the core', () => {
    expect(edges().filter((e) => e.from === 'core')).toEqual([])
  })

  it('transports depend on the core only; the React binding and the server never reach into transports', () => {
    const bad = edges().filter(
      (e) => (e.from === 'transports' && e.to !== 'core') || ((e.from === 'react' || e.from === 'server' || e.from === 'testing') && e.to === 'transports'),
    )
    expect(bad).toEqual([])
  })

  it('no import cycle between folders', () => {
    const graph = new Map<string, Set<string>>()
    for (const { from, to } of edges()) graph.set(from, (graph.get(from) ?? new Set()).add(to))
    const cycles: string[] = []
    const visit = (node: string, trail: string[]) => {
      if (trail.includes(node)) return void cycles.push([...trail.slice(trail.indexOf(node)), node].join(' → '))
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node])
    }
    for (const node of graph.keys()) visit(node, [])
    expect(cycles).toEqual([])
  })

  it('the stream never branches on a transport name', () => {
    for (const file of sources(path.join(SRC, 'core'))) {
      const text = code(path.join(SRC, file))
      expect(text, file).not.toMatch(/\.name\s*===\s*'(eventsource|fetch)'/)
    }
  })
})

describe('a transport written outside the library', () => {
  /** A transport over an in-memory feed: no HTTP at all, as a WebSocket or worker bridge would be. */
  function memoryTransport(capabilities?: Transport['capabilities']) {
    const feeds: Array<{ push(data: string, id?: string): void; end(): void; lastEventId: string | undefined }> = []
    const transport: Transport = {
      name: 'memory',
      capabilities,
      connect(options, handlers) {
        let live = true
        // The contract: `lastEventId` is the stream's id after the event, carried over when it has none.
        let lastEventId = options.lastEventId
        queueMicrotask(() => live && handlers.onOpen())
        feeds.push({
          lastEventId: options.lastEventId,
          push: (data, id) => {
            if (!live) return
            lastEventId = id ?? lastEventId
            handlers.onEvent({ type: 'message', data, lastEventId, hasOwnId: id !== undefined })
          },
          end: () => live && handlers.onClose({ noContent: false }),
        })
        return () => {
          live = false
        }
      },
    }
    return { transport, feeds }
  }

  it('gets the same state machine: open, events, reconnect with the last id, its own name in the snapshot', async () => {
    const clock = createFakePlatform()
    const { transport, feeds } = memoryTransport()
    const stream = createEventStream({ url: 'memory://feed', transport, platform: clock.platform, headers: { 'x-tenant': 'a' } })
    stream.connect()
    await clock.advance(0)
    expect(stream.getSnapshot()).toMatchObject({ status: 'open', transport: 'memory' })
    feeds[0]!.push('a', '1')
    feeds[0]!.push('b')
    feeds[0]!.end()
    await clock.advance(60_000)
    expect(feeds).toHaveLength(2)
    expect(feeds[1]!.lastEventId).toBe('1')
    expect(stream.getSnapshot()).toMatchObject({ status: 'open', eventCount: 2, data: 'b' })
    stream.close()
  })

  it('declares what it cannot do, and the stream holds it to that', () => {
    const { transport } = memoryTransport({ headers: false })
    expect(() => createEventStream({ url: 'memory://feed', transport, headers: { 'x-tenant': 'a' } })).toThrow(EventStreamError)
    expect(() => createEventStream({ url: 'memory://feed', transport })).not.toThrow()
  })
})
