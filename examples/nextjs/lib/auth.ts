import { cookies } from 'next/headers'
import { mintSseToken, verifySseToken } from 'use-event-stream/server'

/**
 * The demo's stand-in for your real authentication. Any app that can tell who the user is on the
 * server (NextAuth/Auth.js, Clerk, a session cookie...) replaces `getSessionUser` and keeps the rest.
 */
export const SESSION_COOKIE = 'demo_session'

// Two different secrets, and two audiences: a stream token must never be accepted as a session,
// nor the reverse, even if both secrets were set to the same value.
const DEV_SESSION_SECRET = 'dev-only-session-secret-change-me-0123456789'
const DEV_STREAM_SECRET = 'dev-only-stream-secret-change-me-0123456789'
const SESSION_AUDIENCE = 'session'

let warned = false
function secret(name: 'SESSION_SECRET' | 'SSE_TOKEN_SECRET', fallback: string): string {
  const value = process.env[name]
  if (value) return value
  if (process.env.NODE_ENV === 'production' && !warned) {
    warned = true
    console.warn(`[example] ${name} is not set; using a development secret. Set it (32+ random bytes) before deploying.`)
  }
  return fallback
}

/** HS256 secret shared by the token route (signs) and the stream route (verifies). */
export function streamSecret(): string {
  return secret('SSE_TOKEN_SECRET', DEV_STREAM_SECRET)
}

/** Stream token lifetime in seconds; short so that rotation is visible in the demo. Default 20. */
export function streamTokenTtl(): number {
  const ttl = Number(process.env.SSE_TOKEN_TTL ?? 20)
  return Number.isFinite(ttl) && ttl > 0 ? ttl : 20
}

/** Signs a one-hour demo session for `user`, stored in an httpOnly cookie. */
export async function createSession(user: string): Promise<{ name: string; value: string; maxAge: number }> {
  const maxAge = 3600
  const value = await mintSseToken({ secret: secret('SESSION_SECRET', DEV_SESSION_SECRET), sub: user, ttlSeconds: maxAge, audience: SESSION_AUDIENCE })
  return { name: SESSION_COOKIE, value, maxAge }
}

/** The signed-in user, from the session cookie; `undefined` when signed out or expired. */
export async function getSessionUser(): Promise<string | undefined> {
  const cookie = (await cookies()).get(SESSION_COOKIE)?.value
  if (!cookie) return undefined
  const result = await verifySseToken(cookie, { secret: secret('SESSION_SECRET', DEV_SESSION_SECRET), audience: SESSION_AUDIENCE })
  return result.ok ? result.payload.sub : undefined
}
