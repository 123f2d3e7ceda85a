/**
 * Redaction for URLs and texts that end up in error messages. Local to the transports (the
 * server entry has its own) so neither transport pulls another entry point in.
 */
import type { TransportConnectOptions } from '../core/types'

const SENSITIVE_PARAM = /token|jwt|secret|password|passwd|api[-_]?key|auth|signature|sig$|credential/i

/**
 * The URL as it may appear in an error message: sensitive query values, the token query
 * parameter and userinfo replaced by `[redacted]`, and the token itself cut out wherever it is.
 */
export function redactUrl(url: URL, options: Pick<TransportConnectOptions, 'token' | 'tokenQueryParam'>): string {
  const copy = new URL(url.toString())
  if (copy.username) copy.username = 'redacted'
  if (copy.password) copy.password = 'redacted'
  for (const name of new Set(copy.searchParams.keys())) {
    if (name === options.tokenQueryParam || SENSITIVE_PARAM.test(name)) copy.searchParams.set(name, '[redacted]')
  }
  return scrub(copy.toString().replace(/%5Bredacted%5D/g, '[redacted]'), options.token)
}

/** `text` with every occurrence of `token` (raw or URL-encoded) replaced by `[redacted]`. */
export function scrub(text: string, token: string | undefined): string {
  if (!token) return text
  return text.split(token).join('[redacted]').split(encodeURIComponent(token)).join('[redacted]')
}

