/**
 * A connection timeline: every status the hook reported, as coloured segments proportional to how
 * long each lasted, plus the list of transitions with their times.
 */
import { useEffect, useState } from 'react'
import type { EventStreamStatus } from 'use-event-stream/core'
import { STATUS_COLORS, useNow } from './panels'

export interface TimelineEntry {
  status: EventStreamStatus
  /** ms since the timeline started. */
  at: number
}

/** Records each distinct status as it is rendered (consecutive repeats are merged). */
export function useStatusHistory(status: EventStreamStatus): TimelineEntry[] {
  const [start] = useState(() => performance.now())
  const [history, setHistory] = useState<TimelineEntry[]>(() => [{ status, at: 0 }])
  useEffect(() => {
    setHistory((previous) =>
      previous[previous.length - 1]?.status === status ? previous : [...previous, { status, at: Math.round(performance.now() - start) }],
    )
  }, [status, start])
  return history
}

export function Timeline({ history, width = 560 }: { history: readonly TimelineEntry[]; width?: number }) {
  const [start] = useState(() => performance.now())
  const now = useNow(100)
  // `now` only drives the re-render; the span itself is measured on the monotonic clock.
  void now
  const end = Math.max(1, performance.now() - start, history[history.length - 1]?.at ?? 0)
  return (
    <figure style={{ margin: 0, fontFamily: 'system-ui, sans-serif', fontSize: 13 }}>
      <div
        role="img"
        aria-label={`timeline: ${history.map((entry) => entry.status).join(' → ')}`}
        style={{ display: 'flex', width, height: 28, borderRadius: 6, overflow: 'hidden', border: '1px solid #d1d5db' }}
      >
        {history.map((entry, index) => {
          const until = history[index + 1]?.at ?? end
          return (
            <div
              key={`${index}:${entry.status}`}
              title={`${entry.status} at ${(entry.at / 1000).toFixed(2)} s`}
              style={{ width: `${(Math.max(0, until - entry.at) / end) * 100}%`, minWidth: 3, background: STATUS_COLORS[entry.status] }}
            />
          )
        })}
      </div>
      <ol data-testid="timeline" style={{ margin: '8px 0 0', paddingLeft: 20 }}>
        {history.map((entry, index) => (
          <li key={`${index}:${entry.status}`} data-status={entry.status}>
            <span style={{ color: STATUS_COLORS[entry.status], fontWeight: 600 }}>{entry.status}</span> at {(entry.at / 1000).toFixed(2)} s
          </li>
        ))}
      </ol>
    </figure>
  )
}
