'use client'

import { useEffect, useState } from 'react'
import { useEventStream, useToken } from 'use-event-stream'
import type { Tick } from '../lib/ticker'

/** The two transports side by side, and the token they share. */
export function Dashboard() {
  return (
    <>
      <TokenStatus />
      <div className="panels">
        <StreamPanel transport="eventsource" title="EventSource (token in ?token=)" />
        <StreamPanel transport="fetch" title="fetch (Authorization: Bearer)" />
      </div>
    </>
  )
}

/** Re-renders every `ms` so countdowns move; `undefined` during server rendering and hydration. */
function useNow(ms: number): number | undefined {
  const [now, setNow] = useState<number>()
  useEffect(() => {
    setNow(Date.now())
    const timer = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(timer)
  }, [ms])
  return now
}

function TokenStatus() {
  const { status, expiresAt, lifetime, refreshAt, error } = useToken()
  const now = useNow(250)
  const seconds = (at: number | undefined) => (at === undefined || now === undefined ? '–' : `${Math.max(0, (at - now) / 1000).toFixed(1)} s`)
  return (
    <section className="token" data-testid="token" data-status={status} data-expires-at={expiresAt ?? ''}>
      Token: <span className="status">{status}</span> · lifetime {lifetime === undefined ? '–' : `${lifetime / 1000} s`} · expires in{' '}
      {seconds(expiresAt)} · next refresh in {seconds(refreshAt)}
      {error ? <span> · last error: {error.message}</span> : null}
    </section>
  )
}

/** What each panel keeps of the ticks: enough to show that nothing was lost or repeated. */
interface TickLog {
  /** The last 50 sequence numbers. */
  recent: number[]
  first: number | undefined
  last: number | undefined
  received: number
  /** Ticks skipped (a jump forward) and repeated (a step back), across reconnects and rotations. */
  gaps: number
  duplicates: number
}

const EMPTY_LOG: TickLog = { recent: [], first: undefined, last: undefined, received: 0, gaps: 0, duplicates: 0 }

function parseTick(data: string): Tick {
  return JSON.parse(data) as Tick
}

function logTick(log: TickLog, event: { data: Tick }): TickLog {
  const seq = event.data.seq
  const gap = log.last !== undefined && seq > log.last + 1 ? 1 : 0
  const duplicate = log.last !== undefined && seq <= log.last ? 1 : 0
  return {
    recent: [...log.recent.slice(-49), seq],
    first: log.first ?? seq,
    last: Math.max(seq, log.last ?? seq),
    received: log.received + 1,
    gaps: log.gaps + gap,
    duplicates: log.duplicates + duplicate,
  }
}

function StreamPanel({ transport, title }: { transport: 'eventsource' | 'fetch'; title: string }) {
  const stream = useEventStream('/api/stream', {
    transport,
    events: ['tick'],
    parse: parseTick,
    reduce: logTick,
    initialState: EMPTY_LOG,
  })
  const log = stream.state
  return (
    <section
      className="panel"
      data-testid={`panel-${transport}`}
      data-status={stream.status}
      data-transport={stream.transport}
      data-received={log.received}
      data-first={log.first ?? ''}
      data-last={log.last ?? ''}
      data-gaps={log.gaps}
      data-duplicates={log.duplicates}
      data-open-count={stream.openCount}
    >
      <h2>{title}</h2>
      <dl>
        <dt>status</dt>
        <dd className="status" data-status={stream.status}>
          {stream.status}
          {stream.status === 'reconnecting' && stream.retryAt !== undefined ? ` (retry #${stream.attempt})` : ''}
        </dd>
        <dt>price</dt>
        <dd>{stream.data ? stream.data.price.toFixed(2) : '–'}</dd>
        <dt>last event id</dt>
        <dd>{stream.lastEventId ?? '–'}</dd>
        <dt>events</dt>
        <dd>
          {log.received} (gaps {log.gaps}, duplicates {log.duplicates})
        </dd>
        <dt>connections opened</dt>
        <dd>{stream.openCount}</dd>
        {stream.error ? (
          <>
            <dt>last error</dt>
            <dd>
              {stream.error.kind}: {stream.error.message}
            </dd>
          </>
        ) : null}
      </dl>
      <div className="ticks">{log.recent.join(' ')}</div>
      <button type="button" onClick={stream.reconnect}>
        Reconnect
      </button>
    </section>
  )
}
