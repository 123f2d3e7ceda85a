/** The demo app's endpoints, as served by the mock backend (storybook/mocks/backend.ts). */
import { fetchTokenFrom } from 'use-event-stream'
import type { TickEvent } from '../mocks/backend'

/** `POST /api/sse-token` → `{ token, expiresIn }`; one module-level function so providers never see a new one. */
export const fetchToken = fetchTokenFrom('/api/sse-token')

/** The mock stream; `channel` only labels connections in the backend's records. */
export function streamUrl(channel: string): string {
  return `/api/stream?channel=${encodeURIComponent(channel)}`
}

export const parseTick = (data: string): TickEvent => JSON.parse(data) as TickEvent
