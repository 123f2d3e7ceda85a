// The bench page, bundled by esbuild and served by bench/server.mjs. The runner drives it through
// `window.bench`. Hook rows are guarded: they report `unavailable` until the React entry exports
// `useEventStream`.
import { createEventStreamWith, createEventSourceTransport, createFetchTransport } from 'use-event-stream/core'
import * as lib from 'use-event-stream'
import { fetchEventSource } from '@microsoft/fetch-event-source'
import { createElement as h, useEffect, useLayoutEffect, useReducer } from 'react'
import { createRoot, type Root } from 'react-dom/client'

type Kind = 'bare-eventsource' | 'ours-eventsource' | 'bare-fetch-event-source' | 'ours-fetch'
const TIMEOUT = 60_000

/** Delivers `n` events through one client; resolves with the elapsed ms from connect to the n-th event. */
function throughput(kind: Kind, url: string, n: number): Promise<{ ms: number; count: number; checksum: number }> {
  return new Promise((resolve, reject) => {
    let count = 0
    let checksum = 0 // every client reads each event's data, so none can skip the string
    let stop = () => {}
    const start = performance.now()
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`${kind}: ${count}/${n} events after ${TIMEOUT} ms`))
    }, TIMEOUT)
    const onData = (data: string) => {
      checksum += data.length
      if (++count === n) {
        const ms = performance.now() - start
        clearTimeout(timer)
        stop()
        resolve({ ms, count, checksum })
      }
    }
    if (kind === 'bare-eventsource') {
      const es = new EventSource(url)
      es.onmessage = (e) => onData(e.data)
      stop = () => es.close()
    } else if (kind === 'bare-fetch-event-source') {
      const ctrl = new AbortController()
      fetchEventSource(url, { signal: ctrl.signal, openWhenHidden: true, onmessage: (m) => onData(m.data) }).catch(() => {})
      stop = () => ctrl.abort()
    } else {
      // The single-transport API, as an app that tree-shakes the other transport away uses it.
      const transport = kind === 'ours-eventsource' ? createEventSourceTransport() : createFetchTransport()
      const stream = createEventStreamWith(transport, { url, onEvent: (e) => onData(e.data) })
      stream.connect()
      stop = () => stream.close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// React rows

const useEventStream = (lib as any).useEventStream as undefined | ((url: string, options: any) => any)

/** The reduced value in whatever field the hook returns it. */
function reducedOf(result: any): number | undefined {
  for (const key of ['state', 'reduced', 'value', 'data']) if (typeof result?.[key] === 'number') return result[key]
  return undefined
}

interface RenderLog {
  renders: number[]
  frames: number[]
  final: number
  received: number
}
let log: RenderLog = { renders: [], frames: [], final: 0, received: 0 }
let root: Root | undefined
let container: HTMLElement | undefined

function mount(node: any) {
  unmount()
  container = document.createElement('div')
  document.body.append(container)
  root = createRoot(container)
  root.render(node)
}
function unmount() {
  root?.unmount()
  container?.remove()
  root = undefined
  container = undefined
}

function Ours({ url, batch, transport = 'eventsource' }: { url: string; batch: unknown; transport?: string }) {
  const result = useEventStream!(url, { transport, reduce: (s: number) => s + 1, initialState: 0, batch, onEvent: () => void log.received++ })
  useLayoutEffect(() => {
    log.renders.push(performance.now())
    log.final = reducedOf(result) ?? -1
  })
  return null
}

/** The peer: the usual hand-written hook, one `dispatch` per event. */
function Naive({ url }: { url: string }) {
  const [count, dispatch] = useReducer((s: number) => s + 1, 0)
  useEffect(() => {
    const es = new EventSource(url)
    es.onmessage = () => {
      log.received++
      dispatch()
    }
    return () => es.close()
  }, [url])
  useLayoutEffect(() => {
    log.renders.push(performance.now())
    log.final = count
  })
  return null
}

function frames(until: () => boolean): Promise<number[]> {
  const out: number[] = []
  return new Promise((resolve) => {
    const tick = (t: number) => {
      out.push(t)
      if (until()) resolve(out)
      else requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
  })
}

/** Mounts one consumer on a paced stream and records every commit and every animation frame. */
async function renders(which: 'ours' | 'naive', url: string, expected: number, batch: unknown) {
  if (which === 'ours' && !useEventStream) return { unavailable: true }
  log = { renders: [], frames: [], final: 0, received: 0 }
  const start = performance.now()
  const deadline = start + TIMEOUT
  mount(which === 'ours' ? h(Ours, { url, batch }) : h(Naive, { url }))
  // Done when every event was seen and one more frame flushed the last batch.
  let settleAt = 0
  log.frames = await frames(() => {
    const now = performance.now()
    if (log.received >= expected && log.final >= expected) settleAt ||= now
    return (settleAt > 0 && now - settleAt > 100) || now > deadline
  })
  unmount()
  return { unavailable: false, start, renders: log.renders, frames: log.frames, final: log.final, received: log.received }
}

/** Heap row: mount, then stream `n` events; the runner measures the heap around it. */
let heapDone: Promise<unknown> | undefined
function heapMount(url: string) {
  if (!useEventStream) return { unavailable: true }
  log = { renders: [], frames: [], final: 0, received: 0 }
  mount(h(Ours, { url, batch: 'frame' }))
  return { unavailable: false }
}
async function heapWait(expected: number) {
  const deadline = performance.now() + TIMEOUT * 2
  while (log.received < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))
  return { received: log.received, final: log.final, renders: log.renders.length }
}

/**
 * Sharing row: `count` components on one URL; counts the EventSource objects and stream fetches
 * the page creates. Ours runs as an app would: under a `TokenProvider` (whose registry is what
 * shares connections), default transport (`'auto'` → fetch with `Authorization`).
 */
async function sharing(which: 'ours' | 'naive', url: string, count: number, tokenUrl: string) {
  if (which === 'ours' && !useEventStream) return { unavailable: true }
  const Native = window.EventSource
  let constructed = 0
  ;(window as any).EventSource = class extends Native {
    constructor(u: string | URL, init?: EventSourceInit) {
      super(u, init)
      constructed++
    }
  }
  const realFetch = window.fetch
  let fetches = 0
  window.fetch = (...args: Parameters<typeof fetch>) => {
    if (String(args[0] instanceof Request ? args[0].url : args[0]).includes('/stream')) fetches++
    return realFetch(...args)
  }
  try {
    log = { renders: [], frames: [], final: 0, received: 0 }
    const children = Array.from({ length: count }, (_, i) => h(which === 'ours' ? Ours : Naive, { key: i, url, batch: 'frame', transport: 'auto' }))
    const Provider = (lib as any).TokenProvider
    const fetchToken = () => fetch(tokenUrl, { method: 'POST' }).then((r) => r.json())
    mount(which === 'ours' ? h(Provider, { fetchToken }, children) : h('div', null, children))
    await new Promise((r) => setTimeout(r, 1500))
    unmount()
    return { unavailable: false, constructed, fetches }
  } finally {
    window.EventSource = Native
    window.fetch = realFetch
  }
}

/**
 * Tabs row: this page is one tab of an app with one stream, under a `TokenProvider` (tokens from
 * the bench server), sharing it across tabs (`crossTab: { scope }`) or not (`scope` null).
 */
let tabView: { tab?: string; status?: string } | undefined
let tabReceived = 0
function TabFeed({ url }: { url: string }) {
  tabView = useEventStream!(url, { onEvent: () => void tabReceived++ })
  return null
}
function tab(url: string, tokenUrl: string, scope: string | null) {
  if (!useEventStream) return { unavailable: true }
  const Provider = (lib as any).TokenProvider
  const fetchToken = () => fetch(tokenUrl, { method: 'POST' }).then((r) => r.json())
  mount(h(Provider, { fetchToken, crossTab: scope === null ? undefined : { scope } }, h(TabFeed, { url })))
  return { unavailable: false }
}
const tabState = () => ({ received: tabReceived, tab: tabView?.tab, status: tabView?.status })

;(window as any).bench = { throughput, renders, heapMount, heapWait, sharing, tab, tabState, unmount, hasHook: () => !!useEventStream }
