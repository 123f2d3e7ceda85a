// Shared by the fetch transport (stream answers) and fetchTokenFrom (token endpoint answers).

/**
 * `Retry-After` in ms: delta-seconds or an HTTP date (relative to `now`, never negative);
 * `undefined` when absent or unparseable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^[0-9]+$/.test(trimmed)) return Number.parseInt(trimmed, 10) * 1000
  // Only real HTTP dates (IMF-fixdate and the obsolete forms all contain a letter month):
  // Date.parse would also read bare numbers like "1.5" as dates.
  if (!/[a-z]/i.test(trimmed)) return undefined
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
