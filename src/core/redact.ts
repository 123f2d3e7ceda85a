/**
 * The one redaction policy, for the client's error messages and the server helpers' log lines:
 * which query parameters carry credentials, and how a URL is shown without them.
 */

/** Parameter names that carry credentials, matched whole or as the last word (`x-amz-signature`, `my_token`). */
const CREDENTIAL_WORDS = ['token', 'access_token', 'jwt', 'secret', 'password', 'passwd', 'apikey', 'api_key', 'auth', 'authorization', 'signature', 'sig', 'credential', 'credentials']
const CREDENTIAL_NAME = new RegExp(`(^|[-_.])(${CREDENTIAL_WORDS.join('|')})$`)

/** True when a query parameter of this name (percent-decoded, any case) carries a credential. */
export function isCredentialParam(name: string, extra: readonly string[] = []): boolean {
  const decoded = safeDecode(name).toLowerCase()
  return CREDENTIAL_NAME.test(decoded) || extra.some((other) => other.toLowerCase() === decoded)
}

/**
 * `url` (absolute, or a bare request target like `/stream?token=…`) with the values of credential
 * parameters (see {@link isCredentialParam}, plus `extra` names) replaced by `[redacted]` and any
 * userinfo (`user:pass@`) likewise; everything else is kept byte for byte.
 */
export function redactUrl(url: string | URL, extra: readonly string[] = []): string {
  return (
    String(url)
      .replace(/^([a-z][a-z\d+.-]*:\/\/)[^/?#@]*@/i, '$1[redacted]@')
      // The query: from the first `?` to the fragment, one `name=value` pair per `&`.
      .replace(/^([^?]*\?)([^#]*)/, (_, start: string, query: string) => {
        const pairs = query.split('&').map((pair) => {
          const name = pair.split('=', 1)[0]!
          return isCredentialParam(name, extra) ? `${name}=[redacted]` : pair
        })
        return start + pairs.join('&')
      })
  )
}

/** A stream URL as error messages show it: credentials redacted, and the token cut out wherever else it is. */
export function showUrl(options: { url: URL; token: string | undefined; tokenQueryParam: string }): string {
  return scrub(redactUrl(options.url, [options.tokenQueryParam]), options.token)
}

/** `text` with every occurrence of `token` (raw or URL-encoded) replaced by `[redacted]`. */
export function scrub(text: string, token: string | undefined): string {
  if (!token) return text
  return text.split(token).join('[redacted]').split(encodeURIComponent(token)).join('[redacted]')
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}
