import { useEffect, useState } from 'react'
import { fetchTokenFrom, TokenProvider, useEventStream, useToken, type StreamEvent, type TransportName } from 'use-event-stream'

interface Tick {
  seq: number
  price: number
  at: number
}

interface Ledger {
  received: number
  lost: number
  duplicated: number
  lastId: number
  recent: Array<{ id: string; price: number }>
}

const fetchToken = fetchTokenFrom('/auth/sse-token')
/** Whose events these are: in an app, the signed-in user's id (the reference server's demo user here). */
const crossTab = { scope: 'demo-user' }
const initialLedger: Ledger = { received: 0, lost: 0, duplicated: 0, lastId: 0, recent: [] }

/** Folds every event into a ledger: ids are sequential per channel, so gaps and repeats show. */
function reduceLedger(state: Ledger, event: StreamEvent<Tick>): Ledger {
  const id = Number(event.id)
  const duplicated = id <= state.lastId ? state.duplicated + 1 : state.duplicated
  const lost = state.lastId > 0 && id > state.lastId + 1 ? state.lost + (id - state.lastId - 1) : state.lost
  return {
    received: state.received + 1,
    lost,
    duplicated,
    lastId: Math.max(id, state.lastId),
    recent: [{ id: event.id ?? '?', price: event.data.price }, ...state.recent].slice(0, 8),
  }
}

export function App() {
  return (
    <TokenProvider fetchToken={fetchToken} crossTab={crossTab}>
      <main>
        <header>
          <h1>use-event-stream</h1>
          <p className="muted">One live channel of the reference server through both transports, behind a short-lived JWT.</p>
        </header>
        <CrossTabNote />
        <TokenCard />
        <div className="panels">
          <StreamPanel transport="eventsource" title="EventSource · ?token=" />
          <StreamPanel transport="fetch" title="fetch · Authorization: Bearer" />
        </div>
        <Faults />
      </main>
    </TokenProvider>
  )
}

function useNow(interval = 250): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), interval)
    return () => clearInterval(id)
  }, [interval])
  return now
}

/** What `crossTab` does, for a visitor who opens a second tab. */
function CrossTabNote() {
  return (
    <section className="card note" data-testid="cross-tab-note">
      <h2>Open this page in a second tab</h2>
      <p>
        Both panels share their connection with the other tabs of this page (<code>crossTab</code>): one tab, the <b>leader</b>, connects and fetches
        tokens; the others, <b>followers</b>, receive its events over a <code>BroadcastChannel</code>. Each panel shows its <code>tab</code>. In a
        follower tab the token card stays <code>idle</code>: that tab holds no token while it follows. Close the leader tab and a follower takes
        over within a second, resuming from the last event id: the ledgers show nothing lost or repeated.
      </p>
    </section>
  )
}

function TokenCard() {
  const token = useToken()
  const now = useNow()
  const [rotations, setRotations] = useState(0)
  const [lastExpiry, setLastExpiry] = useState<number | undefined>(undefined)
  useEffect(() => {
    if (token.expiresAt === undefined || token.expiresAt === lastExpiry) return
    if (lastExpiry !== undefined) setRotations((n) => n + 1)
    setLastExpiry(token.expiresAt)
  }, [token.expiresAt, lastExpiry])
  const left = token.expiresAt === undefined ? undefined : Math.max(0, Math.round((token.expiresAt - now) / 1000))
  const refreshIn = token.refreshAt === undefined ? undefined : Math.max(0, Math.round((token.refreshAt - now) / 1000))
  return (
    <section className="card token" data-testid="token">
      <h2>Stream token</h2>
      <dl>
        <dt>status</dt>
        <dd data-testid="token-status">{token.status}</dd>
        <dt>expires in</dt>
        <dd data-testid="token-expires">{left === undefined ? '—' : `${left} s`}</dd>
        <dt>next refresh</dt>
        <dd>{refreshIn === undefined ? '—' : `${refreshIn} s`}</dd>
        <dt>rotations</dt>
        <dd data-testid="token-rotations">{rotations}</dd>
      </dl>
      {token.error && <p className="bad">{token.error.message}</p>}
      <button onClick={() => void token.refresh().catch(() => {})}>Refresh token now</button>
    </section>
  )
}

