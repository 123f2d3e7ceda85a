/**
 * Small presentational pieces shared by the stories. They read the hooks' public results only and
 * never render a token: `useToken()` does not expose it, and error messages are redacted by the
 * library (the preview's leak check verifies both after every story).
 */
import { useEffect, useLayoutEffect, useRef, useState, type CSSProperties, type ReactNode, type RefObject } from 'react'
import { useToken } from 'use-event-stream'
import type { EventStreamError, EventStreamStatus } from 'use-event-stream/core'
import { useBackendStats } from './backendContext'

export const STATUS_COLORS: Record<EventStreamStatus, string> = {
  idle: '#9ca3af',
  connecting: '#f59e0b',
  open: '#16a34a',
  reconnecting: '#ea580c',
  paused: '#6366f1',
  closed: '#475569',
  failed: '#dc2626',
}

const panel: CSSProperties = {
  border: '1px solid #d1d5db',
  borderRadius: 8,
  padding: 12,
  minWidth: 260,
  fontFamily: 'system-ui, sans-serif',
  fontSize: 14,
}
const row: CSSProperties = { display: 'flex', gap: 16, flexWrap: 'wrap', alignItems: 'flex-start' }

export function Row({ children }: { children: ReactNode }) {
  return <div style={row}>{children}</div>
}

export function Panel({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <section style={panel} data-testid={testId} aria-label={title}>
      <h3 style={{ margin: '0 0 8px', fontSize: 15 }}>{title}</h3>
      {children}
    </section>
  )
}

/** A `<dl>` of label/value pairs; each value gets `data-testid={id}` for the play functions. */
export function Facts({ items }: { items: ReadonlyArray<[label: string, value: ReactNode, id?: string]> }) {
  return (
    <dl style={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', gap: '2px 12px', margin: 0 }}>
      {items.map(([label, value, id]) => (
        <div key={label} style={{ display: 'contents' }}>
          <dt style={{ color: '#6b7280' }}>{label}</dt>
          <dd style={{ margin: 0, fontVariantNumeric: 'tabular-nums' }} data-testid={id}>
            {value}
          </dd>
        </div>
      ))}
    </dl>
  )
}

export function StatusBadge({ status, testId = 'status' }: { status: EventStreamStatus; testId?: string }) {
  return (
    <span
      data-testid={testId}
      data-status={status}
      style={{ background: STATUS_COLORS[status], color: 'white', borderRadius: 999, padding: '1px 10px', fontWeight: 600 }}
    >
      {status}
    </span>
  )
}

/** Re-renders every `interval` ms and returns the wall clock: drives countdowns. */
export function useNow(interval = 100): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), interval)
    return () => clearInterval(timer)
  }, [interval])
  return now
}

