import type { StreamGap } from './types'

/**
 * The event type a server sends when it cannot resume from the client's `Last-Event-ID` (its log
 * no longer holds that id): `event: stream-gap`, no id, data
 * `{"lastEventId": "<the client's id>", "resumedAt": "<id of the next event it sends>"}`. The
 * server helpers of this package send it; any server may.
 */
export const STREAM_GAP_EVENT = 'stream-gap'

/** Reads a gap event's data; `undefined` when it is not the JSON object described above. */
export function readGap(data: string): StreamGap | undefined {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { lastEventId, resumedAt } = value as Record<string, unknown>
  const optionalString = (v: unknown) => (typeof v === 'string' ? v : undefined)
  return { lastEventId: optionalString(lastEventId), resumedAt: optionalString(resumedAt) }
}
