/**
 * True outside production builds. Bundlers replace `process.env.NODE_ENV`, which lets them drop
 * dev-only checks; where nothing replaced it and `process` does not exist, we count as production.
 */
export function isDev(): boolean {
  try {
    return process.env.NODE_ENV !== 'production'
  } catch {
    return false
  }
}
