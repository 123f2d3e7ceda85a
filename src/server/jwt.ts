/**
 * Minting and verifying short-lived HS256 stream tokens with `jose`. `jose` is imported lazily on
 * first use, so the rest of `use-event-stream/server` works without it installed.
 */
type Jose = typeof import('jose')

let josePromise: Promise<Jose> | undefined
function loadJose(): Promise<Jose> {
  josePromise ??= import('jose').catch((error: unknown) => {
    josePromise = undefined
    throw new Error('mintSseToken/verifySseToken need the "jose" package: npm install jose', { cause: error })
  })
  return josePromise
}

/** An HS256 secret: a string (UTF-8 encoded) or raw bytes. Use at least 32 random bytes. */
export type SseTokenSecret = string | Uint8Array

function secretBytes(secret: SseTokenSecret): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
}

/** Options of {@link mintSseToken}. */
export interface MintSseTokenOptions {
  secret: SseTokenSecret
  /** Subject (`sub` claim): who the stream is for. */
  sub: string
  /** Lifetime in seconds; may be negative to mint an already expired token (tests). Default `60`. */
  ttlSeconds?: number
  /** Issue time in seconds since the epoch (`iat`). Default: now. */
  iat?: number
  /** Extra claims (e.g. `aud`, `channels`). Default: none. */
  claims?: Record<string, unknown>
}

/**
 * Signs an HS256 JWT with `sub`, `iat` and `exp`. `exp` is rounded up to a whole second, so the
 * token lives at least `ttlSeconds` (JWT times are whole seconds: rounding down could leave a
 * 1-second token almost no life).
 */
export async function mintSseToken(options: MintSseTokenOptions): Promise<string> {
  const { SignJWT } = await loadJose()
  const nowSeconds = options.iat ?? Date.now() / 1000
  const ttl = options.ttlSeconds ?? 60
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt(Math.floor(nowSeconds))
    .setExpirationTime(Math.ceil(nowSeconds + ttl))
    .sign(secretBytes(options.secret))
}

/** Claims of a verified stream token. */
export interface SseTokenPayload {
  sub?: string
  iat?: number
  /** Expiry, seconds since the epoch. */
  exp?: number
  [claim: string]: unknown
}

/** Why a token was rejected. `invalid-claims`: `nbf`, `aud`, `iss` or a required claim did not validate. */
export type SseTokenFailure = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'invalid-claims'

export type VerifySseTokenResult = { ok: true; payload: SseTokenPayload } | { ok: false; reason: SseTokenFailure }

/** Options of {@link verifySseToken}. */
export interface VerifySseTokenOptions {
  /** Accepted clock skew in seconds. Default `0`. */
  clockToleranceSeconds?: number
  /** Expected `aud`. Default: not checked. */
  audience?: string
  /** Expected `iss`. Default: not checked. */
  issuer?: string
  /** Current time for the checks. Default: now. */
  currentDate?: Date
}

/** JWT compact serialisation: three base64url segments; longer than any sane stream token is rejected up front. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const MAX_TOKEN_LENGTH = 8192

/**
 * Verifies an HS256 token (only HS256 is accepted, and `exp` is required). Never throws: returns
 * `{ ok: false, reason }`. The signature is checked before the expiry, so a forged expired token
 * reads as `bad-signature`.
 */
export async function verifySseToken(
  token: string | undefined | null,
  secret: SseTokenSecret,
  options: VerifySseTokenOptions = {},
): Promise<VerifySseTokenResult> {
  if (!token) return { ok: false, reason: 'missing' }
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' }
  const jose = await loadJose()
  try {
    const { payload } = await jose.jwtVerify(token, secretBytes(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      clockTolerance: options.clockToleranceSeconds ?? 0,
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
      ...(options.currentDate !== undefined ? { currentDate: options.currentDate } : {}),
    })
    return { ok: true, payload: payload as SseTokenPayload }
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return { ok: false, reason: 'expired' }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return { ok: false, reason: 'bad-signature' }
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        return { ok: false, reason: 'invalid-claims' }
      default:
        return { ok: false, reason: 'malformed' }
    }
  }
}
