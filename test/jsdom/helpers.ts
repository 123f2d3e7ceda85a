// Shared by the jsdom suites (and, through the same inject() names, the browser suite): the
// reference server's control API, addressed per test by a unique channel so test files running
// in parallel against the same server never see each other's connections.
import { inject } from 'vitest'
import type { FetchToken } from 'use-event-stream'

export const serverUrl = inject('serverUrl')
export const apiKey = inject('apiKey')

let seq = 0
/** A channel nobody else uses: `seq-*` channels emit only what a test publishes. */
export function uniqueChannel(name: string): string {
  seq++
  return `seq-${name}-${seq}-${Math.random().toString(36).slice(2, 8)}`
}

export function streamUrl(channel: string, extra: Record<string, string> = {}): string {
  const url = new URL('/stream', serverUrl)
  url.searchParams.set('channel', channel)
  url.searchParams.set('heartbeat', '1000')
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v)
  return url.href
}

interface ConnectionInfo {
  id: number
  channel: string
  authVia: 'header' | 'query'
  lastEventId: string | undefined
  open: boolean
  endReason: string | undefined
}

export async function connections(channel: string): Promise<ConnectionInfo[]> {
  const response = await fetch(new URL('/__control/counters', serverUrl))
  const counters = (await response.json()) as { connections: ConnectionInfo[] }
  return counters.connections.filter((c) => c.channel === channel)
}

export async function openConnections(channel: string): Promise<number> {
  return (await connections(channel)).filter((c) => c.open).length
}

export async function publish(channel: string, data: unknown, type?: string): Promise<string> {
  const response = await fetch(new URL('/__control/publish', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data, ...(type ? { type } : {}) }),
  })
  if (!response.ok) throw new Error(`publish failed: HTTP ${response.status}`)
  return ((await response.json()) as { id: string }).id
}

/** A `fetchToken` for the reference server's `POST /auth/sse-token`, counting its calls. */
export function tokenFetcher(options: { ttl?: number } = {}): FetchToken & { calls: number } {
  const fetchToken = Object.assign(
    async ({ signal }: { signal: AbortSignal }) => {
      fetchToken.calls++
      const url = new URL('/auth/sse-token', serverUrl)
      if (options.ttl !== undefined) url.searchParams.set('ttl', String(options.ttl))
      const response = await fetch(url, { method: 'POST', headers: { 'x-api-key': apiKey }, signal })
      if (!response.ok) throw Object.assign(new Error(`token endpoint: HTTP ${response.status}`), { status: response.status })
      return (await response.json()) as { token: string; expiresIn: number }
    },
    { calls: 0 },
  )
  return fetchToken
}

/** The next stream request for `channel` is dropped by the server after `count` events. */
export async function dropNextStreamAfter(channel: string, count: number): Promise<void> {
  const response = await fetch(new URL('/__control/fault', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ route: 'stream', fault: `drop-after:${count}`, count: 1, channel }),
  })
  if (!response.ok) throw new Error(`fault: HTTP ${response.status}`)
}
