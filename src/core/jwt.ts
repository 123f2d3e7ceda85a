/**
 * Just enough JWT reading to learn a token's lifetime. Nothing here verifies a signature: the
 * client never trusts a token's claims for authorization, it only uses `iat`/`exp` to decide when
 * to ask the server for a new one, and the server verifies every token it receives.
 */

/** The registered time claims of a JWT payload, in seconds since the epoch (server clock). */
export interface JwtTimes {
  /** `iat` (issued at), when present and numeric. */
  iat: number | undefined
  /** `exp` (expiration time), when present and numeric. */
  exp: number | undefined
}

/**
 * Decodes the payload of a compact JWS (`header.payload.signature`) without verifying it.
 * Returns `undefined` for anything that is not one: opaque tokens, JWE (five segments), bad
 * base64url, non-JSON or non-object payloads. Never throws, so callers can feed it any string.
 */
function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  const segment = parts[1]
  if (!segment || !/^[A-Za-z0-9_-]+$/.test(segment)) return undefined
  try {
    const base64 = segment.replace(/-/g, '+').replace(/_/g, '/')
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4)
    const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0))
    // fatal: a payload that is not UTF-8 is not a JWT we should interpret.
    const json = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    const payload: unknown = JSON.parse(json)
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined
    return payload as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** Reads `iat` and `exp` (seconds) from a JWT; `undefined` when the token is not a readable JWT. */
export function readJwtTimes(token: string): JwtTimes | undefined {
  const payload = decodeJwtPayload(token)
  if (!payload) return undefined
  const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined)
  return { iat: num(payload.iat), exp: num(payload.exp) }
}
