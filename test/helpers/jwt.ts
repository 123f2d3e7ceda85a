// HS256 JWTs for token-lifetime tests: the token manager reads `iat`/`exp` (unverified).
import { SignJWT } from 'jose'

/** A JWT issued at `iatSeconds` that expires `lifetimeSeconds` later. */
export async function mintJwt(iatSeconds: number, lifetimeSeconds: number): Promise<string> {
  return new SignJWT({ sub: 'user-1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(iatSeconds)
    .setExpirationTime(iatSeconds + lifetimeSeconds)
    .sign(new TextEncoder().encode('reference-secret-for-tests-only-32b'))
}
