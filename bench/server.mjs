// A tiny SSE server for the benchmarks, bound to 127.0.0.1 only. It exists because the rows need
// shapes the reference server is not built for (100k events as fast as the socket takes them,
// 10k events/s paced, per-channel connection counts) and so the bench does not depend on it.
//
//   GET  /                      the bench page (assets registered with setAsset)
//   GET  /stream?mode=burst&n=N      ids 1..N as fast as the socket drains, then stays open
//   GET  /stream?mode=rate&rate=R&duration=MS   R events/s for MS, then stays open
//   GET  /stream?mode=channel&channel=C&auth=1  a channel's shared log (see publish()), replayed
//        from Last-Event-ID (header) or ?lastEventId=, token required when auth=1 (?token= or Bearer)
//   POST /token?ttl=MS          { token, expiresIn } (seconds), valid for ttl ms (counted: counters.tokens)
//   GET  /stats                 connection counts per channel
//
// Every stream sends `id:` fields, like a real resumable stream, so each client pays for ids.
import http from 'node:http'
import { randomBytes } from 'node:crypto'

const PAYLOAD = (i) => `{"i":${i},"v":"abcdefghijklmnopqrstuvwxyz"}`

export async function startBenchServer() {
  const assets = new Map()
  const tokens = new Map() // token → expiry (performance.now())
  const channels = new Map() // name → { log: string[] (block per id, 1-based), open: Set<res>, opened: number }
  const sockets = new Set()
  const counters = { streams: 0, rejected: 0, tokens: 0 }

  const channel = (name) => {
    let c = channels.get(name)
    if (!c) channels.set(name, (c = { log: [], open: new Set(), opened: 0, peak: 0 }))
    return c
  }

  const sseHead = (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.flushHeaders()
  }
  const block = (i) => `id: ${i}\ndata: ${PAYLOAD(i)}\n\n`

  /** Writes ids from..to in ~64 KiB chunks, waiting for 'drain' so memory stays bounded. */
  async function writeRange(res, from, to, closed) {
    let buf = ''
    for (let i = from; i <= to && !closed(); i++) {
      buf += block(i)
      if (buf.length >= 65536 || i === to) {
        if (!res.write(buf)) {
          await new Promise((r) => {
            const done = () => {
              res.off('drain', done).off('close', done)
              r()
            }
            res.on('drain', done).on('close', done)
          })
        }
        buf = ''
      }
    }
  }

  function authorized(req, url) {
    const auth = req.headers.authorization
    const token = url.searchParams.get('token') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined)
    const exp = token === undefined ? undefined : tokens.get(token)
    return exp !== undefined && exp > performance.now()
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1')
    if (req.method === 'GET' && assets.has(url.pathname)) {
      const a = assets.get(url.pathname)
      res.writeHead(200, { 'content-type': a.type, 'cache-control': 'no-store' })
      return res.end(a.body)
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      counters.tokens++
      const ttl = Number(url.searchParams.get('ttl') ?? 60000)
      const token = randomBytes(16).toString('base64url')
      tokens.set(token, performance.now() + ttl)
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ token, expiresIn: ttl / 1000 }))
    }
    if (url.pathname === '/stats') {
      const out = {}
      for (const [name, c] of channels) out[name] = { opened: c.opened, open: c.open.size, peak: c.peak, published: c.log.length }
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ ...counters, channels: out }))
    }
    if (url.pathname !== '/stream') {
      res.writeHead(404)
      return res.end()
    }
    let closed = false
    res.on('close', () => (closed = true))
    const mode = url.searchParams.get('mode') ?? 'channel'
    counters.streams++
    if (mode === 'burst') {
      sseHead(res)
      const n = Math.min(Number(url.searchParams.get('n') ?? 100000), 5_000_000)
      await writeRange(res, 1, n, () => closed)
      return // stays open: a clean end would make EventSource reconnect and replay
    }
    if (mode === 'rate') {
      sseHead(res)
      const rate = Math.min(Number(url.searchParams.get('rate') ?? 1000), 100_000)
      const duration = Math.min(Number(url.searchParams.get('duration') ?? 5000), 60_000)
      const start = performance.now()
      let sent = 0
      const total = Math.round((rate * duration) / 1000)
      // Catch up to the schedule every 5 ms: exact average rate whatever the timer granularity.
      while (!closed && sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000))
        if (due > sent) {
          await writeRange(res, sent + 1, due, () => closed)
          sent = due
        }
        await new Promise((r) => setTimeout(r, 5))
      }
      return
    }
    // channel mode
    if (url.searchParams.get('auth') === '1' && !authorized(req, url)) {
      counters.rejected++
      res.writeHead(401, { 'content-type': 'text/plain' })
      return res.end('unauthorized')
    }
    const c = channel(url.searchParams.get('channel') ?? 'default')
    sseHead(res)
    c.opened++
    c.open.add(res)
    c.peak = Math.max(c.peak, c.open.size)
    res.on('close', () => c.open.delete(res))
    const last = Number(req.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? 0) || 0
    if (last < c.log.length) res.write(c.log.slice(last).join(''))
    else res.write(': open\n\n')
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.keepAliveTimeout = 60_000
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    setAsset(pathname, body, type = 'text/html') {
      assets.set(pathname, { body, type })
    },
    /** Appends one event (next id) to a channel's log and sends it to every open connection. */
    publish(name) {
      const c = channel(name)
      const b = block(c.log.length + 1)
      c.log.push(b)
      for (const res of c.open) res.write(b)
      return c.log.length
    },
    stats(name) {
      const c = channel(name)
      return { opened: c.opened, open: c.open.size, peak: c.peak, published: c.log.length }
    },
    counters,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(() => r()))
    },
  }
}
