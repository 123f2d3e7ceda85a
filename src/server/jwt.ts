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

/** The audience stream tokens are minted for and checked against unless told otherwise. */
const DEFAULT_AUDIENCE = 'sse'

/**
 * The secret as bytes. A missing or empty secret (typically an unset environment variable) is a
 * configuration error: it throws rather than letting every token read as invalid.
 */
function secretBytes(secret: SseTokenSecret, caller: string): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : ArrayBuffer.isView(secret) ? secret : undefined
  if (!bytes || bytes.byteLength === 0) throw new TypeError(`${caller}: secret must be a non-empty string or Uint8Array`)
  return bytes
}

/** Options of {@link mintSseToken}. */
export interface MintSseTokenOptions {
  /** HS256 signing secret. Required; a missing or empty secret throws a `TypeError`. */
  secret: SseTokenSecret
  /** Subject (`sub` claim): who the stream is for. */
  sub: string
  /** Lifetime in seconds; may be negative to mint an already expired token (tests). Default `60`. */
  ttlSeconds?: number
  /** Issue time in seconds since the epoch (`iat`). Default: now. */
  iat?: number
  /**
   * Audience (`aud` claim), which {@link verifySseToken} requires, so that a stream token is not
   * accepted where another token signed with the same secret is expected, nor the reverse.
   * Default `'sse'`.
   */
  audience?: string
  /** Extra claims (e.g. `channels`); `sub`, `iat`, `exp` and `aud` come from the options above. Default: none. */
  claims?: Record<string, unknown>
}

/**
 * Signs an HS256 JWT with `sub`, `aud`, `iat` and `exp`. `exp` is rounded up to a whole second, so
 * the token lives at least `ttlSeconds` (JWT times are whole seconds: rounding down could leave a
 * 1-second token almost no life).
 *
 * Throws only on configuration errors: a missing or empty `secret` (`TypeError`), or the optional
 * `jose` package not installed (`Error` saying `npm install jose`).
 */
export async function mintSseToken(options: MintSseTokenOptions): Promise<string> {
  if (options === null || typeof options !== 'object' || ArrayBuffer.isView(options)) {
    throw new TypeError('mintSseToken takes an options object: { secret, sub, ttlSeconds?, audience?, claims? }')
  }
  const key = secretBytes(options.secret, 'mintSseToken')
  const { SignJWT } = await loadJose()
  const nowSeconds = options.iat ?? Date.now() / 1000
  const ttl = options.ttlSeconds ?? 60
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setAudience(options.audience ?? DEFAULT_AUDIENCE)
    .setIssuedAt(Math.floor(nowSeconds))
    .setExpirationTime(Math.ceil(nowSeconds + ttl))
    .sign(key)
}

/** Claims of a verified stream token. */
export interface SseTokenPayload {
  sub?: string
  /** Audience; always includes the verified audience. */
  aud?: string | string[]
  iat?: number
  /** Expiry, seconds since the epoch. */
  exp?: number
  [claim: string]: unknown
}

/**
 * Why a token was rejected. `wrong-audience`: no `aud` claim, or not the expected one (e.g. a
 * session token signed with the same secret). `invalid-claims`: `nbf`, `iss` or another claim did
 * not validate.
 */
export type SseTokenFailure = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'wrong-audience' | 'invalid-claims'

export type VerifySseTokenResult = { ok: true; payload: SseTokenPayload } | { ok: false; reason: SseTokenFailure }

/** Options of {@link verifySseToken}. */
export interface VerifySseTokenOptions {
  /**
   * HS256 secret. Required in the options form `verifySseToken(token, { secret })`; absent in the
   * deprecated positional form `verifySseToken(token, secret, options)`.
   */
  secret?: SseTokenSecret
  /** Accepted clock skew in seconds. Default `0`. */
  clockToleranceSeconds?: number
  /** Required `aud`: a token without it fails with `wrong-audience`. Default `'sse'` (what {@link mintSseToken} sets). */
  audience?: string
  /** Expected `iss`. Default: not checked. */
  issuer?: string
  /** Current time for the checks. Default: now. */
  currentDate?: Date
}

/** JWT compact serialisation: three base64url segments; longer than any sane stream token is rejected up front. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const MAX_TOKEN_LENGTH = 8192

let warnedPositional = false

/**
 * The secret and options of either form. The positional form let a swapped token and secret read
 * as `malformed` for every request, with no configuration error: the options form names the
 * secret.
 */
function verifyArguments(second: unknown, third: unknown): { key: Uint8Array; options: VerifySseTokenOptions } {
  if (typeof second === 'string' || ArrayBuffer.isView(second)) {
    if (third !== undefined && (third === null || typeof third !== 'object')) {
      throw new TypeError('verifySseToken: options must be an object, e.g. verifySseToken(token, { secret, audience })')
    }
    if (!warnedPositional && process.env.NODE_ENV !== 'production') {
      warnedPositional = true
      console.warn('[use-event-stream] verifySseToken(token, secret, options) is deprecated and will be removed in the next release: use verifySseToken(token, { secret, ...options })')
    }
    return { key: secretBytes(second as SseTokenSecret, 'verifySseToken'), options: (third ?? {}) as VerifySseTokenOptions }
  }
  if (second === null || typeof second !== 'object') throw new TypeError('verifySseToken: pass { secret, ...options } as the second argument')
  if (third !== undefined) throw new TypeError('verifySseToken: with options as the second argument there is no third one')
  const options = second as VerifySseTokenOptions
  return { key: secretBytes(options.secret as SseTokenSecret, 'verifySseToken'), options }
}

/**
 * Verifies an HS256 token: only HS256 is accepted, `exp` is required, and so is the audience
 * (`aud`, default `'sse'`). Every problem with the token is a `{ ok: false, reason }` result; the
 * signature is checked before the claims, so a forged expired token reads as `bad-signature`.
 *
 * Throws only on configuration errors, never because of the token: a missing or empty `secret`,
 * or anything but an options object as the second argument (`TypeError`), or the optional `jose`
 * package not installed (`Error` saying `npm install jose`; absent and malformed tokens are
 * answered before `jose` is needed).
 *
 * @example
 * const verified = await verifySseToken(readSseToken(request), { secret: process.env.SSE_SECRET! })
 */
export async function verifySseToken(token: string | undefined | null, options: VerifySseTokenOptions & { secret: SseTokenSecret }): Promise<VerifySseTokenResult>
/** @deprecated Use `verifySseToken(token, { secret, ...options })`; this form goes in the next release. */
export async function verifySseToken(token: string | undefined | null, secret: SseTokenSecret, options?: VerifySseTokenOptions): Promise<VerifySseTokenResult>
export async function verifySseToken(token: string | undefined | null, second: unknown, third?: unknown): Promise<VerifySseTokenResult> {
  const { key, options } = verifyArguments(second, third)
  if (!token) return { ok: false, reason: 'missing' }
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' }
  const jose = await loadJose()
  try {
    const { payload } = await jose.jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      clockTolerance: options.clockToleranceSeconds ?? 0,
      audience: options.audience ?? DEFAULT_AUDIENCE,
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
        return { ok: false, reason: (error as { claim?: unknown }).claim === 'aud' ? 'wrong-audience' : 'invalid-claims' }
      default:
        return { ok: false, reason: 'malformed' }
    }
  }
}
