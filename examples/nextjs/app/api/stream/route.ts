import { createSseResponse, readSseToken, unauthorizedResponse, verifySseToken } from 'use-event-stream/server'
import { streamSecret } from '../../../lib/auth'
import { eventLog } from '../../../lib/events'

// A stream is per request: never prerendered or cached.
export const dynamic = 'force-dynamic'

/**
 * `GET /api/stream`: the event stream. Accepts the token both ways: `Authorization: Bearer` (the
 * `fetch` transport) and `?token=` (the browser's `EventSource`, which cannot send headers).
 * Events come from the event log (Redis with `REDIS_URL`, memory otherwise): what the client
 * missed since its `Last-Event-ID`, then live ones, whichever instance it reconnects to.
 */
export async function GET(request: Request): Promise<Response> {
  const result = await verifySseToken(readSseToken(request), { secret: streamSecret() })
  if (!result.ok) return unauthorizedResponse('A valid stream token is required', { reason: result.reason })

  // A stream must not outlive its token: end it when the token expires. The client has rotated to a
  // fresh token by then; if it has not, it reconnects with a new one and resumes by Last-Event-ID.
  const remainingMs = Math.max(0, (result.payload.exp ?? 0) * 1000 - Date.now())
  const log = await eventLog()
  return createSseResponse(({ lastEventId, signal }) => log.read({ after: lastEventId, signal }), {
    request,
    signal: AbortSignal.timeout(remainingMs),
    heartbeatMs: 10_000,
  })
}
