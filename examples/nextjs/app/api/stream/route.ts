import { createSseResponse, readSseToken, unauthorizedResponse, verifySseToken } from 'use-event-stream/server'
import { streamSecret } from '../../../lib/auth'
import { ticker } from '../../../lib/ticker'

// A stream is per request: never prerendered or cached.
export const dynamic = 'force-dynamic'

/**
 * `GET /api/stream`: the event stream. Accepts the token both ways: `Authorization: Bearer` (the
 * `fetch` transport) and `?token=` (the browser's `EventSource`, which cannot send headers).
 */
export async function GET(request: Request): Promise<Response> {
  const result = await verifySseToken(readSseToken(request), streamSecret())
  if (!result.ok) return unauthorizedResponse('A valid stream token is required', { reason: result.reason })

  // A stream must not outlive its token: end it when the token expires. The client has rotated to a
  // fresh token by then; if it has not, it reconnects with a new one and resumes by Last-Event-ID.
  const remainingMs = Math.max(0, (result.payload.exp ?? 0) * 1000 - Date.now())
  const intervalMs = Number(process.env.TICK_MS ?? 500)
  return createSseResponse(({ lastEventId, signal }) => ticker({ after: lastEventId, signal, intervalMs }), {
    request,
    signal: AbortSignal.timeout(remainingMs),
    heartbeatMs: 10_000,
  })
}
