import { mintSseToken } from 'use-event-stream/server'
import { getSessionUser, streamSecret, streamTokenTtl } from '../../../lib/auth'

/**
 * `POST /api/sse-token`: a short-lived stream token for the signed-in user. The browser calls it
 * through `fetchTokenFrom('/api/sse-token')` (POST, with the session cookie) before the first
 * connection and again ahead of every expiry.
 */
export async function POST(): Promise<Response> {
  const user = await getSessionUser()
  // 401 tells the token manager to stop asking (retrying cannot sign the user in).
  if (!user) return Response.json({ error: 'unauthorized' }, { status: 401, headers: { 'Cache-Control': 'no-store' } })
  const expiresIn = streamTokenTtl()
  const token = await mintSseToken({ secret: streamSecret(), sub: user, ttlSeconds: expiresIn })
  // expiresIn is in seconds; the client measures it from arrival, so its clock may be wrong.
  return Response.json({ token, expiresIn }, { headers: { 'Cache-Control': 'no-store' } })
}
