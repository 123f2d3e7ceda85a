// A client that stops reading: its socket's buffers fill, a write never completes, and after
// `writeTimeout` the server ends that stream and frees the socket, while a client that reads
// normally keeps streaming. Real sockets on 127.0.0.1: a paused `net` client, no mock.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSseResponse, pipeSseToNode, streamSse, type SseSourceContext } from 'use-event-stream/server'
import { sleep, until } from '../helpers/wait'

const servers: Server[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))))
})

/** 64 kB events as fast as the socket takes them, until the stream stops. */
async function* firehose({ signal }: SseSourceContext) {
  const data = 'x'.repeat(64 * 1024)
  for (let i = 0; !signal.aborted && i < 100_000; i++) yield { id: i, data }
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

/** A raw client: sends the request, and either reads everything (counting bytes) or pauses after the first bytes. */
function client(port: number, mode: 'reads' | 'stops'): { socket: Socket; received: () => number; closed: Promise<void> } {
  const socket = connect({ host: '127.0.0.1', port })
  sockets.push(socket)
  let received = 0
  socket.setNoDelay(true)
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (mode === 'stops') socket.pause()
  })
  socket.on('error', () => {})
  socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n')
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, received: () => received, closed }
}

const connections = (server: Server) => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))))

describe('writeTimeout', () => {
  it('pipeSseToNode: a client that stops reading is cut off after writeTimeout and its socket freed; a reading client is not', async () => {
    const ended: string[] = []
    const { server, port } = await listen((req, res) => {
      pipeSseToNode(res, firehose, { request: req, writeTimeout: 500, heartbeatMs: 0 }).then(
        () => ended.push('resolved'),
        () => ended.push('rejected'),
      )
    })
    client(port, 'stops')
    const healthy = client(port, 'reads')
    await until(async () => (await connections(server)) === 2, 2000, 'two connections')
    const t0 = performance.now()
    await until(async () => (await connections(server)) === 1, 5000, 'the stuck connection to be freed')
    const took = performance.now() - t0
    console.log(`[write-timeout] paused client freed after ${took.toFixed(0)} ms (writeTimeout 500 ms)`)
    const before = healthy.received()
    await sleep(300)
    expect(healthy.received()).toBeGreaterThan(before)
    expect(ended).toEqual(['resolved'])
  })

  it('createSseResponse: a stalled body errors after writeTimeout, so the runtime drops the connection', async () => {
    const { server, port } = await listen(async (req, res) => {
      const controller = new AbortController()
      res.once('close', () => controller.abort())
      const response = createSseResponse(firehose, { signal: controller.signal, writeTimeout: 500, heartbeatMs: 0 })
      res.writeHead(response.status, Object.fromEntries(response.headers))
      const reader = response.body!.getReader()
      // What a runtime's adapter does: an errored body aborts the connection.
      reader.closed.catch(() => res.destroy())
      for (let i = 0; i < 1_000_000; i++) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
        if (done) break
        if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve))
      }
      res.end()
    })
    client(port, 'stops')
    await until(async () => (await connections(server)) === 1, 2000, 'the connection')
    await until(async () => (await connections(server)) === 0, 5000, 'the stuck connection to be freed')
  })

  it('streamSse: a sink write that never completes ends the stream after writeTimeout and asks the sink to destroy itself', async () => {
    let destroyed = 0
    let writes = 0
    const t0 = performance.now()
    await streamSse(firehose, { write: () => (writes++ === 0 ? undefined : new Promise<void>(() => {})), destroy: () => void destroyed++ }, { writeTimeout: 200, heartbeatMs: 0 })
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(destroyed).toBe(1)
  })

  it('writeTimeout must be a positive number or 0 (off)', async () => {
    await expect(streamSse((async function* () {})(), { write: () => {} }, { writeTimeout: -1 })).rejects.toThrow(/writeTimeout/)
  })
})
