/**
 * Longest wait of streams and token managers, whatever a server asks for (`retry:`,
 * `Retry-After`) or a backoff computes: one hour. A client that waited longer would look dead.
 */
export const MAX_WAIT = 3_600_000

/** Options of the full-jitter exponential backoff used by streams and the token manager. */
export interface BackoffOptions {
  /** Cap of the first delay in ms. */
  initialDelay: number
  /** Largest cap in ms. */
  maxDelay: number
  /** Growth of the cap per attempt. */
  factor: number
}

/**
 * "Full jitter" (AWS Architecture Blog, 2015): a uniformly random delay in [0, cap), where the cap
 * grows exponentially with the attempt. Spreading clients over the whole window is what keeps a
 * fleet that lost its server at the same moment from coming back at the same moment.
 * `attempt` counts from 1. `floor` (the server's `retry:` or `Retry-After`) is added to the jitter
 * rather than taken as a minimum: with a minimum, every client whose draw fell below it would come
 * back at exactly `floor`, together. The result is capped at `MAX_WAIT`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number, floor = 0): number {
  const exponent = Math.max(0, attempt - 1)
  const cap = Math.min(options.maxDelay, options.initialDelay * options.factor ** Math.min(exponent, 64))
  return Math.min(MAX_WAIT, floor + Math.floor(random() * cap))
}
