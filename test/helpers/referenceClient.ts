// Calls to a running reference server's HTTP API (the shared one from globalSetup's
// `inject('serverUrl')`/`inject('apiKey')`, or any other), for tests that drive a transport against it.
import { expect } from 'vitest'
import type { ConnectionInfo } from '../../reference-server/server'

/** A fresh token from `POST /auth/sse-token` with the server's default TTL; fails the test unless 200. */
export async function mintSseToken(serverUrl: string, apiKey: string): Promise<string> {
  const res = await fetch(`${serverUrl}/auth/sse-token`, { method: 'POST', headers: { 'x-api-key': apiKey } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { token: string }).token
}

/** Every `/stream` connection the server accepted on `channel` (open or ended), oldest first. */
export async function connectionsOf(serverUrl: string, channel: string): Promise<ConnectionInfo[]> {
  const counters = (await (await fetch(`${serverUrl}/__control/counters`)).json()) as { connections: ConnectionInfo[] }
  return counters.connections.filter((c) => c.channel === channel)
}