function StreamPanel({ transport, title }: { transport: TransportName; title: string }) {
  const now = useNow()
  const stream = useEventStream('/stream?channel=ticker', {
    transport,
    events: ['tick'],
    parse: (text) => JSON.parse(text) as Tick,
    reduce: reduceLedger,
    initialState: initialLedger,
    idleTimeout: 20_000,
    reconnect: { initialDelay: 500, maxDelay: 8000 },
  })
  const ledger = stream.state
  const { reconnect } = stream
  useEffect(() => {
    window.addEventListener('demo:reconnect', reconnect)
    return () => window.removeEventListener('demo:reconnect', reconnect)
  }, [reconnect])
  const retryIn = stream.retryAt === undefined ? undefined : Math.max(0, Math.ceil((stream.retryAt - now) / 1000))
  return (
    <section className={`card stream status-${stream.status}`} data-testid={`panel-${transport}`}>
      <h2>{title}</h2>
      <p className="status">
        <span data-testid={`status-${transport}`}>{stream.status}</span>
        {stream.status === 'reconnecting' && retryIn !== undefined && <span> · next attempt in {retryIn} s</span>}
        {stream.attempt > 0 && <span className="muted"> · attempt {stream.attempt}</span>}
      </p>
      <p className="price">{stream.data ? stream.data.price.toFixed(2) : '…'}</p>
      <dl>
        <dt>events</dt>
        <dd data-testid={`received-${transport}`}>{ledger.received}</dd>
        <dt>lost</dt>
        <dd data-testid={`lost-${transport}`}>{ledger.lost}</dd>
        <dt>duplicated</dt>
        <dd data-testid={`duplicated-${transport}`}>{ledger.duplicated}</dd>
        <dt>last id</dt>
        <dd>{stream.lastEventId ?? '—'}</dd>
        <dt>connections</dt>
        <dd>{stream.openCount}</dd>
        <dt>tab</dt>
        <dd data-testid={`tab-${transport}`} className={`tab-${stream.tab}`}>
          {stream.tab}
        </dd>
      </dl>
      {stream.error && (
        <p className="bad" data-testid={`error-${transport}`}>
          {stream.error.kind}: {stream.error.message}
        </p>
      )}
      <ol className="recent">
        {ledger.recent.map((e) => (
          <li key={e.id}>
            #{e.id} {e.price.toFixed(2)}
          </li>
        ))}
      </ol>
      <div className="buttons">
        <button onClick={stream.reconnect}>Reconnect</button>
        <button onClick={stream.close}>Close</button>
      </div>
    </section>
  )
}

const FAULTS: Array<{ label: string; route: 'stream' | 'token'; fault: string; count: number; reconnect: boolean }> = [
  { label: 'Drop connections after 2 events', route: 'stream', fault: 'drop-after:2', count: 2, reconnect: true },
  { label: '503 + Retry-After', route: 'stream', fault: 'status:503', count: 2, reconnect: true },
  { label: 'Stall (no bytes)', route: 'stream', fault: 'stall', count: 2, reconnect: true },
  { label: 'Token endpoint: 500 ×3', route: 'token', fault: 'status:500', count: 3, reconnect: false },
]

function Faults() {
  const [last, setLast] = useState<string>()
  async function inject(fault: (typeof FAULTS)[number]) {
    const res = await fetch('/__control/fault', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: fault.route, fault: fault.fault, count: fault.count, channel: fault.route === 'stream' ? 'ticker' : undefined }),
    })
    setLast(res.ok ? `${fault.label}: armed` : `${fault.label}: server said ${res.status}`)
    if (fault.reconnect) window.dispatchEvent(new Event('demo:reconnect'))
  }
  return (
    <section className="card faults">
      <h2>Inject a fault</h2>
      <p className="muted">Faults apply to the next connections or token requests; stream faults then reconnect both panels.</p>
      <div className="buttons">
        {FAULTS.map((f) => (
          <button key={f.label} onClick={() => void inject(f)}>
            {f.label}
          </button>
        ))}
      </div>
      {last && <p>{last}</p>}
    </section>
  )
}
