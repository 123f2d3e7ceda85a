// A small TCP proxy on 127.0.0.1 (node:net) standing in for a load balancer in front of several
// server instances: each new connection goes to the first target that accepts it, so when an
// instance dies its clients' reconnects land on the next one. No stickiness, no HTTP parsing.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  url: string
  port: number
  /** Ports tried in order for each new connection. */
  targets: number[]
  /** Connections forwarded per target port. */
  forwarded: Map<number, number>
  close(): Promise<void>
}

/** Starts a proxy forwarding to `targets` (127.0.0.1 ports), first reachable one wins. */
export async function startTcpProxy(targets: number[]): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const forwarded = new Map<number, number>()
  const proxy: TcpProxy = { url: '', port: 0, targets: [...targets], forwarded, close: async () => {} }

  const server: Server = createServer((client) => {
    track(client)
    client.pause()
    client.on('error', () => {})
    const attempt = (index: number) => {
      const port = proxy.targets[index]
      if (port === undefined || client.destroyed) return void client.destroy()
      const upstream = createConnection({ host: '127.0.0.1', port })
      track(upstream)
      let connected = false
      upstream.once('error', () => {
        // Refused before connecting: the next target. Broken after: drop the client too, as a
        // load balancer does when its backend dies mid-response.
        if (!connected) attempt(index + 1)
        else client.destroy()
      })
      upstream.once('connect', () => {
        connected = true
        forwarded.set(port, (forwarded.get(port) ?? 0) + 1)
        upstream.on('error', () => client.destroy())
        upstream.on('close', () => client.destroy())
        client.on('close', () => upstream.destroy())
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    attempt(0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.port = typeof address === 'object' && address ? address.port : 0
  proxy.url = `http://127.0.0.1:${proxy.port}`
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  return proxy
}