export function seconds(ms: number | undefined): string {
  if (ms === undefined) return '–'
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`
}

/** The error as shown to users: kind, status and the library's (already redacted) message. */
export function ErrorLine({ error, testId = 'error' }: { error: EventStreamError | undefined; testId?: string }) {
  if (!error) return <span data-testid={testId}>none</span>
  return (
    <span data-testid={testId} data-kind={error.kind} data-http-status={error.status ?? ''}>
      <strong>{error.kind}</strong>
      {error.status !== undefined ? ` (HTTP ${error.status})` : ''}: {error.message}
    </span>
  )
}

/** Anything shaped like `useEventStream`'s result (kept structural so every story can pass its own). */
export interface StreamLike {
  status: EventStreamStatus
  transport: string
  eventCount: number
  openCount: number
  attempt: number
  lastEventId: string | undefined
  retryAt?: number | undefined
  error: EventStreamError | undefined
}

/** The connection's state, with a countdown to the next attempt while reconnecting. */
export function StreamFacts({ stream, prefix = '' }: { stream: StreamLike; prefix?: string }) {
  const now = useNow(100)
  const retryIn = stream.status === 'reconnecting' && stream.retryAt !== undefined ? stream.retryAt - now : undefined
  return (
    <Facts
      items={[
        ['status', <StatusBadge status={stream.status} testId={`${prefix}status`} />],
        ['transport', stream.transport, `${prefix}transport`],
        ['events', stream.eventCount, `${prefix}event-count`],
        ['connections opened', stream.openCount, `${prefix}open-count`],
        ['failed attempts', stream.attempt, `${prefix}attempt`],
        ['last event id', stream.lastEventId ?? '–', `${prefix}last-event-id`],
        ['next attempt in', retryIn === undefined ? '–' : seconds(retryIn), `${prefix}retry-in`],
        ['error', <ErrorLine error={stream.error} testId={`${prefix}error`} />],
      ]}
    />
  )
}

/** `useToken()` as a panel: status, countdown to expiry and to the next refresh, manual refresh. */
export function TokenFacts() {
  const token = useToken()
  const now = useNow(100)
  return (
    <Panel title="Stream token (useToken)" testId="token-panel">
      <Facts
        items={[
          ['status', token.status, 'token-status'],
          ['lifetime', seconds(token.lifetime), 'token-lifetime'],
          ['expires in', token.expiresAt === undefined ? '–' : seconds(token.expiresAt - now), 'token-expires-in'],
          ['refresh in', token.refreshAt === undefined ? '–' : seconds(token.refreshAt - now), 'token-refresh-in'],
          ['last error', token.error ? `${token.error.kind}${token.error.status ? ` (HTTP ${token.error.status})` : ''}` : 'none', 'token-error'],
          ['value', <em>never exposed</em>],
        ]}
      />
      <button type="button" onClick={() => void token.refresh()} style={{ marginTop: 8 }}>
        Refresh token now
      </button>
    </Panel>
  )
}

/** What the mock backend saw. */
export function BackendFacts() {
  const stats = useBackendStats()
  return (
    <Panel title="Mock backend (msw)" testId="backend-panel">
      <Facts
        items={[
          ['token requests', stats.tokenRequests, 'backend-token-requests'],
          ['tokens minted', stats.tokensMinted, 'backend-tokens-minted'],
          ['stream requests', stats.streamRequests, 'backend-stream-requests'],
          ['answered 401', stats.unauthorized, 'backend-unauthorized'],
          ['streams opened', stats.connectionsOpened, 'backend-connections-opened'],
          ['open now', stats.openConnections, 'backend-open-connections'],
          ['newest event id', stats.lastId, 'backend-last-id'],
        ]}
      />
    </Panel>
  )
}

/**
 * Counts the calling component's commits and writes the number straight into the returned span,
 * so showing the count causes no extra render, and StrictMode's double render calls (which never
 * commit twice) do not inflate it.
 */
export function useCommitCounter(): RefObject<HTMLSpanElement | null> {
  const element = useRef<HTMLSpanElement>(null)
  const commits = useRef(0)
  useLayoutEffect(() => {
    commits.current++
    if (element.current) element.current.textContent = String(commits.current)
  })
  return element
}

/** Running audit of event ids: the rotation demo's proof of "no gap, no duplicate". */
export interface IdAudit {
  received: number
  first: number | undefined
  last: number | undefined
  /** Ids skipped between consecutive events. */
  gaps: number
  /** Events whose id was not above the previous one (duplicates or replays). */
  duplicates: number
  /** The newest ids, newest last. */
  recent: readonly number[]
}

export const EMPTY_AUDIT: IdAudit = { received: 0, first: undefined, last: undefined, gaps: 0, duplicates: 0, recent: [] }

/** A `reduce` for `useEventStream`: folds every event's id into the audit (sees every event, even when batched). */
export function auditIds(audit: IdAudit, event: { id: string | undefined }): IdAudit {
  const id = Number(event.id)
  if (!Number.isFinite(id)) return audit
  const previous = audit.last
  return {
    received: audit.received + 1,
    first: audit.first ?? id,
    last: previous === undefined ? id : Math.max(previous, id),
    gaps: audit.gaps + (previous !== undefined && id > previous + 1 ? id - previous - 1 : 0),
    duplicates: audit.duplicates + (previous !== undefined && id <= previous ? 1 : 0),
    recent: [...audit.recent.slice(-29), id],
  }
}

export function AuditFacts({ audit }: { audit: IdAudit }) {
  return (
    <>
      <Facts
        items={[
          ['events received', audit.received, 'audit-received'],
          ['ids', audit.first === undefined ? '–' : `${audit.first} … ${audit.last}`, 'audit-range'],
          ['gaps', audit.gaps, 'audit-gaps'],
          ['duplicates', audit.duplicates, 'audit-duplicates'],
        ]}
      />
      <ol
        aria-label="event log"
        data-testid="event-log"
        style={{ display: 'flex', flexWrap: 'wrap', gap: 4, listStyle: 'none', padding: 0, margin: '8px 0 0', maxWidth: 420 }}
      >
        {audit.recent.map((id, index) => (
          // Index in the key: a duplicate id (the very thing being audited) must not break the list.
          <li key={`${index}:${id}`} style={{ fontFamily: 'monospace', background: '#f3f4f6', borderRadius: 4, padding: '0 4px' }}>
            {id}
          </li>
        ))}
      </ol>
    </>
  )
}
