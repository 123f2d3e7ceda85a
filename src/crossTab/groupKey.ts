import type { EventStreamOptions, STREAM_DEFAULTS } from '../core/eventStream'

/**
 * The identity of a cross-tab group: tabs whose streams have the same key share one connection.
 * It is made of `crossTab.scope` (whose events these are), the url resolved against the page with
 * the token query parameter and the fragment removed (neither changes what the server sends), the
 * event types as a sorted set, the transport option as given (`'auto'` and `'fetch'` are
 * different groups), and the request's method and body (a subscription's filter is part of what
 * the server sends). `undefined` means "shares nothing": no `crossTab`, a `Transport` object or a
 * `body` function (a function cannot be compared across tabs), or a url that does not parse.
 *
 * Everything else (headers, credentials, reconnect settings, the token manager) is the leader's.
 * `defaults`: the core's `STREAM_DEFAULTS` (passed in: see `CoreParts`).
 */
export function crossTabGroupKey(
  options: Pick<EventStreamOptions<unknown>, 'crossTab' | 'url' | 'tokenQueryParam' | 'events' | 'transport' | 'method' | 'body'>,
  defaults: Pick<typeof STREAM_DEFAULTS, 'transport' | 'tokenQueryParam' | 'events'>,
  /** The page's address (the platform's `location.href`), against which a relative url resolves. */
  base?: string,
): string | undefined {
  const { crossTab, body } = options
  const transport = options.transport ?? defaults.transport
  if (!crossTab || typeof transport === 'object' || typeof body === 'function') return undefined
  let url: URL
  try {
    url = new URL(options.url, base)
  } catch {
    return undefined
  }
  url.searchParams.delete(options.tokenQueryParam ?? defaults.tokenQueryParam)
  url.hash = ''
  const events = [...new Set(options.events ?? defaults.events)].sort()
  const method = (options.method ?? 'GET').toUpperCase()
  return JSON.stringify([crossTab.scope, url.href, events, transport, method, typeof body === 'string' ? body : JSON.stringify(body)])
}

/**
 * The group's name on the wire: a 53-bit hash of its key (cyrb53), so that neither the channel and
 * lock names nor any message carries the url (whose query may hold credentials other than the
 * token).
 */
export function groupHash(key: string): string {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

/**
 * The name of the group's `BroadcastChannel` and of its Web Lock. The protocol version is part of
 * it: tabs running an older bundle after a deploy form a group of their own instead of
 * misreading this one's messages.
 */
export const crossTabName = (key: string) => `use-event-stream/v2/${groupHash(key)}`
