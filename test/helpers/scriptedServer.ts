// A tiny HTTP server on 127.0.0.1 whose answers a test scripts request by request, for the edge
// cases the reference server deliberately does not produce. Shared by the transport, token and
// fuzz and security suites.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TransportConnectOptions } from 'use-event-stream/core'
import { resolvePlatform } from '../../src/core/platform'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly server: Server
  /** Drops every open socket, then waits a moment so a client's pool sees them closed. */
  reset(): Promise<void>
  close(): Promise<void>
}

/** Starts a server on 127.0.0.1 (any free port) that hands each request to `handler`. */
export async function startScriptedServer(handler: Handler): Promise<ScriptedServer> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    server,
    async reset() {
      // Streams left open by a test would keep sockets alive across tests; the pause lets the
      // client's pool see the sockets close before the next test picks one.
      server.closeAllConnections()
      await new Promise((resolve) => setTimeout(resolve, 20))
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port just released), for connection-refused cases. */
export async function refusedUrl(path = '/'): Promise<string> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return `http://127.0.0.1:${port}${path}`
}

/** Transport options with the stream's defaults, for driving a transport directly. */
export function transportOptions(url: string | URL, overrides: Partial<TransportConnectOptions> = {}): TransportConnectOptions {
  return {
    url: new URL(url),
    token: undefined,
    lastEventId: undefined,
    tokenQueryParam: 'token',
    lastEventIdQueryParam: 'lastEventId',
    withCredentials: false,
    headers: {},
    events: ['message'],
    maxLineLength: 64 * 1024,
    maxEventSize: 4 * 1024 * 1024,
    platform: resolvePlatform(),
    ...overrides,
  }
}
