// An SSE server on 127.0.0.1 whose log mixes events with and without ids and id-only blocks (an
// `id:` line and no data), as real servers do, replaying after `Last-Event-ID`: the server the
// "one stream position" promise is tested against. Any token is accepted; the test drives the
// faults (drops, clean ends, slow new connections) by hand.
import type { ServerResponse } from 'node:http'
import { startScriptedServer, type ScriptedServer } from './scriptedServer'

export { ledger } from './replayServer'

/** One entry of the log: an event (data = its sequence number) or an id-only block. */
export type Step = { kind: 'event'; seq: number; id: string | undefined } | { kind: 'id'; id: string }

export interface StreamRequest {
  /** `Authorization: Bearer` (fetch transport) or `?token=` (eventsource transport). */
  token: string | undefined
  /** `Last-Event-ID` header, else the `lastEventId` query parameter. */
  lastEventId: string | undefined
  /** Whether `lastEventId` named a step of the log (so the response replayed after it). */
  resumed: boolean
  /** Header delay given to this request by `delayNextOpens`, 0 for none. */
  delayedMs: number
}

export interface PositionServer {
  /** `http://127.0.0.1:<port>/stream` (any path but `/favicon.ico` serves the stream). */
  readonly streamUrl: string
  /** Appends an event (data = the next sequence number; with `id: true` an id of its own) and sends it to every open stream. Returns the sequence number. */
  publish(options?: { id?: boolean }): number
  /** Appends an id-only block (`id: eN` and no data) and sends it to every open stream. Returns the id. */
  idOnly(): string
  /** Destroys every open stream socket at once (a network failure; headers not sent yet included). */
  dropAll(): void
  /** Ends every open stream cleanly (one whose headers are held ends right after it opens). */
  endAll(): void
  /**
   * Holds the response headers of the next `count` stream requests for `ms`, while already
   * subscribing them to live steps, which they send after their replay: a slow new connection.
   */
  delayNextOpens(count: number, ms: number): void
  /** Every stream request since the last reset, oldest first. */
  readonly streamRequests: readonly StreamRequest[]
  /** Events published since the last reset (the last sequence number). */
  readonly published: number
  /** The id of the last step that carried one (`undefined` before any). */
  readonly lastId: string | undefined
  /** The log since the last reset. */
  readonly steps: readonly Step[]
  /** Stream responses currently open (held ones included). */
  readonly openStreams: number
  /** Stream responses whose headers `delayNextOpens` still holds. */
  readonly heldStreams: number
  /**
   * A new, empty log for the next schedule: drops every open stream, forgets requests and pending
   * delays, and numbers events from 1 again. Ids keep counting, so an id of an earlier log is
   * never found in a later one.
   */
  reset(): Promise<void>
  close(): Promise<void>
}

interface Client {
  res: ServerResponse
  /** Steps sent while the headers are held, written after the replay. */
  held: string[] | undefined
  /** `endAll()` came while the headers were held: end right after opening. */
  endWhenOpen: boolean
}

/** The SSE block of one step. */
export function frame(step: Step): string {
  return step.kind === 'id' ? `id: ${step.id}\n\n` : `${step.id === undefined ? '' : `id: ${step.id}\n`}data: ${step.seq}\n\n`
}

export async function startPositionServer(): Promise<PositionServer> {
  let steps: Step[] = []
  let published = 0
  let lastId: string | undefined
  /** Ids are `e<n>`, n counting every id handed out over the server's life. */
  let nextId = 0
  let streamRequests: StreamRequest[] = []
  let delays: number[] = []
  const clients = new Set<Client>()
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const scripted: ScriptedServer = await startScriptedServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/favicon.ico') return void res.writeHead(404).end()
    const header = req.headers.authorization
    const token = header?.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? undefined)
    // An EventSource's own reconnect sends the header with its newer id; the query parameter is the one it was built with.
    const lastEventId = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('lastEventId') ?? undefined
    const from = lastEventId === undefined ? -1 : steps.findIndex((step) => step.id === lastEventId)
    const delayedMs = delays.shift() ?? 0
    streamRequests.push({ token, lastEventId, resumed: from !== -1, delayedMs })
    // Replay every step after the named id; without one (or an unknown one) only live steps.
    const replay = from === -1 ? '' : steps.slice(from + 1).map(frame).join('')
    const client: Client = { res, held: [], endWhenOpen: false }
    clients.add(client)
    res.on('close', () => clients.delete(client))
    const open = () => {
      if (res.destroyed) return
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      // The comment makes sure the headers go out now, even with nothing to replay.
      res.write(': hello\n\n' + replay + client.held!.join(''))
      client.held = undefined
      if (client.endWhenOpen) res.end()
    }
    if (delayedMs > 0) {
      const timer = setTimeout(() => (timers.delete(timer), open()), delayedMs)
      timers.add(timer)
    } else open()
  })

  const send = (step: Step) => {
    steps.push(step)
    if (step.id !== undefined) lastId = step.id
    const text = frame(step)
    for (const client of clients) {
      if (client.held) client.held.push(text)
      else if (!client.res.writableEnded) client.res.write(text)
    }
  }

  return {
    streamUrl: `${scripted.url}/stream`,
    publish(options = {}) {
      const seq = ++published
      send({ kind: 'event', seq, id: options.id ? `e${++nextId}` : undefined })
      return seq
    },
    idOnly() {
      const id = `e${++nextId}`
      send({ kind: 'id', id })
      return id
    },
    dropAll() {
      for (const client of clients) client.res.destroy()
    },
    endAll() {
      for (const client of clients) {
        if (client.held) client.endWhenOpen = true
        else client.res.end()
      }
    },
    delayNextOpens(count, ms) {
      for (let i = 0; i < count; i++) delays.push(ms)
    },
    get streamRequests() {
      return streamRequests
    },
    get published() {
      return published
    },
    get lastId() {
      return lastId
    },
    get steps() {
      return steps
    },
    get openStreams() {
      return clients.size
    },
    get heldStreams() {
      let held = 0
      for (const client of clients) if (client.held) held++
      return held
    },
    async reset() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const client of clients) client.res.destroy()
      clients.clear()
      steps = []
      published = 0
      lastId = undefined
      streamRequests = []
      delays = []
    },
    async close() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await scripted.close()
    },
  }
}
