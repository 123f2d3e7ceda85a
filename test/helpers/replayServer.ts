// A small SSE server on 127.0.0.1 that replays after Last-Event-ID, with ids on only some events,
// a scripted token endpoint and a scripted verdict per stream token. The reference server puts an
// id on every event; this one models the servers the library must also get right.
import { startScriptedServer, type ScriptedServer } from './scriptedServer'

export interface ReplayServerOptions {
  /** An `id:` on every n-th event (1: all, 3: every third, 0: none). Default 1. */
  idEvery?: number
  /** Status for a stream request with this token (default 200 for any token, 401 for none). */
  authorize?: (token: string | undefined) => number
  /** Answer of the n-th token request (1-based): a status and, for 200, the token's lifetime in seconds. */
  tokenAnswer?: (n: number) => { status: number; expiresIn?: number; retryAfter?: number }
  /**
   * Holds a stream's response headers this long while already subscribing it to live events (which
   * it then sends first), as a server behind a slow proxy does. Default 0.
   */
  headerDelayMs?: number
}

export interface ReplayServer {
  readonly url: string
  readonly streamUrl: string
  readonly tokenUrl: string
  /** Appends event `seq` (data = its number) and sends it to every open stream. */
  publish(): number
  /** Events published so far. */
  readonly published: number
  /** Every stream request: its token and Last-Event-ID, and the status it got. */
  readonly streamRequests: Array<{ token: string | undefined; lastEventId: string | undefined; status: number }>
  /** Tokens handed out, in order (`tok-1`, `tok-2`, …). */
  readonly tokenRequests: number
  readonly openStreams: number
  /** Ends every open stream response cleanly. */
  endStreams(): void
  close(): Promise<void>
}

export async function startReplayServer(options: ReplayServerOptions = {}): Promise<ReplayServer> {
  const idEvery = options.idEvery ?? 1
  const authorize = options.authorize ?? ((token) => (token === undefined ? 401 : 200))
  const tokenAnswer: NonNullable<ReplayServerOptions['tokenAnswer']> = options.tokenAnswer ?? (() => ({ status: 200, expiresIn: 60 }))
  const events: Array<{ seq: number; id: string | undefined }> = []
  const clients = new Set<{ write(text: string): unknown; end(): void }>()
  const streamRequests: ReplayServer['streamRequests'] = []
  let tokenRequests = 0
  let issued = 0

  const frame = (e: { seq: number; id: string | undefined }) => `${e.id === undefined ? '' : `id: ${e.id}\n`}data: ${e.seq}\n\n`

  const scripted: ScriptedServer = await startScriptedServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    res.setHeader('access-control-allow-origin', '*')
    if (url.pathname === '/token') {
      const answer = tokenAnswer(++tokenRequests)
      if (answer.status !== 200) {
        if (answer.retryAfter !== undefined) res.setHeader('retry-after', String(answer.retryAfter))
        res.writeHead(answer.status).end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${++issued}`, expiresIn: answer.expiresIn ?? 60 }))
      return
    }
    const header = req.headers.authorization
    const token = header?.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? undefined)
    const lastEventId = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('lastEventId') ?? undefined
    const status = authorize(token)
    streamRequests.push({ token, lastEventId, status })
    if (status !== 200) {
      res.writeHead(status).end()
      return
    }
    // Replay everything after the named id; without one (or an unknown one) only live events.
    const from = lastEventId === undefined ? -1 : events.findIndex((e) => e.id === lastEventId)
    const replay = from === -1 ? ': hello\n\n' : events.slice(from + 1).map(frame).join('')
    const held: string[] = []
    const client = { write: (text: string): unknown => held.push(text), end: () => res.end() }
    clients.add(client)
    res.on('close', () => clients.delete(client))
    const start = () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      res.write(replay + held.join(''))
      client.write = (text) => res.write(text)
    }
    if (options.headerDelayMs) setTimeout(start, options.headerDelayMs)
    else start()
  })

  return {
    url: scripted.url,
    streamUrl: `${scripted.url}/stream`,
    tokenUrl: `${scripted.url}/token`,
    publish() {
      const seq = events.length + 1
      const event = { seq, id: idEvery > 0 && seq % idEvery === 0 ? `e${seq}` : undefined }
      events.push(event)
      for (const client of clients) client.write(frame(event))
      return seq
    },
    get published() {
      return events.length
    },
    streamRequests,
    get tokenRequests() {
      return tokenRequests
    },
    get openStreams() {
      return clients.size
    },
    endStreams() {
      for (const client of clients) client.end()
    },
    close: () => scripted.close(),
  }
}

/** Lost and duplicated events in `received` (data = sequence numbers), from its first to `last`. */
export function ledger(received: readonly string[], last: number): { lost: number; duplicated: number; first: number } {
  const seen = new Map<number, number>()
  for (const data of received) seen.set(Number(data), (seen.get(Number(data)) ?? 0) + 1)
  const first = received.length ? Math.min(...seen.keys()) : last + 1
  let lost = 0
  let duplicated = 0
  for (let seq = first; seq <= last; seq++) {
    const count = seen.get(seq) ?? 0
    if (count === 0) lost++
    else duplicated += count - 1
  }
  return { lost, duplicated, first }
}
